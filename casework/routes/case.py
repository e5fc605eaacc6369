"""One case: its page, and the workflow steps taken from it (one route per step of the table)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from casework import audit, store
from casework.auth import accounts
from casework.charts import monthly_bars, waterfall
from casework.disclosure import masked, reasons_of, related_subjects
from casework.store import Case, CaseworkError, SlaClock
from casework.web import Area, SignedIn, Viewer, checked_form, site_of
from casework.workflow import (
    ASSIGN,
    CASEWORKERS,
    CLOSE,
    CONFIRM,
    DEESCALATE,
    ESCALATE,
    NOTE,
    PANEL,
    REOPEN,
    START,
    TRANSITIONS,
    UNASSIGN,
    refusal,
)
from features.contract import TYPOLOGIES

area = Area("case")
LARGEST_CASE_ID = 2**63 - 1
"""A larger id names no case, and no database can look it up (it would fail, not miss)."""


def _case(session: Session, case_id: int) -> Case | None:
    return session.get(Case, case_id) if 0 < case_id <= LARGEST_CASE_ID else None


def case_page(request: Request, viewer: Viewer, case_id: int, error: str | None = None,
              status: int = 200) -> Response:
    """The case's page for ``viewer`` (the access log records the view)."""
    site = site_of(request)
    with Session(site.engine) as session, session.begin():
        case = _case(session, case_id)
        if case is None:
            raise HTTPException(404, f"There is no case {case_id}.")
        run = session.get(store.Run, case.latest_run_id)
        detail = session.get(store.CaseDetail, case_id)
        history = store.score_history(session, case_id)
        events = store.case_events(session, case_id)
        related = related_subjects(case.related)
        related_cases = store.cases_of_subjects(session, [ref for ref, _ in related])
        secret = store.store_secret(session) if viewer.pseudonymous else b""
        people = [user.name for user in accounts(session) if user.role in CASEWORKERS]
        closer = store.closed_by(session, case_id) if case.awaiting_confirmation else None
        audit.record(session, viewer.name, "view case", str(case_id),
                     case.pseudonym if viewer.pseudonymous else case.subject_ref)
        session.expunge_all()
    explanation = json.loads(detail.explanation)
    records = {} if viewer.pseudonymous else json.loads(detail.records)
    reasons = reasons_of(case)
    if viewer.pseudonymous:
        related = [(store.pseudonym(secret, ref), how) for ref, how in related]
        related_cases = {store.pseudonym(secret, ref): number for ref, number in related_cases.items()}
        reasons = [masked(reason, secret) for reason in reasons]
    # offered only when the workflow would let the viewer take it (not a case assigned to someone else)
    can_take = case.assignee != viewer.name and refusal(
        ASSIGN, case.id, case.status, case.assignee, viewer.name, viewer.role, viewer.name, viewer.role) is None
    can_note = refusal(NOTE, case.id, case.status, case.assignee, viewer.name, viewer.role) is None
    can_escalate = case.escalated_by is None and refusal(
        ESCALATE, case.id, case.status, case.assignee, viewer.name, viewer.role) is None
    can_deescalate = case.escalated_by is not None and refusal(
        DEESCALATE, case.id, case.status, case.assignee, viewer.name, viewer.role) is None
    notes = [] if viewer.pseudonymous else [event for event in events if event.field == store.NOTE_FIELD]
    return site.page(request, "case.html", viewer, status=status, case=case, run=run, history=history,
                     events=events, related=related, related_cases=related_cases, reasons=reasons,
                     chart=waterfall(explanation), explanation=explanation, records=records,
                     income=monthly_bars(records.get("tax_income", [])), error=error, people=people,
                     can_take=can_take, can_note=can_note, notes=notes, can_escalate=can_escalate,
                     can_deescalate=can_deescalate, clock=SlaClock.now(site.settings.sla_days),
                     typologies=TYPOLOGIES.get(case.subject_type, ()), closer=closer,
                     can_confirm=closer not in (None, viewer.name) and refusal(
                         CONFIRM, case.id, case.status, case.assignee, viewer.name, viewer.role) is None)


@area.route("GET", "/cases/{case_id}", roles=(*CASEWORKERS, PANEL))
def show_case(request: Request, viewer: SignedIn, case_id: int) -> Response:
    return case_page(request, viewer, case_id)


def _version(form: dict[str, Any]) -> int:
    try:
        return int(form.get("version", ""))
    except ValueError:
        raise CaseworkError("the form did not say which version of the case it was read at") from None


def _assign(session: Session, viewer: Viewer, case_id: int, form: dict[str, Any]) -> None:
    assignee = str(form.get("assignee") or viewer.name)
    if session.get(store.User, assignee) is None:
        raise CaseworkError(f"no account {assignee!r}")
    store.assign(session, case_id, _version(form), viewer.name, assignee)


STEPS: dict[str, tuple[Callable[[Session, Viewer, int, dict[str, Any]], Any], str]] = {
    ASSIGN: (_assign, "assign case"),
    START: (lambda session, viewer, case_id, form: store.start_review(
        session, case_id, _version(form), viewer.name), "start review"),
    CLOSE: (lambda session, viewer, case_id, form: store.close(
        session, case_id, _version(form), viewer.name, str(form.get("outcome") or ""),
        str(form.get("note") or ""), str(form.get("typology") or "")), "close case"),
    REOPEN: (lambda session, viewer, case_id, form: store.reopen(
        session, case_id, _version(form), viewer.name), "reopen case"),
    NOTE: (lambda session, viewer, case_id, form: store.add_note(
        session, case_id, viewer.name, str(form.get("note") or "")), "add note"),
    UNASSIGN: (lambda session, viewer, case_id, form: store.unassign(
        session, case_id, _version(form), viewer.name), "unassign case"),
    CONFIRM: (lambda session, viewer, case_id, form: store.confirm(
        session, case_id, _version(form), viewer.name), "confirm outcome"),
    ESCALATE: (lambda session, viewer, case_id, form: store.escalate(
        session, case_id, _version(form), viewer.name, str(form.get("reason") or "")), "escalate case"),
    DEESCALATE: (lambda session, viewer, case_id, form: store.deescalate(
        session, case_id, _version(form), viewer.name), "de-escalate case"),
}
"""What each step's form asks of the store, and the access log's name for it."""


def _step_route(step: str) -> None:
    take, action = STEPS[step]

    async def handler(request: Request, viewer: SignedIn, case_id: int) -> Response:
        form = await checked_form(request, viewer)
        try:
            with Session(site_of(request).engine) as session, session.begin():
                case = _case(session, case_id)
                if case is None:
                    raise HTTPException(404, f"There is no case {case_id}.")
                take(session, viewer, case_id, form)
                audit.record(session, viewer.name, action, str(case_id), case.subject_ref)
        except CaseworkError as error:
            with Session(site_of(request).engine) as session, session.begin():
                audit.record(session, viewer.name, f"{action} refused", str(case_id), str(error))
            return case_page(request, viewer, case_id, error=str(error), status=409)
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    area.route("POST", f"/cases/{{case_id}}/{step}", roles=TRANSITIONS[step].roles)(handler)


for _step in STEPS:
    _step_route(_step)
