"""Investigators and a supervisor over HTTP against ``counterfraud app``, on a fresh store holding the reference run.

Each investigator claims the next case, starts it and closes it; the supervisor bulk-assigns cases
from the list it read. Afterwards every acknowledged close is looked up in the store and the access
log's hash chain is verified.
"""

from __future__ import annotations

import contextlib
import random
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.reliability.stores import fresh_store
from benchmarks.reliability.world import World, cli, config
from benchmarks.run import _free_port, serving

LOAD_PASSWORD = "reliability load password"


@dataclass
class LoadRecord:
    """What the clients saw: (start offset s, seconds, status) per request, claims and acknowledged closes."""

    requests: list[tuple[float, float, int]] = field(default_factory=list)
    claims: list[int] = field(default_factory=list)
    closes: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class LoadRun:
    """One load test: what the clients saw, what the store kept, and when it was disturbed."""

    store: str
    investigators: int
    seconds: float
    record: LoadRecord
    stored: dict[int, str]
    """The outcome the store holds for each acknowledged close."""
    window: tuple[float, float] | None
    """Seconds from the start between which the store was disturbed (:mod:`.outage`), if it was."""
    access_log: str
    """The last line of ``counterfraud audit verify``."""

    def disturbed(self, begun: float, took: float) -> bool:
        """Whether a request begun at ``begun`` and lasting ``took`` overlapped the disturbance."""
        return self.window is not None and self.window[0] <= begun + took and begun <= self.window[1]


@dataclass(frozen=True)
class Load:
    store: str
    investigators: int
    seconds: float
    requests: int
    p95_ms: float
    p99_ms: float
    claimed_twice: int
    closes: int
    closes_lost: int
    server_errors: int
    """5xx answers (or refused connections) outside the disturbance."""
    disturbed: bool
    access_log: str

    @classmethod
    def of(cls, run: LoadRun) -> Load:
        requests = run.record.requests
        times = np.array([took for _, took, _ in requests]) * 1000
        return cls(store=run.store, investigators=run.investigators, seconds=run.seconds, requests=len(requests),
                   p95_ms=float(np.percentile(times, 95)), p99_ms=float(np.percentile(times, 99)),
                   claimed_twice=len(run.record.claims) - len(set(run.record.claims)),
                   closes=len(run.record.closes),
                   closes_lost=sum(run.stored.get(case_id) != outcome
                                   for case_id, outcome in run.record.closes.items()),
                   server_errors=sum(not run.disturbed(begun, took) and (status >= 500 or status == 0)
                                     for begun, took, status in requests),
                   disturbed=run.window is not None, access_log=run.access_log)


class _Client:
    """One signed-in account of the case-review page, timing every request into ``record``."""

    def __init__(self, base: str, name: str, record: LoadRecord, started: float) -> None:
        import httpx

        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        self.record, self.started = record, started
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.http.get("/login").text).group(1)
        self.http.post("/login", data={"username": name, "password": LOAD_PASSWORD, "csrf_token": token})
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', self.http.get("/cases").text).group(1)

    def call(self, method: str, path: str, **form: object) -> tuple[int, str, str]:
        """Status, body and redirect target; a refused connection counts as status 0."""
        import httpx

        began = time.perf_counter()
        try:
            answer = self.http.request(method, path, data={"csrf_token": self.csrf, **form} if method == "POST"
                                       else None)
            status, text, location = answer.status_code, answer.text, answer.headers.get("location", "")
        except httpx.HTTPError:
            status, text, location = 0, "", ""
        with self.record.lock:
            self.record.requests.append((began - self.started, time.perf_counter() - began, status))
        return status, text, location


