"""The work list: filtered and sorted pages of cases ("my cases", overdue and escalated ones among them),
the search, claiming the next case, bulk assignment and bulk steps, the supervisor's workload."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework import audit, store
from casework.auth import accounts, locked_accounts
from casework.disclosure import first_reason, masked
from casework.notices import notice_query, shown_notice
from casework.search import QUERY_LIMIT, find_cases
from casework.store import Case, CaseFilter, CaseworkError, SlaClock, User
from casework.web import Area, SignedIn, checked_form, site_of
from casework.workflow import BULK_STEPS, CASEWORKERS, NEW, PANEL, SUPERVISOR

area = Area("work list")
PAGE_SIZE = 50
MAX_PAGE = 10**9
"""Page numbers above this are read as it: the offset stays a 64-bit integer in every database."""
MINE, AWAITING = "mine", "awaiting"
"""The work list's views: the viewer's own open cases (``/cases?view=mine``), and for supervisors the
closings awaiting confirmation (``/cases?view=awaiting``)."""


@area.route("GET", "/cases", roles=(*CASEWORKERS, PANEL))
def work_list(request: Request, viewer: SignedIn, status: str = "", subject_type: str = "",
              assignee: str = "", la_code: str = "", top_feature: str = "", sort: str = "queue",
              order: str = "asc", page_number: int = 1, view: str = "", overdue: bool = False,
              escalated: bool = False) -> Response:
    site = site_of(request)
    clock = SlaClock.now(site.settings.sla_days)
    page_number = min(max(page_number, 1), MAX_PAGE)
    # "my cases" is the work list of the viewer's open cases (the panel has none, and sees the whole list)
    mine = view == MINE and viewer.role in CASEWORKERS
    awaiting = view == AWAITING and viewer.role == SUPERVISOR
    filters = CaseFilter(status or None, subject_type or None, viewer.name if mine else assignee or None,
                         la_code or None, top_feature or None, open_only=mine, awaiting_confirmation=awaiting,
                         overdue=clock if overdue else None, escalated=escalated)
    with Session(site.engine) as session:
        run = store.latest_run(session)
        cases, total, choices, people, run_dates, my_open, to_confirm = [], 0, {}, [], {}, 0, 0
        locked = locked_accounts(session) if viewer.role == SUPERVISOR else []
        secret = store.store_secret(session)
        notice = shown_notice(session, request.query_params)
        if run is not None:
            cases, total = store.list_cases(session, run.run_id, filters, sort, order == "desc",
                                            page_number, PAGE_SIZE)
            if page_number > max(1, -(-total // PAGE_SIZE)):
                # past the last page (an old link, a typed number): show the last page
                page_number = max(1, -(-total // PAGE_SIZE))
                cases, total = store.list_cases(session, run.run_id, filters, sort, order == "desc",
                                                page_number, PAGE_SIZE)
            choices = store.filter_choices(session, run.run_id)
            people = [user.name for user in accounts(session) if user.role in CASEWORKERS]
            run_dates = store.run_dates(session)
            if viewer.role in CASEWORKERS:
                my_open = total if mine else store.list_cases(
                    session, run.run_id, CaseFilter(assignee=viewer.name, open_only=True), page_size=1)[1]
            if viewer.role == SUPERVISOR:
                to_confirm = total if awaiting else store.list_cases(
                    session, run.run_id, CaseFilter(awaiting_confirmation=True), page_size=1)[1]
    query = {key: value for key, value in (("view", MINE if mine else AWAITING if awaiting else ""), ("status", status),
                                           ("subject_type", subject_type), ("assignee", "" if mine else assignee),
                                           ("la_code", la_code), ("top_feature", top_feature),
                                           ("overdue", "1" if overdue else ""), ("escalated", "1" if escalated else ""),
                                           ("sort", sort), ("order", order)) if value}
    return site.page(request, "list.html", viewer, run=run, cases=cases, total=total, choices=choices,
                     filters=filters, sort=sort, order=order, page_number=page_number, mine=mine, my_open=my_open,
                     awaiting=awaiting, to_confirm=to_confirm, clock=clock, bulk_steps=BULK_STEPS,
                     pages=max(1, -(-total // PAGE_SIZE)), query=query, people=people, notice=notice, run_dates=run_dates, locked=locked,
                     first_reason=first_reason,
                     shown_reason=(lambda reason: masked(reason, secret)) if viewer.pseudonymous else str)


@area.route("GET", "/cases/workload", roles=(SUPERVISOR,))
def workload(request: Request, viewer: SignedIn) -> Response:
    """Each caseworker's open cases per status and overdue ones, how many new cases nobody has yet, and
    the escalated cases."""
    site = site_of(request)
    clock = SlaClock.now(site.settings.sla_days)
    with Session(site.engine) as session:
        roles = {user.name: user.role for user in accounts(session) if user.role in CASEWORKERS}
        counts = store.workload(session, roles)
        overdue = store.overdue_counts(session, clock)
        unassigned = session.scalar(select(func.count()).select_from(Case).where(Case.status == NEW))
        run = store.latest_run(session)
        escalated, escalated_total = store.list_cases(session, run.run_id, CaseFilter(escalated=True),
                                                      page_size=PAGE_SIZE) if run else ([], 0)
        session.expunge_all()
    return site.page(request, "workload.html", viewer, counts=counts, roles=roles, unassigned=unassigned,
                     overdue=overdue, escalated=escalated, escalated_total=escalated_total, clock=clock)


@area.route("GET", "/cases/search", roles=CASEWORKERS)
def search(request: Request, viewer: SignedIn, q: str = "") -> Response:
    """Cases found by a name, NINO, reference or postcode (:mod:`casework.search`); the search is logged."""
    site = site_of(request)
    query = q.strip()[:QUERY_LIMIT]
    cases, more, run, run_dates = [], False, None, {}
    with Session(site.engine) as session, session.begin():
        run = store.latest_run(session)
        run_dates = store.run_dates(session)
        if query:
            cases, more = find_cases(session, query)
            # who looked whom up: a search names a person as surely as a case page does
            audit.record(session, viewer.name, "search cases", query, f"{len(cases)}{'+' if more else ''} found")
        session.expunge_all()
    return site.page(request, "search.html", viewer, search_query=query, cases=cases, more=more, run=run,
                     run_dates=run_dates, clock=SlaClock.now(site.settings.sla_days), first_reason=first_reason,
                     shown_reason=str)


@area.route("POST", "/cases/claim-next", roles=CASEWORKERS)
async def claim_next(request: Request, viewer: SignedIn) -> Response:
    await checked_form(request, viewer)
    with Session(site_of(request).engine) as session, session.begin():
        run = store.latest_run(session)
        case = store.claim_next(session, run.run_id, viewer.name) if run else None
        if case is not None:
            audit.record(session, viewer.name, "claim case", str(case.id), case.subject_ref)
            case_id = case.id
    if case is None:
        return RedirectResponse("/cases?" + notice_query("none_left"), status_code=303)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


def _read_versions(values: list[str]) -> dict[int, int]:
    """The ``case id:version`` pairs of the list's check boxes."""
    pairs = (str(value).split(":") for value in values)
    return {int(case_id): int(version) for case_id, version, *_ in (pair + [""] for pair in pairs)
            if case_id.isdigit() and version.isdigit()}


