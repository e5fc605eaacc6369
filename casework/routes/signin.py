"""Sign-in and sign-out, and the start page that sends each role to its home."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from casework import audit
from casework.auth import authenticate, csrf_matches
from casework.store import User
from casework.web import LOGIN_COOKIE, SESSION_COOKIE, Area, site_of
from casework.workflow import ADMIN, INVESTIGATOR, PANEL, SUPERVISOR

area = Area("sign-in")
HOME = {INVESTIGATOR: "/cases", SUPERVISOR: "/cases", PANEL: "/panel", ADMIN: "/admin/users"}


@area.route("GET", "/", roles=None)
def home(request: Request) -> Response:
    site = site_of(request)
    data = site.cookies.read(request.cookies.get(SESSION_COOKIE))
    with Session(site.engine) as session:
        user = session.get(User, data["user"]) if data and data.get("user") else None
    return RedirectResponse(HOME[user.role] if user else "/login", status_code=303)


def _sign_in_page(request: Request, next_page: str, error: str | None = None,
                  status: int = 200) -> Response:
    site = site_of(request)
    token = site.cookies.issue_anonymous()
    response = site.page(request, "login.html", None, status=status, csrf=site.cookies.read(token)["csrf"],
                         next=next_page, error=error)
    site.set_cookie(response, LOGIN_COOKIE, token)
    return response


@area.route("GET", "/login", roles=None)
def login_form(request: Request, next: str = "/") -> Response:
    return _sign_in_page(request, next)


@area.route("POST", "/login", roles=None)
async def login(request: Request) -> Response:
    site = site_of(request)
    form = await request.form()
    if not csrf_matches(site.cookies.read(request.cookies.get(LOGIN_COOKIE)), form.get("csrf_token")):
        raise HTTPException(403, "The sign-in form has expired: reload the page.")
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    with Session(site.engine) as session, session.begin():
        user = authenticate(session, name, password)
        audit.record(session, name, "login" if user else "login refused", "", "")
        role = user.role if user else None
    if role is None:
        return _sign_in_page(request, str(form.get("next", "/")), "Unknown account or wrong password.", 401)
    target = str(form.get("next") or "/")
    response = RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/",
                                status_code=303)
    site.set_cookie(response, SESSION_COOKIE, site.cookies.issue(name))
    response.delete_cookie(LOGIN_COOKIE)
    return response


@area.route("POST", "/logout", roles=None)
async def logout(request: Request) -> Response:
    site = site_of(request)
    data = site.cookies.read(request.cookies.get(SESSION_COOKIE))
    form = await request.form()
    if data and csrf_matches(data, form.get("csrf_token")):
        with Session(site.engine) as session, session.begin():
            audit.record(session, data["user"], "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def sign_in_redirect(request: Request) -> Response:
    """Where a request without a valid session goes: the sign-in page, or a 401 page for a post."""
    if request.method == "GET":
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
    return site_of(request).page(request, "message.html", None, status=401, title="Signed out",
                                 message="Your session has ended: sign in again.")
