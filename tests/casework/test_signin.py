"""Signing in and out: sessions the store can end, throttled and locked sign-ins, one-use form tokens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.audit import AccessEntry
from casework.store import SignInFailure, WebSession
from tests.casework.conftest import PASSWORD, case_site

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def site(scored, tmp_path):
    """A store of its own per test: failed sign-ins would otherwise carry from one test to the next."""
    return case_site(scored, tmp_path)


def _try(client: TestClient, name: str, password: str):
    token = CSRF.search(client.get("/login").text).group(1)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


def _signed_in(app, name: str) -> tuple[TestClient, str]:
    client = TestClient(app, follow_redirects=False)
    assert _try(client, name, PASSWORD).status_code == 303
    return client, CSRF.search(client.get("/cases").text).group(1)


def _refusals(engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        return [(entry.actor, entry.action, entry.detail) for entry in session.scalars(
            select(AccessEntry).where(AccessEntry.action == "login refused").order_by(AccessEntry.seq))]


def _age_failures(engine, seconds: float) -> None:
    """Move every recorded failure back in time, as if the client had waited."""
    with Session(engine) as session, session.begin():
        for row in session.scalars(select(SignInFailure)):
            row.last_failure_at -= dt.timedelta(seconds=seconds)


@pytest.mark.slow
def test_a_session_cookie_replayed_after_sign_out_is_refused(site):
    engine, app = site
    client, token = _signed_in(app, "ivy")
    cookie = client.cookies.get("cf_session")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    replay = TestClient(app, follow_redirects=False, cookies={"cf_session": cookie})
    response = replay.get("/cases")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert replay.post("/cases/claim-next", data={"csrf_token": token}).status_code == 401


@pytest.mark.slow
def test_a_session_unused_for_the_idle_time_has_ended(site, scored):
    engine, app = site
    client, _ = _signed_in(app, "ivy")
    assert client.get("/cases").status_code == 200
    idle = dt.timedelta(minutes=scored["settings"].case_store.session_idle_minutes)
    with Session(engine) as session, session.begin():
        for row in session.scalars(select(WebSession).where(WebSession.user_name == "ivy")):
            row.last_seen_at -= idle + dt.timedelta(seconds=1)
    response = client.get("/cases")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    with Session(engine) as session:
        assert session.scalars(select(WebSession).where(WebSession.user_name == "ivy")).first() is None


@pytest.mark.slow
def test_a_sign_in_form_token_serves_one_try(site):
    engine, app = site
    client = TestClient(app, follow_redirects=False)
    token = CSRF.search(client.get("/login").text).group(1)
    form_cookie = client.cookies.get("cf_login")
    first = client.post("/login", data={"username": "ivy", "password": "wrong password", "csrf_token": token})
    assert first.status_code == 401
    assert CSRF.search(first.text).group(1) != token
    replay = TestClient(app, follow_redirects=False, cookies={"cf_login": form_cookie})
    refused = replay.post("/login", data={"username": "ivy", "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 403 and "cf_session" not in refused.cookies


@pytest.mark.slow
def test_failed_sign_ins_wait_longer_each_time_then_lock_the_account_until_a_supervisor_unlocks_it(site, scored):
    engine, app = site
    settings = scored["settings"].case_store
    client = TestClient(app, follow_redirects=False)
    for _ in range(settings.sign_in_free_failures):
        assert _try(client, "ivy", "wrong password").status_code == 401
    # the next try waits, and a right password does not get round the wait
    throttled = _try(client, "ivy", PASSWORD)
    assert throttled.status_code == 429 and "wait 1 second and try again" in throttled.text
    waits = []
    for _ in range(settings.sign_in_lock_after - settings.sign_in_free_failures):
        waits.append(re.search(r"wait ([\d,]+) seconds?", _try(client, "ivy", "wrong password").text))
        _age_failures(engine, 3600)
        last = _try(client, "ivy", "wrong password")
    assert "The account is now locked" in last.text
    assert [int(found.group(1)) for found in waits] == [
        2 ** step for step in range(settings.sign_in_lock_after - settings.sign_in_free_failures)]
    _age_failures(engine, 24 * 3600)
    locked = _try(client, "ivy", PASSWORD)
    assert locked.status_code == 429 and "locked after too many failed sign-ins" in locked.text
    # every refusal is in the access log, with the client's address
    refusals = _refusals(engine)
    assert len(refusals) == 2 * (settings.sign_in_lock_after - settings.sign_in_free_failures) + \
        settings.sign_in_free_failures + 2
    assert all(actor == "ivy" and detail.startswith("testclient: ") for actor, _, detail in refusals)

    supervisor = TestClient(app, follow_redirects=False, client=("10.0.0.9", 50000))
    assert _try(supervisor, "supervisor", PASSWORD).status_code == 303
    page = supervisor.get("/cases").text
    assert "Account <strong>ivy</strong> is locked" in page
    unlocked = supervisor.post("/accounts/ivy/unlock", data={"csrf_token": CSRF.search(page).group(1)})
    assert "Account ivy unlocked." in supervisor.get(unlocked.headers["location"]).text
    # the address that failed still waits; another address signs in at once
    elsewhere = TestClient(app, follow_redirects=False, client=("10.0.0.7", 50000))
    assert _try(elsewhere, "ivy", PASSWORD).status_code == 303


@pytest.mark.slow
def test_failures_from_one_address_slow_it_down_whatever_accounts_it_tries(site, scored):
    engine, app = site
    client = TestClient(app, follow_redirects=False)
    names = [f"guess{number}" for number in range(scored["settings"].case_store.sign_in_free_failures)]
    for name in names:
        assert _try(client, name, "wrong password").status_code == 401
    assert _try(client, "supervisor", PASSWORD).status_code == 429
    assert _try(TestClient(app, follow_redirects=False, client=("10.0.0.8", 1)), "supervisor", PASSWORD).status_code == 303
