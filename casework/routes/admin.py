"""Administration: accounts (add, disable, re-enable, delete, reset a password, change a role) and the access log.

The rules of each change are :mod:`casework.auth`'s; a change refused is logged as ``"<action>
refused"`` with the reason, and the page shows the reason.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from casework import audit
from casework.auth import (
    accounts,
    add_user,
    change_role,
    delete_account,
    disable_account,
    enable_account,
    locked_accounts,
    open_cases_by_assignee,
    reset_password,
    unlock,
)
from casework.notices import notice_query, shown_notice
from casework.store import CaseworkError, User
from casework.web import Area, SignedIn, Viewer, checked_form, site_of
from casework.workflow import ADMIN, ROLES, SUPERVISOR
from features.csv_output import write_csv

area = Area("admin")
LOG_PAGE_SIZE = 200
MAX_PAGE = 10**9
"""Page numbers above this are read as it: the offset stays a 64-bit integer in every database."""


def _accounts_page(request: Request, viewer: Viewer, status: int = 200, notice: str = "",
                   error: str | None = None) -> Response:
    site = site_of(request)
    with Session(site.engine) as session:
        people, locked = accounts(session, include_inactive=True), set(locked_accounts(session))
        held = open_cases_by_assignee(session)
    return site.page(request, "users.html", viewer, status=status, people=people, roles=ROLES, notice=notice,
                     error=error, locked=locked, held=held)


@area.route("GET", "/admin/users", roles=(ADMIN,))
def users(request: Request, viewer: SignedIn) -> Response:
    with Session(site_of(request).engine) as session:
        notice = shown_notice(session, request.query_params)
    return _accounts_page(request, viewer, notice=notice)


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
        return _accounts_page(request, viewer, status=409, error=str(error))
    return RedirectResponse("/admin/users?" + notice_query("account_added", account=name), status_code=303)


def _account_page(request: Request, viewer: Viewer, name: str, status: int = 200, notice: str = "",
                  error: str | None = None) -> Response:
    site = site_of(request)
    with Session(site.engine) as session:
        person = session.get(User, name)
        if person is None:
            return site.page(request, "message.html", viewer, status=404, title="No such account",
                             message=f"There is no account {name!r}.")
        locked = name in locked_accounts(session)
        held = open_cases_by_assignee(session).get(name, 0)
    return site.page(request, "account.html", viewer, status=status, person=person, roles=ROLES, notice=notice,
                     error=error, locked=locked, held=held)


@area.route("GET", "/admin/users/{name}", roles=(ADMIN,))
def account(request: Request, viewer: SignedIn, name: str) -> Response:
    with Session(site_of(request).engine) as session:
        notice = shown_notice(session, request.query_params)
    return _account_page(request, viewer, name, notice=notice)


async def _change(request: Request, viewer: Viewer, name: str, action: str,
                  change: Callable[[Session, dict], tuple[str, dict]]) -> Response:
    """Make one change to account ``name``, logged as ``action`` (or ``action refused``, and shown, with why).

    ``change`` makes it in the store's transaction and answers the notice to show and its fields.
    """
    site = site_of(request)
    form = await checked_form(request, viewer)
    try:
        with Session(site.engine) as session, session.begin():
            notice, fields = change(session, form)
            audit.record(session, viewer.name, action, name, fields.get("detail", ""))
    except CaseworkError as error:
        with Session(site.engine) as session, session.begin():
            audit.record(session, viewer.name, f"{action} refused", name, str(error))
        return _account_page(request, viewer, name, status=409, error=str(error))
    fields.pop("detail", None)
    return RedirectResponse(f"/admin/users/{name}?" + notice_query(notice, account=name, **fields), status_code=303)


def _sessions_ended(count: int) -> dict:
    """The notice fields of a change that ended ``count`` of the account's sessions."""
    return {"count": count, "detail": f"{count} session(s) ended"}


@area.route("POST", "/admin/users/{name}/disable", roles=(ADMIN,))
async def disable(request: Request, viewer: SignedIn, name: str) -> Response:
    def change(session: Session, _form: dict) -> tuple[str, dict]:
        ended = disable_account(session, viewer.name, name)
        return "account_disabled", _sessions_ended(ended)
    return await _change(request, viewer, name, "disable account", change)


@area.route("POST", "/admin/users/{name}/enable", roles=(ADMIN,))
async def enable(request: Request, viewer: SignedIn, name: str) -> Response:
    def change(session: Session, _form: dict) -> tuple[str, dict]:
        enable_account(session, viewer.name, name)
        return "account_enabled", {}
    return await _change(request, viewer, name, "enable account", change)


