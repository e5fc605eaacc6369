"""The case-review page: FastAPI, server-rendered Jinja2 templates, plain forms.

Every route names the roles it serves and checks them on the server (:data:`ROUTE_ROLES` is the
table the tests walk); every form carries the session's CSRF token; every response carries secure
headers. Cases viewed or changed, logins and failed logins go to the access log. The panel sees
cases under pseudonyms only: no subject reference, records, or address.

``counterfraud app`` serves :func:`create_app` with Uvicorn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from casework import audit, store
from casework.auth import (
    ADMIN,
    CASEWORKERS,
    INVESTIGATOR,
    PANEL,
    ROLES,
    SUPERVISOR,
    SessionCookies,
    accounts,
    add_user,
    authenticate,
    csrf_matches,
)
from casework.charts import monthly_bars, waterfall
from casework.store import OUTCOMES, STATUSES, Case, CaseFilter, CaseworkError, User
from configs.settings import CaseStoreSettings
from features.definitions import feature_label
from models.explain import REASON_SEPARATOR

HERE = Path(__file__).parent
SESSION_COOKIE = "cf_session"
LOGIN_COOKIE = "cf_login"
PAGE_SIZE = 50
CONTROL_TEXT = "Selected at random for a quality check"
SECURE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
ROUTE_ROLES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/cases"): (*CASEWORKERS, PANEL),
    ("GET", "/cases/{case_id}"): (*CASEWORKERS, PANEL),
    ("POST", "/cases/claim-next"): CASEWORKERS,
    ("POST", "/cases/bulk-assign"): (SUPERVISOR,),
    ("POST", "/cases/{case_id}/assign"): CASEWORKERS,
    ("POST", "/cases/{case_id}/start"): CASEWORKERS,
    ("POST", "/cases/{case_id}/close"): CASEWORKERS,
    ("POST", "/cases/{case_id}/reopen"): (SUPERVISOR,),
    ("GET", "/panel"): (PANEL, SUPERVISOR),
    ("GET", "/admin/users"): (ADMIN,),
    ("POST", "/admin/users"): (ADMIN,),
    ("GET", "/admin/log"): (ADMIN,),
}
"""The roles each route serves; any other signed-in role gets 403."""
HOME = {INVESTIGATOR: "/cases", SUPERVISOR: "/cases", PANEL: "/panel", ADMIN: "/admin/users"}
_UPRN = re.compile(r"UPRN \w+")
_IDENTIFIER = re.compile(r"\b(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*[0-9])[A-Z0-9]{6,}\b")
"""A reference or NINO in a reason's words (capitals and digits, at least six)."""
_RELATED_REF = re.compile(r"(?:^|; )([^;()]+?) \(")


@dataclass(frozen=True)
class Viewer:
    """The signed-in account of a request."""

    name: str
    role: str
    csrf: str

    @property
    def pseudonymous(self) -> bool:
        return self.role == PANEL


class _SignIn(Exception):
    """No valid session: send the browser to the sign-in page."""


