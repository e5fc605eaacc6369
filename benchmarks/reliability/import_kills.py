"""kill -9 of ``cases import`` inside its write transaction: the store holds all of the run or none of it."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.reliability.processes import Watched, wait_for
from benchmarks.reliability.stores import POSTGRES_ADMIN, fresh_store, store_rows
from benchmarks.reliability.world import World, cli, config
from benchmarks.run import measure


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
        with fresh_store(store, "import", world.root) as (url, database):
            settings = config(world.root / f"import_{number}.yaml", url)
            open_store(url).dispose()  # the schema first: the command's one write transaction is the import
            argv = cli("cases", "import", "--run", str(world.reference), "--workspace", str(world.workspace),
                       "--config", str(settings))
            if expected is None:
                measure(argv, world.env, world.log)
                expected = store_rows(url)
                continue
            writing = _postgres_writing(database) if database else _sqlite_writing(Path(url.removeprefix("sqlite:///")))
            watched = Watched(argv, world.env, world.log)
            try:
                # still writing 50 ms later: the import's long transaction, not the start's schema check
                if wait_for(watched, lambda held=writing: held() and (time.sleep(0.05) or held())):
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
    return ImportKills(store=store, kills=kills, inside_transaction=inside, all_or_nothing=whole_or_none,
                       committed=committed, duplicates=duplicates, reruns_complete=complete)
