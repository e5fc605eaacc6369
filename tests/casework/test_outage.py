"""The page while the case store is unreachable: a 503 page, one log line per failure, a health endpoint."""

from __future__ import annotations

import logging

import psycopg
import pytest
from fastapi.testclient import TestClient

from casework import store
from casework.app import create_app
from casework.imports import import_run
from tests.casework.conftest import PASSWORD, POSTGRES_ADMIN, add_accounts, temporary_postgres
from tests.casework.test_signin import _try


def _cut_off(database: str, allowed: bool) -> None:
    """Refuse (or allow again) every connection to ``database`` and end the open ones."""
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [database])


@pytest.mark.slow
def test_an_outage_shows_a_retry_page_logs_one_line_and_fails_the_health_check(scored, caplog):
    with temporary_postgres("outage") as url:
        engine = store.open_store(url)
        import_run(engine, scored["first"])
        add_accounts(engine, {"ivy": "investigator"})
        client = TestClient(create_app(engine, scored["settings"].case_store), follow_redirects=False)
        assert client.get("/healthz").json() == {"status": "ok", "case_store": "reachable"}
        assert _try(client, "ivy", PASSWORD).status_code == 303
        database = url.rsplit("/", 1)[1]
        _cut_off(database, allowed=False)
        try:
            with caplog.at_level(logging.ERROR, logger="casework.app"):
                page = client.get("/cases")
                login = client.get("/login")
            health = client.get("/healthz")
        finally:
            _cut_off(database, allowed=True)
        assert page.status_code == login.status_code == 503
        assert "The case store cannot be reached just now" in page.text and page.headers["Retry-After"] == "30"
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        lines = [record for record in caplog.records if record.name == "casework.app"]
        assert len(lines) == 2 and all(record.exc_info is None for record in lines)
        assert "case store unreachable on GET /cases" in lines[0].getMessage()
        # back without a restart, the session intact
        assert client.get("/healthz").status_code == 200
        assert client.get("/cases").status_code == 200