def create_app(engine: Engine, settings: CaseStoreSettings) -> FastAPI:
    """The case-review application on the store behind ``engine``."""
    app = FastAPI(title="Counterfraud case review", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(statuses=STATUSES, outcomes=OUTCOMES, control_text=CONTROL_TEXT)
    templates.env.filters["words"] = lambda text: (text or "").replace("_", " ")
    templates.env.filters["feature"] = feature_label
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    with Session(engine) as session:
        cookies = SessionCookies(store.store_secret(session), settings.session_hours * 3600)

    def set_cookie(response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, samesite="strict", secure=settings.secure_cookies,
                            max_age=int(settings.session_hours * 3600))

    def viewer_of(request: Request, method: str, route: str) -> Viewer:
        data = cookies.read(request.cookies.get(SESSION_COOKIE))
        if not data or not data.get("user"):
            raise _SignIn()
        with Session(engine) as session:
            user = session.get(User, data["user"])
        if user is None:
            raise _SignIn()
        if user.role not in ROUTE_ROLES[(method, route)]:
            raise HTTPException(403, f"The {user.role} role cannot open this page.")
        return Viewer(user.name, user.role, data["csrf"])

    async def checked_form(request: Request, viewer: Viewer) -> dict[str, Any]:
        form = await request.form()
        if not csrf_matches({"csrf": viewer.csrf}, form.get("csrf_token")):
            raise HTTPException(403, "This form has expired or did not come from this site: reload the page.")
        return {key: form.getlist(key) if key == "case_id" else form.get(key) for key in form}

    def page(request: Request, name: str, viewer: Viewer | None, status: int = 200,
             **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"viewer": viewer, **context}, status_code=status)

    @app.middleware("http")
    async def secure_headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        response.headers.update(SECURE_HEADERS)
        return response

    @app.exception_handler(_SignIn)
    async def sign_in(request: Request, _error: _SignIn) -> Response:
        if request.method == "GET":
            return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)
        return page(request, "message.html", None, status=401, title="Signed out",
                    message="Your session has ended: sign in again.")

    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: HTTPException) -> Response:
        title = {403: "Not allowed", 404: "Not found"}.get(error.status_code, "Error")
        return page(request, "message.html", None, status=error.status_code, title=title,
                    message=error.detail)

    @app.get("/", response_model=None)
    def home(request: Request) -> Response:
        data = cookies.read(request.cookies.get(SESSION_COOKIE))
        with Session(engine) as session:
            user = session.get(User, data["user"]) if data and data.get("user") else None
        return RedirectResponse(HOME[user.role] if user else "/login", status_code=303)

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        token = cookies.issue_anonymous()
        response = page(request, "login.html", None, csrf=cookies.read(token)["csrf"], next=next, error=None)
        set_cookie(response, LOGIN_COOKIE, token)
        return response

    @app.post("/login", response_model=None)
    async def login(request: Request) -> Response:
        form = await request.form()
        if not csrf_matches(cookies.read(request.cookies.get(LOGIN_COOKIE)), form.get("csrf_token")):
            raise HTTPException(403, "The sign-in form has expired: reload the page.")
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        with Session(engine) as session, session.begin():
            user = authenticate(session, name, password)
            audit.record(session, name, "login" if user else "login refused", "", "")
            role = user.role if user else None
        if role is None:
            token = cookies.issue_anonymous()
            response = page(request, "login.html", None, status=401, csrf=cookies.read(token)["csrf"],
                            next=form.get("next", "/"), error="Unknown account or wrong password.")
            set_cookie(response, LOGIN_COOKIE, token)
            return response
        target = str(form.get("next") or "/")
        response = RedirectResponse(target if target.startswith("/") and not target.startswith("//")
                                    else "/", status_code=303)
        set_cookie(response, SESSION_COOKIE, cookies.issue(name))
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout", response_model=None)
    async def logout(request: Request) -> Response:
        data = cookies.read(request.cookies.get(SESSION_COOKIE))
        form = await request.form()
        if data and csrf_matches(data, form.get("csrf_token")):
            with Session(engine) as session, session.begin():
                audit.record(session, data["user"], "logout")
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    # ------------------------------------------------------------------------------ the work list

    @app.get("/cases", response_class=HTMLResponse)
    def work_list(request: Request, status: str = "", subject_type: str = "", assignee: str = "",
                  la_code: str = "", top_feature: str = "", sort: str = "queue", order: str = "asc",
                  page_number: int = 1, notice: str = "") -> HTMLResponse:
        viewer = viewer_of(request, "GET", "/cases")
        filters = CaseFilter(status or None, subject_type or None, assignee or None, la_code or None,
                             top_feature or None)
        with Session(engine) as session:
            run = store.latest_run(session)
            cases, total, choices, people = [], 0, {}, []
            secret = store.store_secret(session)
            if run is not None:
                cases, total = store.list_cases(session, run.run_id, filters, sort, order == "desc",
                                                page_number, PAGE_SIZE)
                choices = store.filter_choices(session, run.run_id)
                people = [user.name for user in accounts(session) if user.role in CASEWORKERS]
        query = {key: value for key, value in (("status", status), ("subject_type", subject_type),
                                               ("assignee", assignee), ("la_code", la_code),
                                               ("top_feature", top_feature), ("sort", sort),
                                               ("order", order)) if value}
        return page(request, "list.html", viewer, run=run, cases=cases, total=total, choices=choices,
                    filters=filters, sort=sort, order=order, page_number=page_number,
                    pages=max(1, -(-total // PAGE_SIZE)), query=query, people=people, notice=notice,
                    first_reason=_first_reason,
                    shown_reason=(lambda reason: _masked(reason, secret)) if viewer.pseudonymous else str)

    @app.post("/cases/claim-next", response_model=None)
    async def claim_next(request: Request) -> Response:
        viewer = viewer_of(request, "POST", "/cases/claim-next")
        await checked_form(request, viewer)
        with Session(engine) as session, session.begin():
            run = store.latest_run(session)
            case = store.claim_next(session, run.run_id, viewer.name) if run else None
            if case is not None:
                audit.record(session, viewer.name, "claim case", str(case.id), case.subject_ref)
                case_id = case.id
        if case is None:
            return RedirectResponse("/cases?notice=No+new+cases+are+left+to+claim.", status_code=303)
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    @app.post("/cases/bulk-assign", response_model=None)
    async def bulk_assign(request: Request) -> Response:
        viewer = viewer_of(request, "POST", "/cases/bulk-assign")
        form = await checked_form(request, viewer)
        assignee = str(form.get("assignee") or "")
        case_ids = [int(value) for value in form.get("case_id", []) if str(value).isdigit()]
        with Session(engine) as session, session.begin():
            if session.get(User, assignee) is None:
                raise HTTPException(404, f"No account {assignee!r}.")
            done = store.bulk_assign(session, case_ids, viewer.name, assignee)
            audit.record(session, viewer.name, "assign cases", ",".join(map(str, done)), assignee)
        notice = f"{len(done)} case(s) assigned to {assignee}."
        return RedirectResponse("/cases?" + urlencode({"notice": notice}), status_code=303)

    # --------------------------------------------------------------------------------- one case

    def case_page(request: Request, viewer: Viewer, case_id: int, error: str | None = None,
                  status: int = 200) -> HTMLResponse:
        with Session(engine) as session, session.begin():
            case = session.get(Case, case_id)
            if case is None:
                raise HTTPException(404, f"There is no case {case_id}.")
            run = session.get(store.Run, case.latest_run_id)
            detail = session.get(store.CaseDetail, case_id)
            history = store.score_history(session, case_id)
            events = store.case_events(session, case_id)
            related = _related(case.related)
            related_cases = store.cases_of_subjects(session, [ref for ref, _ in related])
            secret = store.store_secret(session) if viewer.pseudonymous else b""
            people = [user.name for user in accounts(session) if user.role in CASEWORKERS]
            audit.record(session, viewer.name, "view case", str(case_id),
                         case.pseudonym if viewer.pseudonymous else case.subject_ref)
            session.expunge_all()
        explanation = json.loads(detail.explanation)
        records = {} if viewer.pseudonymous else json.loads(detail.records)
        if viewer.pseudonymous:
            related = [(store.pseudonym(secret, ref), how) for ref, how in related]
            related_cases = {store.pseudonym(secret, ref): number for ref, number in related_cases.items()}
        reasons = [] if case.control else [_masked(reason, secret) if viewer.pseudonymous else reason
                                           for reason in case.reasons.split(REASON_SEPARATOR) if reason]
        return page(request, "case.html", viewer, status=status, case=case, run=run, history=history,
                    events=events, related=related, related_cases=related_cases, reasons=reasons,
                    chart=waterfall(explanation), explanation=explanation, records=records,
                    income=monthly_bars(records.get("tax_income", [])), error=error, people=people)

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    def show_case(request: Request, case_id: int) -> HTMLResponse:
        return case_page(request, viewer_of(request, "GET", "/cases/{case_id}"), case_id)

    def case_action(route: str, step: Callable[[Session, Viewer, Case, dict[str, Any]], Any],
                    action: str) -> Callable:
        async def handler(request: Request, case_id: int) -> Response:
            viewer = viewer_of(request, "POST", route)
            form = await checked_form(request, viewer)
            try:
                with Session(engine) as session, session.begin():
                    case = session.get(Case, case_id)
                    if case is None:
                        raise HTTPException(404, f"There is no case {case_id}.")
                    if viewer.role == INVESTIGATOR and case.assignee not in (None, viewer.name):
                        raise CaseworkError(f"case {case_id} is assigned to {case.assignee}; "
                                            "ask a supervisor to reassign it")
                    step(session, viewer, case, form)
                    audit.record(session, viewer.name, action, str(case_id), case.subject_ref)
            except CaseworkError as error:
                return case_page(request, viewer, case_id, error=str(error), status=409)
            return RedirectResponse(f"/cases/{case_id}", status_code=303)
        return handler

    def _version(form: dict[str, Any]) -> int:
        try:
            return int(form.get("version", ""))
        except ValueError:
            raise CaseworkError("the form did not say which version of the case it was read at") from None

    def _assign(session: Session, viewer: Viewer, case: Case, form: dict[str, Any]) -> None:
        assignee = str(form.get("assignee") or viewer.name)
        if viewer.role == INVESTIGATOR and assignee != viewer.name:
            raise CaseworkError("investigators can only take a case themselves")
        if session.get(User, assignee) is None:
            raise CaseworkError(f"no account {assignee!r}")
        store.assign(session, case.id, _version(form), viewer.name, assignee)

    routes = {
        "assign": (_assign, "assign case"),
        "start": (lambda session, viewer, case, form: store.start_review(
            session, case.id, _version(form), viewer.name), "start review"),
        "close": (lambda session, viewer, case, form: store.close(
            session, case.id, _version(form), viewer.name, str(form.get("outcome") or ""),
            str(form.get("note") or "")), "close case"),
        "reopen": (lambda session, viewer, case, form: store.reopen(
            session, case.id, _version(form), viewer.name), "reopen case"),
    }
    for name, (step, action) in routes.items():
        route = f"/cases/{{case_id}}/{name}"
        app.add_api_route(route, case_action(route, step, action), methods=["POST"], response_model=None)

    # ------------------------------------------------------------------------- panel and admin

    @app.get("/panel", response_class=HTMLResponse)
    def panel(request: Request) -> HTMLResponse:
        viewer = viewer_of(request, "GET", "/panel")
        with Session(engine) as session:
            figures = store.status_counts(session)
        return page(request, "panel.html", viewer, figures=figures)

    @app.get("/admin/users", response_class=HTMLResponse)
    def users(request: Request, notice: str = "") -> HTMLResponse:
        viewer = viewer_of(request, "GET", "/admin/users")
        with Session(engine) as session:
            people = accounts(session)
        return page(request, "users.html", viewer, people=people, roles=ROLES, notice=notice, error=None)

    @app.post("/admin/users", response_model=None)
    async def create_user(request: Request) -> Response:
        viewer = viewer_of(request, "POST", "/admin/users")
        form = await checked_form(request, viewer)
        name, role = str(form.get("name") or ""), str(form.get("role") or "")
        try:
            with Session(engine) as session, session.begin():
                add_user(session, name, role, str(form.get("password") or ""))
                audit.record(session, viewer.name, "add account", name, role)
        except CaseworkError as error:
            with Session(engine) as session:
                people = accounts(session)
            return page(request, "users.html", viewer, status=409, people=people, roles=ROLES, notice="",
                        error=str(error))
        return RedirectResponse("/admin/users?" + urlencode({"notice": f"Account {name} added."}),
                                status_code=303)

    @app.get("/admin/log", response_class=HTMLResponse)
    def access_log(request: Request) -> HTMLResponse:
        viewer = viewer_of(request, "GET", "/admin/log")
        with Session(engine) as session:
            entries = audit.recent_entries(session)
            check = audit.verify(session)
        return page(request, "log.html", viewer, entries=entries, check=check)

    return app


def _first_reason(case: Case) -> str:
    return CONTROL_TEXT if case.control else case.reasons.split(REASON_SEPARATOR)[0]


def _masked(text: str, secret: bytes) -> str:
    """A reason as the panel reads it: addresses hidden, references and NINOs as pseudonyms."""
    return _IDENTIFIER.sub(lambda match: store.pseudonym(secret, match.group(0)), _UPRN.sub("an address", text))


def _related(text: str) -> list[tuple[str, str]]:
    """``"H1 (same person); B2 (same bank account)"`` as ``[(ref, how), ...]`` (the "and N more" dropped)."""
    return [(match.group(1).strip(), how) for match, how in zip(
        _RELATED_REF.finditer(text), re.findall(r"\(([^)]*)\)", text), strict=False)]

