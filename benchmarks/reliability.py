"""Reliability at the boundaries: kill -9, corrupted rows, load over HTTP and a case-store outage.

``python -m benchmarks.reliability`` (run by ``make bench``) measures, on one generated world and
the machine's PostgreSQL (127.0.0.1:5432, database ``test``, trust authentication):

- **kill -9 of score**: ``counterfraud score`` killed at random moments and at aimed ones (while it
  writes its staging directory, once its run is published and it imports the work list, while it
  copies to ``--out``), then run again; every rerun's case files must equal, byte for byte, those of
  a clean run, and no run of the history may look complete with other bytes. Each killed command's
  processes (its temporary Prefect server above all) are counted a few seconds after the kill.
- **kill -9 of cases import** inside the import's write transaction, on PostgreSQL and SQLite:
  the store holds all of the run or none of it, and after the import is run again, every case once.
- **corrupted rows**: extracts of :mod:`tests.features.corrupted_rows` (rows each breaking one rule)
  checked against the contract: refused with their rule, no clean row refused, no traceback.
- **load**: investigators (claim next, start, close) and a supervisor (bulk assign from the list it
  read) over HTTP against ``counterfraud app`` on PostgreSQL; the store is then made unreachable for
  a few seconds (connections refused, backends terminated) while the load goes on.

It writes its section of ``benchmarks/RESULTS.md`` (``--smoke``: a tiny run, into a given file).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from benchmarks.run import (
    BENCH_PANEL,
    BENCH_PANEL_PASSWORD,
    BENCH_TRAINER,
    RESULTS,
    _free_port,
    _machine,
    measure,
    prefect_server,
    serving,
)

HEADING = "## Reliability"
POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
CASE_FILES = ("cases.csv", "cases.parquet", "explanations.parquet", "links.parquet", "rejects.csv")
LOAD_PASSWORD = "reliability load password"
LEFTOVER_WAIT_S = 5.0
"""A killed command's processes still running this long after the kill are counted as left behind."""
SETTINGS = ("detector:\n  isolation_forest: {n_estimators: 50}\n  autoencoder: {hidden_neurons: [16, 8, 16], epochs: 5}\n"
            "capacity: {share: 0.2}\n")
"""A smaller detector than the default (these figures are about faults, not the quality of flags), and a
work list of a fifth of the subjects, so that the investigators of the load test do not run out of cases."""
AIMS = ("random", "staging", "importing", "copying")
"""Where a score is killed, in turn: at a random moment, or aimed (see :func:`_aim`)."""


@dataclass(frozen=True)
class Profile:
    """How much of each test to run."""

    people: int
    score_kills: int
    import_kills: int
    """Per store (PostgreSQL, SQLite)."""
    fault_seeds: int
    bad_rows_per_table: int
    investigators: int
    load_seconds: float
    outage_seconds: float
    seed: int = 7


DEFAULT = Profile(people=5_000, score_kills=4, import_kills=4, fault_seeds=4, bad_rows_per_table=1_500,
                  investigators=8, load_seconds=30.0, outage_seconds=5.0)
SMOKE = Profile(people=600, score_kills=1, import_kills=1, fault_seeds=1, bad_rows_per_table=80,
                investigators=2, load_seconds=4.0, outage_seconds=1.0)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


# ------------------------------------------------------------------------------------------ stores


def create_database(purpose: str) -> str:
    """A fresh PostgreSQL database ``cf_<purpose>_<hex>``; returns its name."""
    import psycopg

    name = f"cf_{purpose}_{secrets.token_hex(5)}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cut_off(database: str, allowed: bool) -> None:
    """Refuse (or allow again) every new connection to ``database``; on refusal end the open ones."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [database])


def store_rows(url: str) -> dict[str, int]:
    """Rows per table an import writes, and the cases that share a subject and a run (duplicates)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from casework.store import Case, CaseDetail, CaseScore, Event, Run, open_store

    engine = open_store(url)
    try:
        with Session(engine) as session:
            counts = {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                      for model in (Run, Case, CaseDetail, CaseScore, Event)}
            distinct = session.scalar(select(func.count(func.distinct(Case.subject_ref))))
    finally:
        engine.dispose()
    counts["duplicate cases"] = counts["cases"] - distinct
    return counts


