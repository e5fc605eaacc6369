"""The case-review page: FastAPI, server-rendered Jinja2 templates, plain forms.

The page is assembled from its areas (:data:`AREAS`), one router each in ``casework/routes``.
Every route names the roles it serves and is checked on the server (:data:`ROUTE_ROLES` is the
table the tests walk); every form carries the session's CSRF token; every response carries secure
headers. Cases viewed or changed, logins, failed logins and refused requests go to the access log. The panel sees
cases under pseudonyms only: no subject reference, records, or address.

To add an area: write ``casework/routes/<area>.py`` holding ``area = Area("<name>")`` and its
routes (``@area.route(method, path, roles=...)``), and add it to :data:`AREAS`.

``counterfraud app`` serves :func:`create_app` with Uvicorn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from casework import store
from casework.auth import Sessions, SignInThrottle
from casework.disclosure import CONTROL_TEXT
from casework.routes import admin, case, health, panel, signin, signoff, worklist
from casework.routes.signoff import SignOffDesk
from casework.search import QUERY_LIMIT
from casework.web import HERE, Area, SignInNeeded, Site, site_of
from casework.workflow import OUTCOMES, STATUSES
from configs.settings import CaseStoreSettings
from features.definitions import feature_label

logger = logging.getLogger(__name__)

AREAS: tuple[Area, ...] = (signin.area, worklist.area, case.area, panel.area, signoff.area, admin.area,
                           health.area)
"""The areas of the page, in the order their routes are matched."""
ROUTE_ROLES: dict[tuple[str, str], tuple[str, ...]] = {
    route: roles for area in AREAS for route, roles in area.roles.items()}
"""The roles each route serves; any other signed-in role gets 403."""
PUBLIC_ROUTES = {route for area in AREAS for route in area.public}
"""Routes open without signing in (the start and sign-in pages)."""
SECURE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(engine: Engine, settings: CaseStoreSettings, signoff_desk: SignOffDesk | None = None) -> FastAPI:
    """The case-review application on the store behind ``engine``; the panel signs off versions of
    ``signoff_desk``'s model there (without one, the sign-off page says how to start it with one)."""
    app = FastAPI(title="Counterfraud case review", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(statuses=STATUSES, outcomes=OUTCOMES, control_text=CONTROL_TEXT,
                                 closing_note_limit=store.CLOSING_NOTE_LIMIT, case_note_limit=store.CASE_NOTE_LIMIT,
                                 written_fields=store.WRITTEN_FIELDS,
                                 search_query_limit=QUERY_LIMIT)
    templates.env.filters["words"] = lambda text: (text or "").replace("_", " ")
    templates.env.filters["feature"] = feature_label
    with Session(engine) as session:
        sessions = Sessions(store.store_secret(session), settings.session_hours * 3600,
                            settings.session_idle_minutes * 60)
    throttle = SignInThrottle(settings.sign_in_free_failures, settings.sign_in_lock_after)
    app.state.site = Site(engine, settings, templates, sessions, throttle, ROUTE_ROLES)
    app.state.signoff = signoff_desk
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for area in AREAS:
        app.include_router(area.router)

    @app.middleware("http")
    async def secure_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        # a response's own policy stands (the panel's report: its inline styles, no scripts)
        for name, value in SECURE_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(SignInNeeded)
    async def sign_in(request: Request, _error: SignInNeeded) -> Response:
        return signin.sign_in_redirect(request)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: HTTPException) -> Response:
        title = {403: "Not allowed", 404: "Not found"}.get(error.status_code, "Error")
        return site_of(request).page(request, "message.html", None, status=error.status_code, title=title,
                                     message=error.detail)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> Response:
        # a page, not FastAPI's JSON: a mistyped or edited address (page_number=abc) reads as one
        problem = error.errors()[0]
        return site_of(request).page(
            request, "message.html", None, status=400, title="Bad request",
            message=f"The {problem['loc'][-1]} in this address is not valid ({problem['msg'].lower()}): "
                    "use the page's own links and forms.")

    async def store_unreachable(request: Request, error: OperationalError | InterfaceError) -> Response:
        # one line, naming the failure and never the statement or its parameters (case contents)
        reason = str(error.orig).strip().splitlines()[0][:200] if error.orig is not None else ""
        logger.error("case store unreachable on %s %s: %s %s", request.method, request.url.path,
                     type(error.orig or error).__name__, reason)
        response = site_of(request).page(
            request, "message.html", None, status=503, title="Case store unreachable",
            message="The case store cannot be reached just now. Nothing you did was lost that the page had "
                    "confirmed; wait a minute and try again.")
        response.headers["Retry-After"] = "30"
        return response

    for unreachable in (OperationalError, InterfaceError):
        app.add_exception_handler(unreachable, store_unreachable)

    _check_every_route_names_its_roles(app)
    return app


def _check_every_route_names_its_roles(app: FastAPI) -> None:
    """Each route is in :data:`ROUTE_ROLES` or declared public: none was added outside an area."""
    undeclared = sorted((method, route.path) for route in app.routes if isinstance(route, APIRoute)
                        for method in route.methods
                        if (method, route.path) not in ROUTE_ROLES.keys() | PUBLIC_ROUTES)
    if undeclared:
        raise RuntimeError(f"routes that name no roles: {undeclared}")
