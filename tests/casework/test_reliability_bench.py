"""The reliability benchmark's parts at their smallest, on a real run and real stores, so they keep working.

Beside the case-store tests because they share its scored world; ``python -m benchmarks.reliability``
runs the same parts at size (``make bench``).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.reliability import fuzz, import_kills, load, outage, report, score_kills, world
from benchmarks.reliability.processes import Watched
from tests.casework.conftest import FIRST_CAPACITY
from tests.conftest import FAST_DETECTOR

PROJECT = Path(__file__).resolve().parents[2]


def _world(scored: dict, root: Path, url: str) -> world.World:
    root.mkdir()
    return world.World(root=root, data=scored["data"], workspace=scored["workspace"],
                       config=world.config(root / "config.yaml", url), database="",
                       env={**os.environ, "PYTHONPATH": str(PROJECT)}, log=root / "log",
                       reference=scored["first"], score_s=1.0)


def test_corrupted_rows_are_counted_as_refused_with_their_rule(tmp_path: Path) -> None:
    faults = fuzz.row_faults(tmp_path, seeds=1, bad_rows_per_table=40)
    assert faults.corrupted == 40 * 7 and faults.refused_right == faults.corrupted
    assert (faults.corrupted_accepted, faults.clean_refused, faults.tracebacks) == (0, 0, 0)


def test_a_killed_command_s_left_behind_processes_are_counted_and_ended(tmp_path: Path) -> None:
    # a command whose child outlives it (nothing ties the child to its parent)
    child = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    watched = Watched([sys.executable, "-c", child], dict(os.environ), tmp_path / "log")
    deadline = time.monotonic() + 30
    while not watched.tree and time.monotonic() < deadline:
        watched.running()
        time.sleep(0.1)
    (orphan,) = watched.tree
    assert watched.kill() == 1
    time.sleep(0.5)
    with contextlib.suppress(psutil.NoSuchProcess):  # gone, or a zombie until PID 1 reaps it
        assert psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE


def test_a_world_built_before_is_used_again_with_a_fresh_empty_store(tmp_path: Path) -> None:
    from benchmarks.reliability.stores import drop_database, store_rows

    (tmp_path / world.BUILT).write_text('{"people": 600, "seed": 7, "score_s": 12.5}', encoding="utf-8")
    again = world.build_world(world.SMOKE, tmp_path, {}, tmp_path / "log")
    try:
        assert (again.score_s, again.reference) == (12.5, tmp_path / "reference")
        assert again.database in again.config.read_text(encoding="utf-8")
        assert store_rows(again.url)["cases"] == 0
    finally:
        drop_database(again.database)


def test_staging_kills_spread_from_the_rename_to_the_empty_directory() -> None:
    assert score_kills.staging_targets(8, 5) == [9, 7, 5, 2, 0]
    assert score_kills.staging_targets(8, 1) == [9]


@pytest.mark.slow
def test_a_score_killed_before_it_renames_its_staged_run_leaves_it_hidden_and_reruns_identically(
        scored, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    # the settings of the fixture's first run, so that it is the clean run a rerun must equal
    settings = tmp_path / "config.yaml"
    settings.write_text(f"{FAST_DETECTOR}capacity: {{absolute: {FIRST_CAPACITY}}}\n"
                        f"case_store:\n  url: sqlite:///{tmp_path / 'cases.db'}\n", encoding="utf-8")
    workspace = shutil.copytree(scored["workspace"], tmp_path / "workspace")
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_API_URL": PREFECT_API_URL.value()}
    clean = world.World(root=tmp_path, data=scored["data"], workspace=workspace, config=settings, database="",
                        env=env, log=tmp_path / "log", reference=scored["first"], score_s=1.0)
    (kill,) = score_kills.kill_in_staging(clean, kills=1)
    # every file written and the summary readable, the rename not yet made: the run must stay hidden
    assert kill.aimed == kill.held == kill.files + 1
    assert kill.half_written_visible == 0 and kill.rerun_identical
    assert len(list((workspace / "runs").glob(".partial-*"))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_a_killed_import_is_all_or_nothing_and_its_rerun_complete(scored, tmp_path: Path, store: str) -> None:
    world = _world(scored, tmp_path / "world", f"sqlite:///{tmp_path / 'unused.db'}")
    kills = import_kills.kill_imports(world, store, kills=1, rng=random.Random(1))
    assert kills.all_or_nothing == kills.reruns_complete == 1 and kills.duplicates == 0


@pytest.mark.slow
@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_load_loses_no_acknowledged_close_nor_on_postgresql_through_an_outage(scored, tmp_path: Path,
                                                                              store: str) -> None:
    the_world = _world(scored, tmp_path / "world", f"sqlite:///{tmp_path / 'unused.db'}")
    run = load.load_test(the_world, store, investigators=2, seconds=6.0, rng=random.Random(2),
                         disturb=outage.outage(1.0) if store == "postgresql" else None)
    figures = load.Load.of(run)
    assert figures.requests > 20 and figures.closes > 0
    assert (figures.claimed_twice, figures.closes_lost, figures.server_errors) == (0, 0, 0)
    assert figures.access_log.startswith("access log intact")
    if store == "sqlite":
        assert run.window is None
        return
    cut_off = outage.Outage.of(run, 1.0)
    assert cut_off.other_5xx == 0 and cut_off.recovered_s < 5
    staged = score_kills.StagingKill(aimed=9, held=None, files=8, rerun_identical=True, half_written_visible=0,
                                     left_behind=0)
    conditions = report.Conditions(started=report.dt.datetime(2026, 12, 3), minutes={"world": 1.5, "load and outage": 0.5},
                                   load_average=(3.0, 4.5),
                                   command="make bench-smoke")
    section = report.format_section(world.SMOKE, 100, fuzz.row_faults(tmp_path, 1, 40),
                                    score_kills.ScoreKills({"random": 1, "importing": 1, "copying": 0}, 2, 2, 0, 0),
                                    [staged], [], [figures], cut_off, conditions)
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Reliability\n\nold figures\n\n## Case store\n\nkept\n")
    report.write_section(section, results)
    text = results.read_text()
    assert "old figures" not in text and text.endswith("## Case store\n\nkept\n")
    assert "| kill -9 of score | 1 at random moments, 1 aimed (1 importing, 0 copying) |" in text
    assert "in 2 minutes (world 2, load and outage 0), load average 3.0 at the start and 4.5 at the end" in text
    assert "| 1 | every file written, before the rename | after the rename | yes | no |" in text
    assert f"{figures.closes:,} acknowledged closes lost" in text
