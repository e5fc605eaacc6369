"""The PostgreSQL case store made unreachable for a few seconds while the load goes on, and what users saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.reliability.load import LoadRun
from benchmarks.reliability.stores import POSTGRES_ADMIN


def cut_off(database: str, allowed: bool) -> None:
    """Refuse (or allow again) every new connection to ``database``; on refusal end the open ones."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [database])


def outage(seconds: float) -> Callable[[str], None]:
    """A disturbance for :func:`.load.load_test`: the database unreachable for ``seconds``."""

    def unreachable(database: str) -> None:
        cut_off(database, allowed=False)
        time.sleep(seconds)
        cut_off(database, allowed=True)

    return unreachable


@dataclass(frozen=True)
class Outage:
    seconds: float
    answered_503: int
    other_5xx: int
    """Other 5xx answers, or refused connections, during the outage."""
    recovered_s: float
    """From connections allowed again to the first request answered without a 5xx."""

    @classmethod
    def of(cls, run: LoadRun, seconds: float) -> Outage:
        during = [status for begun, took, status in run.record.requests if run.disturbed(begun, took)]
        after = sorted(begun + took for begun, took, status in run.record.requests
                       if begun > run.window[1] and 0 < status < 500)
        return cls(seconds=seconds, answered_503=sum(status == 503 for status in during),
                   other_5xx=sum(status >= 500 and status != 503 or status == 0 for status in during),
                   recovered_s=(after[0] - run.window[1]) if after else float("nan"))