def _version(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    return found.group(1) if found else "0"


def _investigate(client: _Client, until: float, rng: random.Random) -> None:
    from casework.workflow import OUTCOMES

    while time.perf_counter() < until:
        client.call("GET", f"/cases?page_number={rng.randint(1, 4)}")
        status, _, location = client.call("POST", "/cases/claim-next")
        found = re.fullmatch(r"/cases/(\d+)", location)
        if status != 303 or not found:
            time.sleep(0.05)
            continue
        case_id = int(found.group(1))
        with client.record.lock:
            client.record.claims.append(case_id)
        _, page, _ = client.call("GET", f"/cases/{case_id}")
        client.call("POST", f"/cases/{case_id}/start", version=_version(page))
        _, page, _ = client.call("GET", f"/cases/{case_id}")
        outcome = rng.choice(OUTCOMES)
        status, _, _ = client.call("POST", f"/cases/{case_id}/close", version=_version(page), outcome=outcome,
                                   note="closed under load")
        if status == 303:
            with client.record.lock:
                client.record.closes[case_id] = outcome


def _supervise(client: _Client, until: float, rng: random.Random, investigators: list[str]) -> None:
    while time.perf_counter() < until:
        _, page, _ = client.call("GET", "/cases?status=new")
        boxes = re.findall(r'name="case_id" value="(\d+:\d+)"', page)
        if boxes:
            client.call("POST", "/cases/bulk-assign", case_id=rng.sample(boxes, min(3, len(boxes))),
                        assignee=rng.choice(investigators))
        time.sleep(0.2)


@contextlib.contextmanager
def _app(world: World, settings: Path) -> Iterator[str]:
    """``counterfraud app`` on the store of ``settings``, until the block ends."""
    port = _free_port()
    with world.log.open("ab") as sink:
        server = subprocess.Popen(cli("app", "--port", str(port), "--workspace", str(world.workspace),
                                      "--config", str(settings)), env=world.env, stdout=sink,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    with serving(server, f"{base}/healthz", 120, f"counterfraud app did not start; see {world.log}"):
        yield base


def load_test(world: World, store: str, investigators: int, seconds: float, rng: random.Random,
              disturb: Callable[[str], None] | None = None) -> LoadRun:
    """Investigators and a supervisor for ``seconds`` on a fresh store of kind ``store`` holding the
    reference run; half-way, ``disturb(database)`` (the PostgreSQL database's name, empty for SQLite)
    runs while the load goes on."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from casework.auth import add_user
    from casework.imports import import_run
    from casework.store import Case, open_store

    names = [f"investigator-{number}" for number in range(investigators)]
    record = LoadRecord()
    window = None
    with fresh_store(store, "load", world.root) as (url, database):
        engine = open_store(url)
        import_run(engine, world.reference)
        with Session(engine) as session, session.begin():
            for name in names:
                add_user(session, name, "investigator", LOAD_PASSWORD)
            add_user(session, "supervisor", "supervisor", LOAD_PASSWORD)
        settings = config(world.root / f"load_{store}.yaml", url)
        with _app(world, settings) as base:
            started = time.perf_counter()
            clients = [_Client(base, name, record, started) for name in [*names, "supervisor"]]
            until = time.perf_counter() + seconds
            threads = [threading.Thread(target=_investigate, args=(client, until, random.Random(rng.random())))
                       for client in clients[:-1]]
            threads.append(threading.Thread(target=_supervise, args=(clients[-1], until,
                                                                      random.Random(rng.random()), names)))
            for thread in threads:
                thread.start()
            if disturb is not None:
                time.sleep(seconds / 2)
                disturbed_from = time.perf_counter() - started
                disturb(database)
                window = (disturbed_from, time.perf_counter() - started)
            for thread in threads:
                thread.join()
        with Session(engine) as session:
            stored = dict(session.execute(select(Case.id, Case.outcome).where(Case.id.in_(record.closes))).all())
        engine.dispose()
        audit = subprocess.run(cli("audit", "verify", "--workspace", str(world.workspace), "--config", str(settings)),
                               env=world.env, capture_output=True, text=True)
    return LoadRun(store=store, investigators=investigators, seconds=seconds, record=record, stored=stored,
                   window=window, access_log=(audit.stdout.strip() or audit.stderr.strip()).splitlines()[-1])
