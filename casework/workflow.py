"""The case workflow in one table: statuses, roles, each step a case can take and who may take it.

A case goes ``new`` → ``assigned`` → ``in_review`` → ``closed``; a supervisor can reopen a closed
case. Each step is a :class:`Transition`: the statuses it starts from, the status it leads to, the
roles that may take it, and the roles that may take it on a case assigned to someone else.
:func:`refusal` reads the table and is the one place a step is allowed or refused: the store
calls it before every change, and the pages call it to offer only the steps a viewer may take.

Roles, each also what the roles below it in this list may not do:

- ``investigator``: sees the work list and cases, searches them, claims, reviews (with notes), escalates
  (with a reason) and closes cases;
- ``supervisor``: as an investigator, and assigns cases to others (one or many), unassigns, reopens and
  closes them many at once, de-escalates them, sees each caseworker's workload, and confirms another's
  fraud outcome (four eyes);
- ``panel``: aggregate figures and cases under pseudonyms only (no names, NINOs or addresses);
- ``admin``: manages accounts and reads the access log; sees no case.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.contract import OUTCOMES as CONTRACT_OUTCOMES

INVESTIGATOR, SUPERVISOR, PANEL, ADMIN = "investigator", "supervisor", "panel", "admin"
ROLES = (INVESTIGATOR, SUPERVISOR, PANEL, ADMIN)
CASEWORKERS = (INVESTIGATOR, SUPERVISOR)
"""Roles that work cases and see the subjects' records."""

NEW, ASSIGNED, IN_REVIEW, CLOSED = "new", "assigned", "in_review", "closed"
STATUSES = (NEW, ASSIGNED, IN_REVIEW, CLOSED)
OPEN_STATUSES = (NEW, ASSIGNED, IN_REVIEW)
"""The statuses of a case being worked, or waiting to be: each has an SLA clock (``case_store.sla_days``)."""
OUTCOMES = (*CONTRACT_OUTCOMES, "not_investigated")
"""A case's outcome: the contract's outcomes, or not investigated (which says nothing of the subject)."""
TYPOLOGY_OUTCOMES = ("fraud", "error")
FOUR_EYES_OUTCOMES = ("fraud",)
"""Outcomes that count (in the outcomes export) only once a supervisor other than the closer confirms them."""
"""Outcomes that record a typology: a fraud outcome names one; an error may (what was wrongly claimed)."""


@dataclass(frozen=True)
class Transition:
    """One step of the workflow and who may take it.

    Parameters
    ----------
    verb : str
        What the step does, as a refusal names it ("cannot close it").
    allowed_from : tuple of str
        The statuses the step starts from.
    to : str or None
        The status it leads to; None for a step that leaves the status as it is (a note, a confirmation).
    roles : tuple of str
        The roles that may take the step at all.
    on_others_cases : tuple of str
        The roles that may take it on a case assigned to someone else; anyone else only on a
        case assigned to nobody or to themselves.
    for_others : tuple of str
        The roles that may make someone other than themselves the case's assignee.
    """

    verb: str
    allowed_from: tuple[str, ...]
    to: str | None
    roles: tuple[str, ...]
    on_others_cases: tuple[str, ...] = ()
    for_others: tuple[str, ...] = ()


CLAIM, ASSIGN, START, CLOSE, REOPEN, NOTE = "claim", "assign", "start", "close", "reopen", "note"
UNASSIGN, CONFIRM = "unassign", "confirm"
ESCALATE, DEESCALATE = "escalate", "deescalate"
TRANSITIONS: dict[str, Transition] = {
    CLAIM: Transition("claim", (NEW,), ASSIGNED, CASEWORKERS),
    ASSIGN: Transition("assign", (NEW, ASSIGNED), ASSIGNED, CASEWORKERS, on_others_cases=(SUPERVISOR,),
                       for_others=(SUPERVISOR,)),
    START: Transition("start reviewing", (ASSIGNED,), IN_REVIEW, CASEWORKERS),
    CLOSE: Transition("close", (IN_REVIEW,), CLOSED, CASEWORKERS, on_others_cases=(SUPERVISOR,)),
    REOPEN: Transition("reopen", (CLOSED,), ASSIGNED, (SUPERVISOR,), on_others_cases=(SUPERVISOR,)),
    NOTE: Transition("add a note to", (ASSIGNED, IN_REVIEW), None, CASEWORKERS, on_others_cases=(SUPERVISOR,)),
    UNASSIGN: Transition("unassign", (ASSIGNED, IN_REVIEW), NEW, (SUPERVISOR,), on_others_cases=(SUPERVISOR,)),
    CONFIRM: Transition("confirm the outcome of", (CLOSED,), None, (SUPERVISOR,), on_others_cases=(SUPERVISOR,)),
    ESCALATE: Transition("escalate", OPEN_STATUSES, None, CASEWORKERS, on_others_cases=(SUPERVISOR,)),
    DEESCALATE: Transition("de-escalate", STATUSES, None, (SUPERVISOR,), on_others_cases=(SUPERVISOR,)),
}
"""Every step a case can take, by name (the name is also its page's action: ``/cases/{id}/{name}``)."""
BULK_STEPS: dict[str, str] = {UNASSIGN: "unassigned", REOPEN: "reopened", CLOSE: "closed as not investigated"}
"""The steps a supervisor takes on many cases at once from the work list, and what is said of a case that
took one; a closing in bulk records the outcome ``not_investigated`` and one closing note for all."""
BULK_CLOSING_OUTCOME = "not_investigated"


def refusal(step: str, case_id: int, status: str, assignee: str | None, actor: str, role: str | None,
            new_assignee: str | None = None, new_assignee_role: str | None = None) -> str | None:
    """Why ``actor`` (of ``role``) may not take ``step`` on the case, or None when they may.

    ``new_assignee`` is the account the step makes the case's assignee, when it assigns one, and
    ``new_assignee_role`` its role (None for no such account): only caseworkers can be assignees,
    since no other role may open a case.
    """
    transition = TRANSITIONS[step]
    if role not in transition.roles:
        return f"the {role or 'unknown'} role cannot {transition.verb} a case"
    if status not in transition.allowed_from:
        return f"case {case_id} is {status.replace('_', ' ')}: cannot {transition.verb} it"
    if assignee not in (None, actor) and role not in transition.on_others_cases:
        return f"case {case_id} is assigned to {assignee}, not {actor}: ask a supervisor to reassign it"
    if new_assignee not in (None, actor) and role not in transition.for_others:
        return f"only a {' or '.join(transition.for_others)} can assign a case to someone else"
    if new_assignee not in (None, actor) and new_assignee_role not in CASEWORKERS:
        return (f"{new_assignee} is not an investigator or supervisor account: a case is assigned only to "
                "someone who can open it")
    return None