def _config(path: Path, url: str) -> Path:
    path.write_text(SETTINGS + f"case_store:\n  url: {url}\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ processes


class Watched:
    """A command run in its own process, every process of its tree remembered while it runs."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        with log.open("ab") as sink:
            self.process = subprocess.Popen(list(argv), env=env, stdout=sink, stderr=subprocess.STDOUT)
        self.tree: dict[int, float] = {}
        self.scanned = 0.0

    def running(self) -> bool:
        """Whether the command still runs; its process tree is read again every 50 ms."""
        if time.monotonic() - self.scanned > 0.05:
            self.scanned = time.monotonic()
            with contextlib.suppress(psutil.Error):
                for member in psutil.Process(self.process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        self.tree.setdefault(member.pid, member.create_time())
        return self.process.poll() is None

    def kill(self) -> int:
        """SIGKILL the command (only its own process, as the out-of-memory killer would); return how
        many of its other processes still run :data:`LEFTOVER_WAIT_S` later (those are then ended)."""
        self.scanned = 0.0
        self.running()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        time.sleep(LEFTOVER_WAIT_S)
        left = []
        for pid, created in self.tree.items():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(process)
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.kill()
        return len(left)


def _wait_for(watched: Watched, seen: Callable[[], bool], timeout: float = 900.0) -> bool:
    """Poll until ``seen()`` holds (True) or the command ends first (False)."""
    deadline = time.monotonic() + timeout
    while watched.running() and time.monotonic() < deadline:
        if seen():
            return True
        time.sleep(0.002)
    return False


# ------------------------------------------------------------------------------------------ the world


@dataclass(frozen=True)
class World:
    """A generated world, its trained workspace and its PostgreSQL case store."""

    root: Path
    data: Path
    workspace: Path
    config: Path
    """Settings of every command: :data:`SETTINGS` and the store."""
    database: str
    env: dict[str, str]
    """With the benchmark's Prefect server."""
    log: Path
    reference: Path
    """A clean scoring run's ``--out``, imported into the store."""
    score_s: float
    """The wall time of that run."""

    @property
    def url(self) -> str:
        return POSTGRES_URL.format(database=self.database)


def build_world(profile: Profile, root: Path, env: dict[str, str], log: Path) -> World:
    """Generate, train, approve and score once (the reference run, imported into a PostgreSQL store)."""
    database = create_database("reliability")
    try:
        return _built_world(profile, root, env, log, database)
    except BaseException:
        drop_database(database)  # the caller drops it only once it has the world
        raise


def _built_world(profile: Profile, root: Path, env: dict[str, str], log: Path, database: str) -> World:
    data, workspace, reference, truth = root / "data", root / "workspace", root / "reference", root / "truth.parquet"
    root.mkdir(parents=True, exist_ok=True)
    config = _config(root / "config.yaml", POSTGRES_URL.format(database=database))
    store = ["--workspace", str(workspace), "--config", str(config)]
    measure(_cli("generate", "--out", str(data), "--people", str(profile.people), "--seed",
                 str(profile.seed), "--truth", str(truth)), env, log)
    measure(_cli("train", "--data", str(data), "--truth", str(truth), "--by", BENCH_TRAINER, *store), env, log)
    # approve takes no --config: it reads panel accounts from the workspace's own store
    measure(_cli("users", "add", BENCH_PANEL, "--role", "panel", "--workspace", str(workspace)), env, log,
            BENCH_PANEL_PASSWORD)
    measure(_cli("approve", "--model-version", "challenger", "--by", BENCH_PANEL, "--note", "reliability benchmark",
                 "--promote", "--workspace", str(workspace)), env, log, BENCH_PANEL_PASSWORD)
    scored = measure(_cli("score", "--data", str(data), "--out", str(reference), *store), env, log)
    return World(root=root, data=data, workspace=workspace, config=config, database=database, env=env, log=log,
                 reference=reference, score_s=scored.wall_s)


def _score_argv(world: World, out: Path) -> list[str]:
    return _cli("score", "--data", str(world.data), "--out", str(out), "--workspace", str(world.workspace),
                "--config", str(world.config))


# ------------------------------------------------------------------------------------------ kill -9 of score


@dataclass(frozen=True)
class ScoreKills:
    kills: dict[str, int]
    """Kills per aim; a command that ended before its aim was reached is not counted."""
    reruns_identical: int
    reruns: int
    complete_but_different: int
    """Runs of the history or ``--out`` directories saying complete whose case files differ."""
    left_behind: int
    """Processes of killed commands still running after :data:`LEFTOVER_WAIT_S`."""


def _same_cases(directory: Path, reference: Path) -> bool:
    return all((directory / name).is_file() and (directory / name).read_bytes() == (reference / name).read_bytes()
               for name in CASE_FILES)


def _says_complete(directory: Path) -> bool:
    try:
        return json.loads((directory / "run_summary.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def _aim(aim: str, world: World, out: Path, rng: random.Random) -> Callable[[], bool]:
    """When to kill: ``random`` after a random share of a clean run's time; ``staging`` once the run's
    hidden staging directory exists; ``importing`` once the run is published (the work list then goes to
    the case store); ``copying`` once a temporary file of the copy to ``--out`` exists."""
    runs = world.workspace / "runs"
    if aim == "random":
        deadline = time.monotonic() + rng.uniform(0.05, 1.0) * world.score_s
        return lambda: time.monotonic() >= deadline
    if aim == "staging":
        return lambda: any(runs.glob(".partial-*"))
    if aim == "importing":
        before = {path.name for path in runs.iterdir()}
        return lambda: any(not path.name.startswith(".") and path.name not in before for path in runs.iterdir())
    return lambda: any(out.glob(".*.tmp"))


def kill_score(world: World, kills: int, rng: random.Random) -> ScoreKills:
    """Kill ``kills`` scoring commands at the moments of :data:`AIMS` in turn; rerun each (see module doc).

    The commands killed at an aimed moment start their own temporary Prefect server (no
    ``PREFECT_API_URL``), as a command run by hand does, so what a kill leaves running is counted;
    those killed at random use the benchmark's server, so that their moments spread over the flow's
    own work rather than a server's start. The reruns use the benchmark's server.
    """
    own_server = {key: value for key, value in world.env.items() if key != "PREFECT_API_URL"}
    counted = dict.fromkeys(AIMS, 0)
    identical = reruns = left = 0
    for number in range(kills):
        aim = AIMS[number % len(AIMS)]
        out = world.root / f"killed_score_{number}"
        reached = _aim(aim, world, out, rng)
        watched = Watched(_score_argv(world, out), world.env if aim == "random" else own_server, world.log)
        if _wait_for(watched, reached):
            left += watched.kill()
            counted[aim] += 1
        else:
            watched.process.wait()
        measure(_score_argv(world, out), world.env, world.log)
        reruns += 1
        identical += _says_complete(out) and _same_cases(out, world.reference)
    from pipelines.runs import completed_runs

    kept = [record.path for record in completed_runs(world.workspace / "runs")]
    outs = [path for path in world.root.glob("killed_score_*") if _says_complete(path)]
    different = sum(not _same_cases(path, world.reference) for path in [*kept, *outs])
    return ScoreKills(kills=counted, reruns_identical=identical, reruns=reruns, complete_but_different=different,
                      left_behind=left)


# ------------------------------------------------------------------------------------------ kill -9 of cases import


@dataclass(frozen=True)
class ImportKills:
    store: str
    kills: int
    inside_transaction: int
    """Kills while the import's write transaction was open (seen just before the kill)."""
    all_or_nothing: int
    committed: int
    """Of the kills, those after which the store held the whole run (the kill came after the commit)."""
    duplicates: int
    reruns_complete: int


def _postgres_writing(database: str) -> Callable[[], bool]:
    """Whether a connection to ``database`` holds a transaction that has written (has a transaction id)."""
    import psycopg

    admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True)

    def writing() -> bool:
        return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_xid IS NOT NULL",
                             [database]).fetchone()[0] > 0

    writing.close = admin.close  # type: ignore[attr-defined]
    return writing


def _sqlite_writing(path: Path) -> Callable[[], bool]:
    """Whether another connection holds the write lock of the SQLite file (every transaction of the
    store begins IMMEDIATE: the import's one long transaction holds it for seconds)."""

    def writing() -> bool:
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()

    writing.close = lambda: None  # type: ignore[attr-defined]
    return writing


def kill_imports(world: World, store: str, kills: int, rng: random.Random) -> ImportKills:
    """``cases import`` of the reference run into a fresh store, killed inside its write transaction."""
    from casework.store import open_store

    inside = whole_or_none = committed = duplicates = complete = 0
    expected: dict[str, int] | None = None
    for number in range(kills + 1):  # the first, not killed, gives the rows a whole import writes
        database = create_database("import") if store == "postgresql" else ""
        sqlite_file = world.root / f"import_{number}.db"
        url = POSTGRES_URL.format(database=database) if database else f"sqlite:///{sqlite_file}"
        config = _config(world.root / f"import_{number}.yaml", url)
        open_store(url).dispose()  # the schema first: the command's one write transaction is the import
        argv = _cli("cases", "import", "--run", str(world.reference), "--workspace", str(world.workspace),
                    "--config", str(config))
        try:
            if expected is None:
                measure(argv, world.env, world.log)
                expected = store_rows(url)
                continue
            writing = _postgres_writing(database) if database else _sqlite_writing(sqlite_file)
            watched = Watched(argv, world.env, world.log)
            try:
                # still writing 50 ms later: the import's long transaction, not the start's schema check
                if _wait_for(watched, lambda held=writing: held() and (time.sleep(0.05) or held())):
                    time.sleep(rng.uniform(0.0, 0.3))
                    inside += writing()
                    watched.kill()
                else:
                    watched.process.wait()
            finally:
                writing.close()
            after = store_rows(url)
            empty = all(count == 0 for name, count in after.items() if name != "duplicate cases")
            whole_or_none += empty or after == expected
            committed += after == expected
            measure(argv, world.env, world.log)
            rerun = store_rows(url)
            complete += rerun == expected
            duplicates += rerun["duplicate cases"]
        finally:
            if database:
                drop_database(database)
    return ImportKills(store=store, kills=kills, inside_transaction=inside, all_or_nothing=whole_or_none,
                       committed=committed, duplicates=duplicates, reruns_complete=complete)


# ------------------------------------------------------------------------------------------ corrupted rows


@dataclass(frozen=True)
class RowFaults:
    seeds: int
    corrupted: int
    clean: int
    refused_right: int
    corrupted_accepted: int
    clean_refused: int
    tracebacks: int


def row_faults(root: Path, seeds: int, bad_rows_per_table: int) -> RowFaults:
    """Extracts of corrupted rows (one per seed) checked against the contract."""
    from features.contract import CONTRACT, check_extract
    from tests.features.corrupted_rows import (
        GOOD_ROWS_PER_TABLE,
        LONGEST_GOOD_TEXT,
        NASTY,
        bad_extract,
    )

    good_rows = max(GOOD_ROWS_PER_TABLE, bad_rows_per_table // 20)
    corrupted = right = accepted = refused_clean = tracebacks = 0
    for seed in range(seeds):
        directory = root / f"faults_{seed}"
        directory.mkdir()
        expected = bad_extract(directory, [*NASTY, LONGEST_GOOD_TEXT], seed, good_rows, bad_rows_per_table)
        corrupted += len(expected)
        try:
            extract = check_extract(directory)
        except Exception:  # noqa: BLE001 - a traceback is the figure counted here
            tracebacks += 1
            continue
        found = set(extract.rejects[["table", "row", "column", "rule"]].itertuples(index=False, name=None))
        right += len(found & expected)
        refused_rows = {(table, row) for table, row, _, _ in found}
        accepted += len({(table, row) for table, row, _, _ in expected} - refused_rows)
        refused_clean += len(refused_rows - {(table, row) for table, row, _, _ in expected})
    return RowFaults(seeds=seeds, corrupted=corrupted, clean=seeds * good_rows * len(CONTRACT), refused_right=right,
                     corrupted_accepted=accepted, clean_refused=refused_clean, tracebacks=tracebacks)


# ------------------------------------------------------------------------------------------ load and outage


@dataclass
class LoadRecord:
    """What the clients saw: (start offset s, seconds, status) per request, claims and acknowledged closes."""

    requests: list[tuple[float, float, int]] = field(default_factory=list)
    claims: list[int] = field(default_factory=list)
    closes: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Load:
    investigators: int
    seconds: float
    requests: int
    p95_ms: float
    p99_ms: float
    claimed_twice: int
    closes: int
    closes_lost: int
    server_errors: int
    """5xx answers outside the outage."""
    outage_seconds: float
    outage_503: int
    outage_other_5xx: int
    recovered_s: float
    """From connections allowed again to the first request answered without a 5xx."""
    access_log: str


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
def _app(world: World) -> Iterator[str]:
    """``counterfraud app`` on the world's store, until the block ends."""
    port = _free_port()
    with world.log.open("ab") as sink:
        server = subprocess.Popen(_cli("app", "--port", str(port), "--workspace", str(world.workspace),
                                       "--config", str(world.config)), env=world.env, stdout=sink,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    with serving(server, f"{base}/healthz", 120, f"counterfraud app did not start; see {world.log}"):
        yield base


def load_and_outage(world: World, investigators: int, seconds: float, outage_seconds: float,
                    rng: random.Random) -> Load:
    """Investigators and a supervisor over HTTP for ``seconds``; the store cut off half-way for
    ``outage_seconds``; then every acknowledged close is looked up in the store."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from casework.auth import add_user
    from casework.store import Case, open_store

    names = [f"investigator-{number}" for number in range(investigators)]
    engine = open_store(world.url)
    with Session(engine) as session, session.begin():
        for name in names:
            add_user(session, name, "investigator", LOAD_PASSWORD)
        add_user(session, "supervisor", "supervisor", LOAD_PASSWORD)
    record = LoadRecord()
    with _app(world) as base:
        started = time.perf_counter()
        clients = [_Client(base, name, record, started) for name in [*names, "supervisor"]]
        until = time.perf_counter() + seconds
        threads = [threading.Thread(target=_investigate, args=(client, until, random.Random(rng.random())))
                   for client in clients[:-1]]
        threads.append(threading.Thread(target=_supervise, args=(clients[-1], until, random.Random(rng.random()),
                                                                  names)))
        for thread in threads:
            thread.start()
        time.sleep(seconds / 2)
        outage_start = time.perf_counter() - started
        cut_off(world.database, allowed=False)
        time.sleep(outage_seconds)
        cut_off(world.database, allowed=True)
        outage_end = time.perf_counter() - started
        for thread in threads:
            thread.join()
    with Session(engine) as session:
        stored = dict(session.execute(select(Case.id, Case.outcome).where(Case.id.in_(record.closes))).all())
    engine.dispose()
    audit = subprocess.run(_cli("audit", "verify", "--workspace", str(world.workspace), "--config", str(world.config)),
                           env=world.env, capture_output=True, text=True)
    during = [status for begun, took, status in record.requests if outage_start <= begun + took and begun <= outage_end]
    after = sorted((begun + took, status) for begun, took, status in record.requests
                   if begun > outage_end and 0 < status < 500)
    outside = [status for begun, took, status in record.requests
               if (begun + took < outage_start or begun > outage_end) and (status >= 500 or status == 0)]
    times = np.array([took for _, took, _ in record.requests]) * 1000
    return Load(investigators=investigators, seconds=seconds, requests=len(record.requests),
                p95_ms=float(np.percentile(times, 95)), p99_ms=float(np.percentile(times, 99)),
                claimed_twice=len(record.claims) - len(set(record.claims)), closes=len(record.closes),
                closes_lost=sum(stored.get(case_id) != outcome for case_id, outcome in record.closes.items()),
                server_errors=len(outside), outage_seconds=outage_seconds,
                outage_503=sum(status == 503 for status in during),
                outage_other_5xx=sum(status >= 500 and status != 503 or status == 0 for status in during),
                recovered_s=(after[0][0] - outage_end) if after else float("nan"),
                access_log=(audit.stdout.strip() or audit.stderr.strip()).splitlines()[-1])


# ------------------------------------------------------------------------------------------ report


def format_section(profile: Profile, world_subjects: int, faults: RowFaults, scores: ScoreKills,
                   imports: list[ImportKills], load: Load, started: dt.datetime, command: str) -> str:
    """The report's reliability section, a table like issue 20's."""
    aimed = {aim: count for aim, count in scores.kills.items() if aim != "random"}
    rows = [
        ("row-level faults",
         f"{faults.corrupted:,} corrupted rows over all 7 tables ({faults.seeds} seed{'s' * (faults.seeds != 1)}), "
         f"plus {faults.clean:,} "
         "valid but awkward rows",
         f"{faults.refused_right:,} refused with the right table, row, column and rule; "
         f"{faults.corrupted_accepted} corrupted rows accepted; {faults.clean_refused} clean rows refused; "
         f"{faults.tracebacks} tracebacks"),
        ("kill -9 of score",
         f"{scores.kills['random']} at random moments, {sum(aimed.values())} aimed ("
         + ", ".join(f"{count} {aim}" for aim, count in aimed.items()) + ")",
         f"{scores.reruns_identical} of {scores.reruns} reruns byte-identical; {scores.complete_but_different} "
         f"runs saying complete with other bytes; {scores.left_behind} processes outlived a killed command "
         f"by {LEFTOVER_WAIT_S:.0f} s"),
        *[(f"kill -9 of `cases import` ({kills.store})",
           f"{kills.kills}, {kills.inside_transaction} seen inside the write transaction",
           f"all-or-nothing {kills.all_or_nothing}/{kills.kills} ({kills.committed} after the commit), "
           f"{kills.duplicates} duplicate cases, {kills.reruns_complete}/{kills.kills} reruns complete")
          for kills in imports],
        (f"{load.investigators} investigators + a supervisor over HTTP, {load.seconds:.0f} s (PostgreSQL)",
         f"{load.requests:,} requests, p95 {load.p95_ms:.0f} ms, p99 {load.p99_ms:.0f} ms",
         f"{load.claimed_twice} claimed twice, {load.closes_lost} of {load.closes:,} acknowledged closes lost, "
         f"{load.server_errors} × 5xx (or refused) outside the outage; {load.access_log}"),
        (f"PostgreSQL unreachable for {load.outage_seconds:.0f} s during the load",
         "connections refused and backends terminated",
         f"{load.outage_503} × 503 and {load.outage_other_5xx} other 5xx or refused during it; first answer "
         f"without a 5xx {load.recovered_s:.1f} s after, without a restart"),
    ]
    lines = [HEADING, "",
             f"Measured {started:%Y-%m-%d %H:%M} UTC on {_machine()}; a {profile.people:,}-people world (seed "
             f"{profile.seed}, {world_subjects:,} live subjects), PostgreSQL 127.0.0.1:5432. Rerun: `{command}` "
             "(`python -m benchmarks.reliability`: kill -9 sends SIGKILL to the command's own process; reruns are "
             "compared file by file with a clean run).",
             "", "| test | tried | result |", "|---|---|---|"]
    lines += [f"| {test} | {tried} | {result} |" for test, tried, result in rows]
    return "\n".join(lines) + "\n"


def write_section(section: str, out: Path) -> None:
    """Put ``section`` in ``out`` in place of its earlier version (or at the end)."""
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    start = text.find(HEADING + "\n")
    if start < 0:
        text = (text.rstrip() + "\n\n" if text else "") + section
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    out.write_text(text, encoding="utf-8")


def run_reliability(profile: Profile, workdir: Path, command: str) -> str:
    """Every test of the module on one world; the report's section."""
    started = dt.datetime.now(dt.UTC)
    rng = random.Random(profile.seed)
    log = workdir / "reliability.log"
    faults = row_faults(workdir, profile.fault_seeds, profile.bad_rows_per_table)
    with prefect_server(workdir / "prefect-server", log) as api_url:
        world = build_world(profile, workdir / "world", {**os.environ, "PREFECT_API_URL": api_url}, log)
        try:
            subjects = json.loads((world.reference / "run_summary.json").read_text())["subjects"]["scored"]
            scores = kill_score(world, profile.score_kills, rng)
            imports = [kill_imports(world, store, profile.import_kills, rng) for store in ("postgresql", "sqlite")]
            load = load_and_outage(world, profile.investigators, profile.load_seconds, profile.outage_seconds, rng)
        finally:
            drop_database(world.database)
    return format_section(profile, subjects, faults, scores, imports, load, started, command)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run (a minute or two, not many)")
    parser.add_argument("--out", type=Path, help="report file (default: benchmarks/RESULTS.md; with --smoke a "
                                                 "temporary file)")
    parser.add_argument("--workdir", type=Path, help="where the world and runs are written (default: temporary)")
    parser.add_argument("--people", type=int, help="people in the world")
    parser.add_argument("--kills", type=int, help="kills of score, and of cases import per store")
    parser.add_argument("--investigators", type=int)
    parser.add_argument("--seconds", type=float, help="length of the load test")
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else DEFAULT
    overrides = {"people": args.people, "score_kills": args.kills, "import_kills": args.kills,
                 "investigators": args.investigators, "load_seconds": args.seconds}
    profile = Profile(**{**profile.__dict__, **{key: value for key, value in overrides.items() if value is not None}})
    command = "make bench-smoke" if args.smoke else "make bench"
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cf-reliability-")))
        workdir.mkdir(parents=True, exist_ok=True)
        out = args.out or (workdir / "RESULTS.md" if args.smoke else RESULTS)
        section = run_reliability(profile, workdir, command)
        write_section(section, out)
        print(section)
        print(f"section written to {out}")


if __name__ == "__main__":
    main()
