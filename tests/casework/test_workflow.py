"""The workflow table: which role may take which step, from which status, on whose case."""

from __future__ import annotations

import pytest

from casework.workflow import (
    ASSIGN,
    ASSIGNED,
    CLOSE,
    CLOSED,
    CONFIRM,
    IN_REVIEW,
    INVESTIGATOR,
    NEW,
    PANEL,
    REOPEN,
    ROLES,
    START,
    STATUSES,
    SUPERVISOR,
    TRANSITIONS,
    UNASSIGN,
    refusal,
)


def test_each_step_is_refused_to_roles_outside_its_row():
    for step, transition in TRANSITIONS.items():
        status = transition.allowed_from[0]
        for role in ROLES:
            answer = refusal(step, 1, status, "ann", "ann", role)
            assert (answer is None) == (role in transition.roles), (step, role, answer)


def test_each_step_starts_only_from_its_statuses():
    for step, transition in TRANSITIONS.items():
        role = transition.roles[0]
        for status in STATUSES:
            answer = refusal(step, 7, status, "ann", "ann", role)
            if status in transition.allowed_from:
                assert answer is None, (step, status)
            else:
                assert answer == f"case 7 is {status.replace('_', ' ')}: cannot {transition.verb} it"


@pytest.mark.parametrize(("step", "status"), [(ASSIGN, ASSIGNED), (START, ASSIGNED), (CLOSE, IN_REVIEW)])
def test_an_investigator_acts_only_on_cases_of_their_own(step, status):
    assert refusal(step, 3, status, "bob", "ann", INVESTIGATOR) == (
        "case 3 is assigned to bob, not ann: ask a supervisor to reassign it")
    assert refusal(step, 3, status, "ann", "ann", INVESTIGATOR) is None


def test_a_supervisor_reassigns_unassigns_closes_confirms_and_reopens_others_cases_but_reviews_only_their_own():
    assert refusal(ASSIGN, 3, ASSIGNED, "bob", "sue", SUPERVISOR, new_assignee="ann",
                   new_assignee_role=INVESTIGATOR) is None
    assert refusal(UNASSIGN, 3, IN_REVIEW, "bob", "sue", SUPERVISOR) is None
    assert refusal(UNASSIGN, 3, ASSIGNED, "bob", "bob", INVESTIGATOR) == "the investigator role cannot unassign a case"
    assert refusal(CLOSE, 3, IN_REVIEW, "bob", "sue", SUPERVISOR) is None
    assert refusal(CONFIRM, 3, CLOSED, "bob", "sue", SUPERVISOR) is None
    assert refusal(REOPEN, 3, CLOSED, "bob", "sue", SUPERVISOR) is None
    assert refusal(START, 3, ASSIGNED, "bob", "sue", SUPERVISOR) is not None


def test_only_a_supervisor_assigns_a_case_to_someone_else():
    assert refusal(ASSIGN, 3, NEW, None, "ann", INVESTIGATOR, new_assignee="bob") == (
        "only a supervisor can assign a case to someone else")
    assert refusal(ASSIGN, 3, NEW, None, "ann", INVESTIGATOR, new_assignee="ann") is None
    assert refusal(ASSIGN, 3, NEW, None, "pat", PANEL, new_assignee="pat") == "the panel role cannot assign a case"


def test_every_route_of_the_page_names_its_roles():
    from fastapi import FastAPI

    from casework.app import ROUTE_ROLES, _check_every_route_names_its_roles

    for step, transition in TRANSITIONS.items():
        if ("POST", f"/cases/{{case_id}}/{step}") in ROUTE_ROLES:
            assert ROUTE_ROLES[("POST", f"/cases/{{case_id}}/{step}")] == transition.roles
    stray = FastAPI()
    stray.add_api_route("/cases/export", lambda: None, methods=["GET"])
    with pytest.raises(RuntimeError, match=r"routes that name no roles: \[\('GET', '/cases/export'\)\]"):
        _check_every_route_names_its_roles(stray)