@area.route("POST", "/admin/users/{name}/delete", roles=(ADMIN,))
async def delete(request: Request, viewer: SignedIn, name: str) -> Response:
    def change(session: Session, form: dict) -> tuple[str, dict]:
        if form.get("confirm") != name:
            raise CaseworkError(f"type the account's name, {name}, to confirm that it is to be deleted")
        ended = delete_account(session, viewer.name, name)
        return "account_deleted", _sessions_ended(ended)
    return await _change(request, viewer, name, "delete account", change)


@area.route("POST", "/admin/users/{name}/password", roles=(ADMIN,))
async def new_password(request: Request, viewer: SignedIn, name: str) -> Response:
    def change(session: Session, form: dict) -> tuple[str, dict]:
        ended = reset_password(session, viewer.name, name, str(form.get("password") or ""))
        return "password_reset", _sessions_ended(ended)
    return await _change(request, viewer, name, "reset password", change)


@area.route("POST", "/admin/users/{name}/role", roles=(ADMIN,))
async def new_role(request: Request, viewer: SignedIn, name: str) -> Response:
    def change(session: Session, form: dict) -> tuple[str, dict]:
        role = str(form.get("role") or "")
        before = session.get(User, name)
        old = before.role if before is not None else ""
        change_role(session, viewer.name, name, role)
        return "role_changed", {"role": role, "detail": f"{old} to {role}"}
    return await _change(request, viewer, name, "change role", change)


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


def _day(text: str, name: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CaseworkError(f"the {name} date {text[:20]!r} is not a date (YYYY-MM-DD)") from None


def _log_filter(actor: str, action: str, outcome: str, since: str, until: str, words: str) -> audit.LogFilter:
    """The filter a log page's query asks for; :class:`CaseworkError` naming a field that is not valid."""
    return audit.LogFilter(actor=actor[:64], action=action[:32], outcome=outcome, since=_day(since, "from"),
                           until=_day(until, "to"), words=words[:200])


@area.route("GET", "/admin/log", roles=(ADMIN,))
def access_log(request: Request, viewer: SignedIn, actor: str = "", action: str = "", outcome: str = "",
               since: str = "", until: str = "", words: str = "", page_number: int = 1) -> Response:
    site = site_of(request)
    page_number = min(max(page_number, 1), MAX_PAGE)
    error, log_filter = None, audit.LogFilter()
    try:
        log_filter = _log_filter(actor, action, outcome, since, until, words)
    except CaseworkError as refused:
        error = str(refused)
    with Session(site.engine) as session:
        entries, total = audit.find_entries(session, log_filter, page_number, LOG_PAGE_SIZE)
        pages = max(1, -(-total // LOG_PAGE_SIZE))
        if page_number > pages:
            page_number = pages
            entries, total = audit.find_entries(session, log_filter, page_number, LOG_PAGE_SIZE)
        check = audit.verify(session)
        choices = audit.log_choices(session)
    return site.page(request, "log.html", viewer, status=400 if error else 200, entries=entries, check=check,
                     total=total, page_number=page_number, pages=pages, log_filter=log_filter, choices=choices,
                     outcomes=audit.OUTCOMES, query=log_filter.query(), error=error,
                     form={"actor": actor, "action": action, "outcome": outcome, "since": since, "until": until,
                           "words": words})


@area.route("GET", "/admin/log.csv", roles=(ADMIN,))
def access_log_csv(request: Request, viewer: SignedIn, actor: str = "", action: str = "", outcome: str = "",
                   since: str = "", until: str = "", words: str = "") -> Response:
    """The entries the filter keeps, oldest first, as CSV written by the project's one CSV writer."""
    site = site_of(request)
    try:
        log_filter = _log_filter(actor, action, outcome, since, until, words)
    except CaseworkError as refused:
        with Session(site.engine) as session, session.begin():
            audit.record(session, viewer.name, "export access log refused", "", str(refused))
        return site.page(request, "message.html", viewer, status=400, title="Bad request", message=str(refused))
    with Session(site.engine) as session, session.begin():
        rows = list(audit.filtered_entries(session, log_filter))
        # logged in the export's own transaction: the export does not contain its own entry
        audit.record(session, viewer.name, "export access log", log_filter.describe(), f"{len(rows)} rows")
    with tempfile.TemporaryDirectory() as staging:
        # text a spreadsheet would run as a formula (a typed account name, a detail) is made inert
        body = write_csv(pd.DataFrame(rows, columns=list(audit.EXPORT_COLUMNS)),
                         Path(staging) / "access_log.csv").read_bytes()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="access_log_{stamp}.csv"'})
