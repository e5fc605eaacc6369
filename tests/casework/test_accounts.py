"""Administering accounts in the store (SQLite and PostgreSQL), and filtering and exporting the access log."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import audit, store
from casework.auth import (
    Sessions,
    accounts,
    add_user,
    authenticate,
    change_role,
    delete_account,
    disable_account,
    enable_account,
    reset_password,
)
from casework.store import CaseworkError, User, WebSession
from tests.casework.conftest import PASSWORD, add_accounts

ACCOUNTS = {"ada": "admin", "abe": "admin", "ivy": "investigator", "sam": "supervisor", "pat": "panel"}


@pytest.fixture
def engine(store_url):
    engine = store.open_store(store_url)
    add_accounts(engine, ACCOUNTS)
    return engine


def _open_sessions(engine, name: str, count: int = 2) -> None:
    with Session(engine) as session, session.begin():
        sessions = Sessions(store.store_secret(session), 3600, 3600)
        for _ in range(count):
            sessions.open(session, name)


def _sessions_of(engine, name: str) -> int:
    with Session(engine) as session:
        return len(session.scalars(select(WebSession).where(WebSession.user_name == name)).all())


def _refused(engine, change, *args) -> str:
    with pytest.raises(CaseworkError) as refused, Session(engine) as session, session.begin():
        change(session, *args)
    return str(refused.value)


def test_disabling_ends_the_sessions_and_stops_the_account_until_it_is_re_enabled(engine):
    _open_sessions(engine, "ivy")
    with Session(engine) as session, session.begin():
        assert disable_account(session, "ada", "ivy") == 2
    assert _sessions_of(engine, "ivy") == 0
    with Session(engine) as session, session.begin():
        assert authenticate(session, "ivy", PASSWORD) is None
        assert store.role_of(session, "ivy") is None  # it may neither act nor be given a case
        assert "ivy" not in {user.name for user in accounts(session)}
        assert "ivy" in {user.name for user in accounts(session, include_inactive=True)}
    assert _refused(engine, disable_account, "ada", "ivy") == "account ivy is already disabled"
    with Session(engine) as session, session.begin():
        enable_account(session, "ada", "ivy")
    with Session(engine) as session:
        assert authenticate(session, "ivy", PASSWORD).name == "ivy"
        assert store.role_of(session, "ivy") == "investigator"


def test_no_one_disables_deletes_or_demotes_themselves_or_the_last_administrator(engine):
    for change, args in ((disable_account, ()), (delete_account, ()), (change_role, ("panel",))):
        assert _refused(engine, change, "ada", "ada", *args).startswith("you cannot ")
    with Session(engine) as session, session.begin():
        disable_account(session, "ada", "abe")
    # from the command line (the system acts), the one administrator left is kept
    for change, args in ((disable_account, ()), (delete_account, ()), (change_role, ("supervisor",))):
        assert _refused(engine, change, store.SYSTEM_ACTOR, "ada", *args).startswith(
            "ada is the last active administrator")
    with Session(engine) as session, session.begin():
        enable_account(session, store.SYSTEM_ACTOR, "abe")
        change_role(session, "abe", "ada", "supervisor")
        assert session.get(User, "ada").role == "supervisor"
    assert _refused(engine, change_role, "abe", "ivy", "boss") == (
        "unknown role 'boss': one of investigator, supervisor, panel, admin")


def test_a_deleted_account_keeps_its_name_for_the_history_and_never_signs_in_again(engine):
    _open_sessions(engine, "sam", 1)
    with Session(engine) as session, session.begin():
        audit.record(session, "sam", "view case", "7")
        assert delete_account(session, "ada", "sam") == 1
    with Session(engine) as session:
        sam = session.get(User, "sam")
        assert sam.deleted_at is not None and not sam.active and sam.password_hash == ""
        assert authenticate(session, "sam", PASSWORD) is None
        assert [(entry.actor, entry.action) for entry in audit.recent_entries(session)] == [("sam", "view case")]
    assert _sessions_of(engine, "sam") == 0
    for change, args in ((enable_account, ()), (reset_password, ("a new long password",)),
                         (change_role, ("investigator",))):
        assert "was deleted on" in _refused(engine, change, "ada", "sam", *args)
    refused = _refused(engine, add_user, "sam", "investigator", PASSWORD)
    assert refused.startswith("the name 'sam' belonged to an account deleted on ") and "not reused" in refused


def test_a_reset_password_replaces_the_old_one_and_ends_the_sessions(engine):
    _open_sessions(engine, "pat")
    assert _refused(engine, reset_password, "ada", "pat", "short") == "a password needs at least 12 characters"
    with Session(engine) as session, session.begin():
        assert reset_password(session, "ada", "pat", "a brand new passphrase") == 2
    with Session(engine) as session:
        assert authenticate(session, "pat", PASSWORD) is None
        assert authenticate(session, "pat", "a brand new passphrase").name == "pat"
    assert _sessions_of(engine, "pat") == 0


@pytest.mark.slow
def test_an_account_holding_open_cases_keeps_a_role_that_can_open_them(engine, scored):
    from casework.imports import import_run

    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        case = store.claim_next(session, store.latest_run(session).run_id, "ivy")
        case_id, version = case.id, case.version
    assert _refused(engine, change_role, "ada", "ivy", "panel") == (
        "ivy holds 1 open case(s), and a panel cannot open cases: a supervisor reassigns them first")
    with Session(engine) as session, session.begin():
        change_role(session, "ada", "ivy", "supervisor")
        # a disabled account is no assignee: the workflow refuses to give it a case
        disable_account(session, "ada", "sam")
    with pytest.raises(CaseworkError, match="sam is not an investigator or supervisor account"), \
            Session(engine) as session, session.begin():
        store.assign(session, case_id, version, "ivy", "sam")


def test_the_access_log_is_filtered_by_account_action_outcome_dates_and_words(engine):
    with Session(engine) as session, session.begin():
        audit.record(session, "ivy", "login", "", "10.0.0.1")
        audit.record(session, "ivy", "view case", "12", "HC0001")
        audit.record(session, "mallory", "login refused", "", "10.0.0.9: Unknown account or wrong password.")
        audit.record(session, "sam", "refused", "POST /admin/users", "the supervisor role cannot open this page")
        audit.record(session, "ada", "disable account", "ivy", "1 session(s) ended")

    def found(**criteria) -> list[int]:
        with Session(engine) as session:
            entries, total = audit.find_entries(session, audit.LogFilter(**criteria))
        assert total == len(entries)
        return [entry.seq for entry in entries]

    assert found() == [5, 4, 3, 2, 1]
    assert found(actor="ivy") == [2, 1]
    assert found(action="login") == [3, 1]
    assert found(outcome="refused") == [4, 3]
    assert found(action="login", outcome="done") == [1]
    assert found(words="10.0.0") == [3, 1]
    assert found(words="IVY") == [5, 2, 1]  # the account and the target, whatever the case
    assert found(words="100%") == []  # a % is a character looked for, not a wildcard
    today = store.now().date()
    assert found(since=today, until=today) == [5, 4, 3, 2, 1]
    assert found(until=today - dt.timedelta(days=1)) == []
    with pytest.raises(CaseworkError, match="the date range ends"):
        audit.LogFilter(since=today, until=today - dt.timedelta(days=1))
    with Session(engine) as session:
        rows = list(audit.filtered_entries(session, audit.LogFilter(outcome="refused")))
        assert [row["seq"] for row in rows] == [3, 4] and list(rows[0]) == list(audit.EXPORT_COLUMNS)
        assert audit.log_choices(session) == {"actor": ["ada", "ivy", "mallory", "sam"],
                                              "action": ["disable account", "login", "refused", "view case"]}
