"""The notices a page shows after an action: a fixed set of keys, each one sentence with checked fields.

An action redirects to a page with ``notice=KEY`` and the sentence's fields in the query
(:func:`notice_query`); the page shows the sentence only when the key is one of :data:`NOTICES`
and every field is valid (a count or a version is digits, case ids are digits joined by commas, what was done is a
bulk step's words,
an account is one of the store's, a decision is one the panel can make, a role is one of the
roles). Any other query shows no notice, so a link cannot put words of its own on the page as an
official notice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.store import User
from casework.workflow import BULK_STEPS, ROLES

NOTICES: dict[str, str] = {
    "none_left": "No new cases are left to claim.",
    "assigned": "{count} case(s) assigned to {account}.",
    "assigned_some_skipped": ("{count} case(s) assigned to {account}. Skipped, because they changed since the "
                              "list was shown: case(s) {cases}; reload the list and choose again."),
    "not_assignable": ("Nothing was assigned: {account} is not an investigator or supervisor account, and only "
                       "they can be given cases."),
    "stepped": "{count} case(s) {done}.",
    "stepped_changed": ("{count} case(s) {done}. Skipped, because they changed since the list was shown: "
                        "case(s) {cases}; reload the list and choose again."),
    "stepped_refused": ("{count} case(s) {done}. Left as they were, because the workflow does not allow this "
                        "step on them (the access log says why): case(s) {refused_cases}."),
    "stepped_changed_refused": ("{count} case(s) {done}. Skipped, because they changed since the list was "
                                "shown: case(s) {cases}; reload the list and choose again. Left as they were, "
                                "because the workflow does not allow this step on them (the access log says "
                                "why): case(s) {refused_cases}."),
    "bulk_close_needs_note": "Nothing was closed: closing cases at once needs a closing note for them.",
    "no_bulk_step": "Nothing was changed: choose one of the steps the list offers for the selected cases.",
    "account_added": "Account {account} added.",
    "account_unlocked": "Account {account} unlocked.",
    "no_such_account": "There is no such account to unlock.",
    "account_disabled": "Account {account} disabled; {count} session(s) ended.",
    "account_enabled": "Account {account} re-enabled: it signs in with its password as before.",
    "account_deleted": ("Account {account} deleted; {count} session(s) ended. Its name stays in the access log "
                        "and the case history, and is not given to another account."),
    "password_reset": "Password of {account} reset; {count} session(s) ended.",
    "role_changed": "Account {account} is now {role}.",
    "decided": "Version {version} {decision} by {account}.",
    "decided_and_promoted": "Version {version} {decision} by {account}; it is now champion.",
}
"""Every notice a page can show, by key."""
DECISIONS = ("approved", "rejected")
_DIGITS = re.compile(r"[0-9]{1,12}")
_CASE_IDS = re.compile(r"[0-9]{1,12}(, [0-9]{1,12}){0,49}")
_FIELD = re.compile(r"{(\w+)}")


def notice_query(key: str, **fields: object) -> str:
    """The query string that makes a page show notice ``key`` with ``fields``.

    >>> notice_query("assigned", count=2, account="ivy")
    'notice=assigned&count=2&account=ivy'
    """
    if key not in NOTICES:
        raise KeyError(f"no notice {key!r}")
    return urlencode({"notice": key, **{name: str(value) for name, value in fields.items()}})


def _valid(session: Session, name: str, value: str) -> bool:
    if name in ("count", "version"):
        return bool(_DIGITS.fullmatch(value))
    if name in ("cases", "refused_cases"):
        return bool(_CASE_IDS.fullmatch(value))
    if name == "done":
        return value in BULK_STEPS.values()
    if name == "decision":
        return value in DECISIONS
    if name == "role":
        return value in ROLES
    if name == "account":
        return session.scalar(select(User.name).where(User.name == value)) is not None
    return False


def shown_notice(session: Session, query: Mapping[str, str]) -> str:
    """The sentence of the notice ``query`` asks for, or ``""`` when its key or a field is not valid."""
    template = NOTICES.get(query.get("notice", ""))
    if template is None:
        return ""
    fields = {name: query.get(name, "") for name in _FIELD.findall(template)}
    if not all(_valid(session, name, value) for name, value in fields.items()):
        return ""
    return template.format(**fields)
