"""Sign-in and sign-out, and the start page that sends each role to its home."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from casework import audit
from casework.auth import authenticate, csrf_matches
from casework.store import User, now
from casework.web import LOGIN_COOKIE, SESSION_COOKIE, Area, site_of
from casework.workflow import ADMIN, INVESTIGATOR, PANEL, SUPERVISOR

area = Area("sign-in")
HOME = {INVESTIGATOR: "/cases", SUPERVISOR: "/cases", PANEL: "/panel", ADMIN: "/admin/users"}


@area.route("GET", "/", roles=None)
def home(request: Request) -> Response:
    site = site_of(request)
    with Session(site.engine) as session, session.begin():
        live = site.sessions.current(session, request.cookies.get(SESSION_COOKIE))
        user = session.get(User, live.user_name) if live is not None and live.user_name else None
        target = HOME[user.role] if user and user.active else "/login"
    return RedirectResponse(target, status_code=303)


def _sign_in_page(request: Request, next_page: str, error: str | None = None,
                  status: int = 200) -> Response:
    """The sign-in form, with a fresh form session (each try needs a new one)."""
    site = site_of(request)
    with Session(site.engine) as session, session.begin():
        cookie, csrf = site.sessions.open(session, None)
    response = site.page(request, "login.html", None, status=status, csrf=csrf, next=next_page, error=error)
    site.set_cookie(response, LOGIN_COOKIE, cookie)
    return response


@area.route("GET", "/login", roles=None)
def login_form(request: Request, next: str = "/") -> Response:
    return _sign_in_page(request, next)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@area.route("POST", "/login", roles=None)
async def login(request: Request) -> Response:
    site = site_of(request)
    form = await request.form()
    name, password = str(form.get("username", ""))[:64], str(form.get("password", ""))
    address = client_address(request)
    next_page = str(form.get("next", "/"))
    with Session(site.engine) as session, session.begin():
        if not site.sessions.use_sign_in_form(session, request.cookies.get(LOGIN_COOKIE), form.get("csrf_token")):
            refused, status = "The sign-in form has expired: sign in again.", 403
        elif refused := site.throttle.refusal(session, name, address):
            status = 429
        elif user := authenticate(session, name, password):
            site.throttle.succeeded(session, name)
            user.last_sign_in_at = now()
            cookie, _ = site.sessions.open(session, user.name)
            audit.record(session, name, "login", "", address)
        else:
            status = 401
            refused = "Unknown account or wrong password."
            if site.throttle.failed(session, name, address):
                refused += " The account is now locked: a supervisor or an administrator can unlock it."
        if refused:
            audit.record(session, name, "login refused", "", f"{address}: {refused}")
    if refused:
        return _sign_in_page(request, next_page, refused, status)
    target = str(form.get("next") or "/")
    response = RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/",
                                status_code=303)
    site.set_cookie(response, SESSION_COOKIE, cookie)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@area.route("POST", "/logout", roles=None)
async def logout(request: Request) -> Response:
    site = site_of(request)
    form = await request.form()
    with Session(site.engine) as session, session.begin():
        live = site.sessions.current(session, request.cookies.get(SESSION_COOKIE))
        if live is not None and live.user_name and csrf_matches(live.csrf, form.get("csrf_token")):
            site.sessions.end(session, request.cookies.get(SESSION_COOKIE))
            audit.record(session, live.user_name, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def sign_in_redirect(request: Request) -> Response:
    """Where a request without a valid session goes: the sign-in page, or a 401 page for a post."""
    if request.method == "GET":
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
    return site_of(request).page(request, "message.html", None, status=401, title="Signed out",
                                 message="Your session has ended: sign in again.")
