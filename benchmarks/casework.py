"""Case store and case-review page speed: importing a scoring run, and the list and case pages.

Imports a real run's output directory into a fresh SQLite store (the embedded default), then signs
in as an investigator and requests the work list (pages of 50, with and without a filter) and case
pages through the application's full HTTP stack (Starlette's test client: routing, session
cookie, templates, access log), and reports the 95th percentile of each. Goals: import under 30 s
and each page under 300 ms at the 95th percentile, on a 1 M-people run.

``python -m benchmarks.casework --run DIR`` prints the section; :func:`benchmarks.run` adds it to
the report for the largest world.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CASEWORK_HEADING = "## Case store and case-review page"
IMPORT_GOAL_S = 30.0
PAGE_GOAL_MS = 300.0
REQUESTS = 60
BENCH_ACCOUNT = "bench-investigator"
BENCH_PASSWORD = "benchmark password 1"


@dataclass(frozen=True)
class CaseworkSpeed:
    cases: int
    import_s: float
    import_cpu_s: float
    """CPU seconds of this process (all its threads) during the import: the wall time on a shared
    machine depends on the load; this does not."""
    list_p95_ms: float
    case_p95_ms: float
    requests: int


def _p95_ms(call: Callable[[int], object], requests: int) -> float:
    call(0)  # templates compiled, connections opened
    times = []
    for number in range(requests):
        started = time.perf_counter()
        call(number)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 95))


def measure_casework(run_dir: Path, workdir: Path, requests: int = REQUESTS) -> CaseworkSpeed:
    """Import ``run_dir`` into a new store under ``workdir`` and time the two pages."""
    from fastapi.testclient import TestClient
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from casework.app import create_app
    from casework.auth import add_user
    from casework.imports import import_run
    from casework.store import Case, open_store
    from configs.settings import CaseStoreSettings

    engine = open_store(f"sqlite:///{workdir / 'bench-cases.db'}")
    started, started_cpu = time.perf_counter(), time.process_time()
    result = import_run(engine, run_dir)
    import_s, import_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    with Session(engine) as session, session.begin():
        add_user(session, BENCH_ACCOUNT, "investigator", BENCH_PASSWORD)
        case_ids = list(session.scalars(select(Case.id).order_by(Case.rank)))
    client = TestClient(create_app(engine, CaseStoreSettings()))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": BENCH_ACCOUNT, "password": BENCH_PASSWORD, "csrf_token": token})
    pages = max(1, len(case_ids) // 50)

    def list_page(number: int) -> None:
        query = f"/cases?page_number={number % pages + 1}" + ("&subject_type=benefit_claim" if number % 2 else "")
        assert client.get(query).status_code == 200

    def case_page(number: int) -> None:
        assert client.get(f"/cases/{case_ids[(number * 7919) % len(case_ids)]}").status_code == 200

    return CaseworkSpeed(cases=result.new_cases, import_s=import_s, import_cpu_s=import_cpu_s,
                         list_p95_ms=_p95_ms(list_page, requests), case_p95_ms=_p95_ms(case_page, requests),
                         requests=requests)


def format_section(people: int, speed: CaseworkSpeed) -> str:
    """The report's "Case store and page" section."""
    rows = [
        (f"import a {people:,}-people run ({speed.cases:,} cases)", f"{speed.import_s:.1f} s ({speed.import_cpu_s:.1f} CPU s)",
         f"< {IMPORT_GOAL_S:.0f} s", speed.import_s < IMPORT_GOAL_S),
        ("work list page, 95th percentile", f"{speed.list_p95_ms:.0f} ms", f"< {PAGE_GOAL_MS:.0f} ms",
         speed.list_p95_ms < PAGE_GOAL_MS),
        ("case page, 95th percentile", f"{speed.case_p95_ms:.0f} ms", f"< {PAGE_GOAL_MS:.0f} ms",
         speed.case_p95_ms < PAGE_GOAL_MS),
    ]
    lines = [CASEWORK_HEADING, "",
             f"The run imported into a new SQLite store, then {speed.requests} requests of each page "
             "through the application (session, templates, access log), signed in as an investigator.",
             "", "| measure | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {measured} | {goal} | {'yes' if met else 'no'} |" for name, measured, goal, met in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a scoring run's output directory")
    parser.add_argument("--people", type=int, default=0, help="people in the run's world (for the report)")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cf-casework-bench-") as workdir:
        print(format_section(args.people, measure_casework(args.run, Path(workdir), args.requests)))


if __name__ == "__main__":
    main()
