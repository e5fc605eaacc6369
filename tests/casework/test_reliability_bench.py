"""The reliability benchmark's parts at their smallest, on a real run and real stores, so they keep working.

Beside the case-store tests because they share its scored world; ``benchmarks/reliability.py``
runs the same parts at size (``make bench``).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks import reliability
from tests.casework.conftest import temporary_postgres

PROJECT = Path(__file__).resolve().parents[2]


def _world(scored: dict, root: Path, url: str) -> reliability.World:
    database = url.rsplit("/", 1)[1] if url.startswith("postgresql") else ""
    root.mkdir()
    return reliability.World(root=root, data=scored["data"], workspace=scored["workspace"],
                             config=reliability._config(root / "config.yaml", url), database=database,
                             env={**os.environ, "PYTHONPATH": str(PROJECT)}, log=root / "log",
                             reference=scored["first"], score_s=1.0)


def test_corrupted_rows_are_counted_as_refused_with_their_rule(tmp_path: Path) -> None:
    faults = reliability.row_faults(tmp_path, seeds=1, bad_rows_per_table=40)
    assert faults.corrupted == 40 * 7 and faults.refused_right == faults.corrupted
    assert (faults.corrupted_accepted, faults.clean_refused, faults.tracebacks) == (0, 0, 0)


def test_a_killed_command_s_left_behind_processes_are_counted_and_ended(tmp_path: Path) -> None:
    # a command whose child outlives it (nothing ties the child to its parent)
    child = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    watched = reliability.Watched([sys.executable, "-c", child], dict(os.environ), tmp_path / "log")
    deadline = time.monotonic() + 30
    while not watched.tree and time.monotonic() < deadline:
        watched.running()
        time.sleep(0.1)
    (orphan,) = watched.tree
    assert watched.kill() == 1
    time.sleep(0.5)
    with contextlib.suppress(psutil.NoSuchProcess):  # gone, or a zombie until PID 1 reaps it
        assert psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE


@pytest.mark.slow
@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_a_killed_import_is_all_or_nothing_and_its_rerun_complete(scored, tmp_path: Path, store: str) -> None:
    world = _world(scored, tmp_path / "world", f"sqlite:///{tmp_path / 'unused.db'}")
    kills = reliability.kill_imports(world, store, kills=1, rng=random.Random(1))
    assert kills.all_or_nothing == kills.reruns_complete == 1 and kills.duplicates == 0


@pytest.mark.slow
def test_load_with_an_outage_loses_no_acknowledged_close(scored, tmp_path: Path) -> None:
    from casework.imports import import_run
    from casework.store import open_store

    with temporary_postgres("load") as url:
        engine = open_store(url)
        import_run(engine, scored["first"])
        engine.dispose()
        world = _world(scored, tmp_path / "world", url)
        load = reliability.load_and_outage(world, investigators=2, seconds=6.0, outage_seconds=1.0,
                                           rng=random.Random(2))
    assert load.requests > 20 and load.closes > 0
    assert (load.claimed_twice, load.closes_lost, load.server_errors, load.outage_other_5xx) == (0, 0, 0, 0)
    assert load.recovered_s < 5 and load.access_log.startswith("access log intact")
    section = reliability.format_section(reliability.SMOKE, 100, reliability.row_faults(tmp_path, 1, 40),
                                         reliability.ScoreKills({"random": 1, "staging": 1, "importing": 0,
                                                                 "copying": 0}, 2, 2, 0, 0),
                                         [], load, reliability.dt.datetime(2026, 12, 3), "make bench-smoke")
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Reliability\n\nold figures\n\n## Case store\n\nkept\n")
    reliability.write_section(section, results)
    text = results.read_text()
    assert "old figures" not in text and text.endswith("## Case store\n\nkept\n")
    assert "| kill -9 of score | 1 at random moments, 1 aimed (1 staging, 0 importing, 0 copying) |" in text
    assert f"{load.closes:,} acknowledged closes lost" in text