@area.route("POST", "/cases/bulk-assign", roles=(SUPERVISOR,))
async def bulk_assign(request: Request, viewer: SignedIn) -> Response:
    form = await checked_form(request, viewer)
    assignee = str(form.get("assignee") or "")
    try:
        with Session(site_of(request).engine) as session, session.begin():
            if session.get(User, assignee) is None:
                raise HTTPException(404, f"No account {assignee!r}.")
            done, skipped = store.bulk_assign(session, _read_versions(form.get("case_id", [])), viewer.name,
                                              assignee)
            audit.record(session, viewer.name, "assign cases", ",".join(map(str, done)), assignee)
    except CaseworkError as error:
        with Session(site_of(request).engine) as session, session.begin():
            audit.record(session, viewer.name, "assign cases refused", assignee, str(error))
        return RedirectResponse("/cases?" + notice_query("not_assignable", account=assignee), status_code=303)
    notice = (notice_query("assigned_some_skipped", count=len(done), account=assignee,
                           cases=", ".join(map(str, skipped))) if skipped
              else notice_query("assigned", count=len(done), account=assignee))
    return RedirectResponse("/cases?" + notice, status_code=303)


@area.route("POST", "/cases/bulk-step", roles=(SUPERVISOR,))
async def bulk_step(request: Request, viewer: SignedIn) -> Response:
    """One workflow step (:data:`casework.workflow.BULK_STEPS`) on each selected case; each case
    stepped is in the access log, as a step from its page would be."""
    form = await checked_form(request, viewer)
    step = str(form.get("step") or "")
    action = f"{step} case (bulk)" if step in BULK_STEPS else "step on cases (bulk)"  # no words of the form's own
    try:
        with Session(site_of(request).engine) as session, session.begin():
            result = store.bulk_step(session, _read_versions(form.get("case_id", [])), viewer.name, step,
                                     str(form.get("closing_note") or ""))
            for case_id in result.done:
                audit.record(session, viewer.name, action, str(case_id), session.get(Case, case_id).subject_ref)
            for case_id, why in result.refused.items():
                audit.record(session, viewer.name, f"{action} refused", str(case_id), why)
    except CaseworkError as error:
        with Session(site_of(request).engine) as session, session.begin():
            audit.record(session, viewer.name, f"{action} refused", "", str(error))
        return RedirectResponse("/cases?" + notice_query("bulk_close_needs_note" if step in BULK_STEPS
                                                         else "no_bulk_step"), status_code=303)
    key = "stepped" + ("_changed" if result.changed else "") + ("_refused" if result.refused else "")
    fields = {"count": len(result.done), "done": BULK_STEPS[step]}
    if result.changed:
        fields["cases"] = ", ".join(map(str, result.changed))
    if result.refused:
        fields["refused_cases"] = ", ".join(map(str, result.refused))
    return RedirectResponse("/cases?" + notice_query(key, **fields), status_code=303)
