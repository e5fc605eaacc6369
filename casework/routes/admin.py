"""Administration: accounts and the access log."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from casework import audit
from casework.auth import accounts, add_user, locked_accounts, unlock
from casework.notices import notice_query, shown_notice
from casework.store import CaseworkError
from casework.web import Area, SignedIn, checked_form, site_of
from casework.workflow import ADMIN, ROLES, SUPERVISOR

area = Area("admin")


@area.route("GET", "/admin/users", roles=(ADMIN,))
def users(request: Request, viewer: SignedIn) -> Response:
    site = site_of(request)
    with Session(site.engine) as session:
        people, locked = accounts(session), set(locked_accounts(session))
        notice = shown_notice(session, request.query_params)
    return site.page(request, "users.html", viewer, people=people, roles=ROLES, notice=notice, error=None,
                     locked=locked)


@area.route("POST", "/admin/users", roles=(ADMIN,))
async def create_user(request: Request, viewer: SignedIn) -> Response:
    site = site_of(request)
    form = await checked_form(request, viewer)
    name, role = str(form.get("name") or ""), str(form.get("role") or "")
    try:
        with Session(site.engine) as session, session.begin():
            add_user(session, name, role, str(form.get("password") or ""))
            audit.record(session, viewer.name, "add account", name, role)
    except CaseworkError as error:
        with Session(site.engine) as session, session.begin():
            audit.record(session, viewer.name, "add account refused", name, str(error))
        with Session(site.engine) as session:
            people, locked = accounts(session), set(locked_accounts(session))
        return site.page(request, "users.html", viewer, status=409, people=people, roles=ROLES, notice="",
                         error=str(error), locked=locked)
    return RedirectResponse("/admin/users?" + notice_query("account_added", account=name), status_code=303)


@area.route("POST", "/accounts/{name}/unlock", roles=(SUPERVISOR, ADMIN))
async def unlock_account(request: Request, viewer: SignedIn, name: str) -> Response:
    site = site_of(request)
    await checked_form(request, viewer)
    back = "/admin/users" if viewer.role == ADMIN else "/cases"
    try:
        with Session(site.engine) as session, session.begin():
            unlock(session, name)
            audit.record(session, viewer.name, "unlock account", name)
    except CaseworkError as error:
        with Session(site.engine) as session, session.begin():
            audit.record(session, viewer.name, "unlock account refused", name, str(error))
        return RedirectResponse(f"{back}?" + notice_query("no_such_account"), status_code=303)
    return RedirectResponse(f"{back}?" + notice_query("account_unlocked", account=name), status_code=303)


@area.route("GET", "/admin/log", roles=(ADMIN,))
def access_log(request: Request, viewer: SignedIn) -> Response:
    site = site_of(request)
    with Session(site.engine) as session:
        entries = audit.recent_entries(session)
        check = audit.verify(session)
    return site.page(request, "log.html", viewer, entries=entries, check=check)
