"""What every area of the case-review page shares: the site, the signed-in viewer, forms and pages.

An area (sign-in, work list, case, panel, admin, …) is an :class:`Area`: a FastAPI router whose
every route names the roles it serves. :func:`signed_in` is the dependency that reads the session
and refuses any other role with 403, so a route cannot be added without saying who may open it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from casework import audit
from casework.auth import Sessions, SignInThrottle, csrf_matches
from casework.store import User
from casework.workflow import PANEL
from configs.settings import CaseStoreSettings

HERE = Path(__file__).parent
SESSION_COOKIE = "cf_session"
LOGIN_COOKIE = "cf_login"
SELF_CONTAINED_PAGE_HEADERS = {
    # a report or drift page is one self-contained file: its own styles and data: images, nothing else, no scripts
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                               "frame-ancestors 'none'; form-action 'none'",
}


class SignInNeeded(Exception):
    """No valid session: send the browser to the sign-in page."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in account of a request."""

    name: str
    role: str
    csrf: str

    @property
    def pseudonymous(self) -> bool:
        return self.role == PANEL


@dataclass
class Site:
    """The store, settings, templates and session cookies of one application."""

    engine: Engine
    settings: CaseStoreSettings
    templates: Jinja2Templates
    sessions: Sessions
    throttle: SignInThrottle
    route_roles: dict[tuple[str, str], tuple[str, ...]]

    def page(self, request: Request, name: str, viewer: Viewer | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        """The template ``name`` rendered for ``viewer``."""
        return self.templates.TemplateResponse(request, name, {"viewer": viewer, **context}, status_code=status)

    def set_cookie(self, response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="strict", secure=self.settings.secure_cookies,
                            max_age=int(self.settings.session_hours * 3600))


def site_of(request: Request) -> Site:
    return request.app.state.site


def signed_in(request: Request) -> Viewer:
    """The request's viewer, if the route serves their role (dependency of every non-public route)."""
    site = site_of(request)
    with Session(site.engine) as session, session.begin():
        live = site.sessions.current(session, request.cookies.get(SESSION_COOKIE))
        user = session.get(User, live.user_name) if live is not None and live.user_name else None
        viewer = Viewer(user.name, user.role, live.csrf) if user is not None and user.active else None
    if viewer is None:
        raise SignInNeeded()
    if viewer.role not in site.route_roles[(request.method, request.scope["route"].path)]:
        refused(request, viewer, f"the {viewer.role} role cannot open this page")
        raise HTTPException(403, f"The {viewer.role} role cannot open this page.")
    return viewer


def refused(request: Request, viewer: Viewer, why: str) -> None:
    """Record in the access log that ``viewer`` was refused this request, and why."""
    with Session(site_of(request).engine) as session, session.begin():
        audit.record(session, viewer.name, "refused", f"{request.method} {request.url.path}", why)


SignedIn = Annotated[Viewer, Depends(signed_in)]
"""A handler's parameter for the viewer :func:`signed_in` let in."""


async def checked_form(request: Request, viewer: Viewer) -> dict[str, Any]:
    """The posted form, refused with 403 unless it carries the viewer's session token."""
    form = await request.form()
    if not csrf_matches(viewer.csrf, form.get("csrf_token")):
        refused(request, viewer, "the form did not carry the session's token")
        raise HTTPException(403, "This form has expired or did not come from this site: reload the page.")
    return {key: form.getlist(key) if key == "case_id" else form.get(key) for key in form}


class Area:
    """One area of the page: a router and the roles each of its routes serves.

    :meth:`route` registers a handler; unless the route is public (``roles=None``) it runs only
    after :func:`signed_in` let the viewer in, and a handler takes that viewer as a parameter
    ``viewer: SignedIn`` (FastAPI runs the dependency once per request).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.router = APIRouter()
        self.roles: dict[tuple[str, str], tuple[str, ...]] = {}
        self.public: set[tuple[str, str]] = set()

    def route(self, method: str, path: str, roles: tuple[str, ...] | None) -> Callable[[Callable], Callable]:
        def register(handler: Callable) -> Callable:
            if roles is None:
                self.public.add((method, path))
            else:
                self.roles[(method, path)] = tuple(roles)
            self.router.add_api_route(path, handler, methods=[method], response_model=None,
                                      dependencies=[] if roles is None else [Depends(signed_in)])
            return handler
        return register
