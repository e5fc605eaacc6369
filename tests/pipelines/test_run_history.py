"""Run history end to end: a scoring run killed while writing, its rerun, drift alerts, runs list.

Real scoring subprocesses are killed with SIGKILL while they write; real flows score a
shifted and an unshifted extract against a trained version.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from configs.settings import Settings
from features.definitions import FEATURES_BY_NAME
from pipelines.runs import COMPLETE, RUN_ID_PATTERN, STAGING_PREFIX, SUMMARY_FILE, completed_runs
from tests.conftest import FAST_DETECTOR

PROJECT = Path(__file__).resolve().parents[2]
PEOPLE = 600
SEED = 11
CASE_OUTPUTS = ("cases.csv", "cases.parquet", "explanations.parquet", "links.parquet", "rejects.csv")
RUN_OUTPUTS = (*CASE_OUTPUTS, "drift.json", "drift.html", SUMMARY_FILE)
SHIFTED_FEATURE = "housing_cost_above_other_source"
WAIT_SECONDS = 600


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A world, the same extract with every benefit claim's housing costs tripled, and a second world."""
    from synthetic import generate_world

    root = tmp_path_factory.mktemp("history_world")
    generate_world(root / "data", people=PEOPLE, seed=SEED, truth_path=root / "truth.parquet")
    generate_world(root / "other", people=PEOPLE, seed=SEED + 1, truth_path=root / "other_truth.parquet")
    shutil.copytree(root / "data", root / "shifted")
    claims = pd.read_csv(root / "shifted" / "benefit_claims.csv", dtype=str, keep_default_na=False)
    claims["monthly_housing_costs"] = (claims["monthly_housing_costs"].astype(float) * 3).map("{:.2f}".format)
    claims.to_csv(root / "shifted" / "benefit_claims.csv", index=False)
    config = root / "config.yaml"
    config.write_text(FAST_DETECTOR, encoding="utf-8")
    return {"root": root, "data": root / "data", "truth": root / "truth.parquet", "other": root / "other",
            "shifted": root / "shifted", "config": config}


def _score_command(world: dict[str, Path], workspace: Any, out: Path) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", "score", "--data", str(world["data"]), "--out", str(out),
            "--workspace", str(workspace.root), "--config", str(world["config"])]


def _environment() -> dict[str, str]:
    """This process's environment, with the test harness's Prefect API (no server of its own to start)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_API_URL": str(PREFECT_API_URL.value())}


def _kill_when(process: subprocess.Popen, seen: Callable[[], bool]) -> None:
    """SIGKILL ``process`` as soon as ``seen()`` holds; fail if the run ends first."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not seen():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "the run never reached the point to kill it at"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


def _looks_complete(directory: Path) -> bool:
    """A run summary that says the run is complete (a contract check writes one without that status)."""
    try:
        return json.loads((directory / SUMMARY_FILE).read_text()).get("status") == COMPLETE
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="module")
def killed_and_rerun(world: dict[str, Path], trained: Any) -> dict[str, Any]:
    """A clean run; a run killed while writing its run directory, one killed while copying to --out; a rerun."""
    env, runs_dir = _environment(), trained.runs_dir
    clean, out = world["root"] / "clean", world["root"] / "killed"
    subprocess.run(_score_command(world, trained, clean), env=env, check=True, capture_output=True)
    complete_before = {record.run_id for record in completed_runs(runs_dir)}

    process = subprocess.Popen(_score_command(world, trained, out), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _kill_when(process, lambda: any(runs_dir.glob(f"{STAGING_PREFIX}*")))
    after_first_kill = {
        "staging": [path.name for path in runs_dir.glob(f"{STAGING_PREFIX}*")],
        "complete": {record.run_id for record in completed_runs(runs_dir)},
        "out_complete": _looks_complete(out),
    }

    def published() -> bool:
        return any(RUN_ID_PATTERN.match(path.name) and path.name not in complete_before
                   for path in runs_dir.iterdir())

    process = subprocess.Popen(_score_command(world, trained, out), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _kill_when(process, published)
    after_second_kill = {name: (out / name).read_bytes() for name in RUN_OUTPUTS if (out / name).is_file()}
    second_run = next(record for record in completed_runs(runs_dir) if record.run_id not in complete_before)

    subprocess.run(_score_command(world, trained, out), env=env, check=True, capture_output=True)
    return {"clean": clean, "out": out, "complete_before": complete_before, "after_first_kill": after_first_kill,
            "after_second_kill": after_second_kill, "second_run": second_run}


@pytest.mark.slow
def test_a_run_killed_while_writing_leaves_nothing_that_looks_complete(killed_and_rerun):
    first = killed_and_rerun["after_first_kill"]
    assert len(first["staging"]) == 1  # killed inside its write
    assert first["complete"] == killed_and_rerun["complete_before"]
    assert not first["out_complete"]


@pytest.mark.slow
def test_a_run_killed_while_copying_to_out_leaves_out_without_a_summary_or_complete(killed_and_rerun):
    seen, run_dir = killed_and_rerun["after_second_kill"], killed_and_rerun["second_run"].path
    # the run directory itself was published whole
    assert sorted(path.name for path in run_dir.iterdir()) == sorted(RUN_OUTPUTS)
    if json.loads(seen.get(SUMMARY_FILE, b"{}")).get("status") == COMPLETE:  # the copy had finished
        assert seen == {name: (run_dir / name).read_bytes() for name in RUN_OUTPUTS}


@pytest.mark.slow
def test_the_rerun_gives_byte_identical_case_outputs(killed_and_rerun):
    clean, out = killed_and_rerun["clean"], killed_and_rerun["out"]
    for name in CASE_OUTPUTS:
        assert (out / name).read_bytes() == (clean / name).read_bytes(), name
    clean_summary = json.loads((clean / SUMMARY_FILE).read_text())
    rerun_summary = json.loads((out / SUMMARY_FILE).read_text())
    assert clean_summary["run_id"] != rerun_summary["run_id"]
    assert clean_summary["data_fingerprint"] == rerun_summary["data_fingerprint"]
    assert not list(out.glob(".*.tmp"))
    kept = Path(rerun_summary["run_dir"])
    assert kept.name == rerun_summary["run_id"]
    for name in CASE_OUTPUTS:
        assert (kept / name).read_bytes() == (out / name).read_bytes(), name


@pytest.fixture(scope="module")
def drift_runs(world: dict[str, Path], settings: Settings, trained: Any,
               killed_and_rerun: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An unshifted extract (another world), then the shifted one, scored in that order."""
    from pipelines.score import score_flow

    return {"unshifted": score_flow(world["other"], None, trained, settings),
            "shifted": score_flow(world["shifted"], None, trained, settings)}


@pytest.mark.slow
def test_an_unshifted_extract_raises_no_drift_alert(drift_runs):
    drift = drift_runs["unshifted"]["drift"]
    assert drift["alert"] is False and drift["drifted"] == []
    assert set(drift["worst"]) == {"training", "previous_run"}
    assert max(entry["psi"] for entry in drift["worst"].values()) < drift["threshold"]


@pytest.mark.slow
def test_a_shifted_feature_raises_an_alert_naming_it(drift_runs):
    summary = drift_runs["shifted"]
    drift = summary["drift"]
    assert drift["alert"] is True
    assert drift["drifted"][0] == SHIFTED_FEATURE
    assert set(drift["drifted"]) - {"score"} == {SHIFTED_FEATURE}
    run_dir = Path(summary["run_dir"])
    report = json.loads((run_dir / "drift.json").read_text())
    assert report["previous_run_id"] == drift_runs["unshifted"]["run_id"]
    assert {(entry["name"], entry["against"]) for entry in report["drifted"]} >= {
        (SHIFTED_FEATURE, "training"), (SHIFTED_FEATURE, "previous_run")}
    page = (run_dir / "drift.html").read_text()
    # the panel reads the feature's label; its code name stays as the tooltip
    label = FEATURES_BY_NAME[SHIFTED_FEATURE].label
    assert "Drift alert" in page and f"{label} (" in page and f'title="{SHIFTED_FEATURE}"' in page
    assert Path(summary["outputs"]["drift_page"]) == run_dir / "drift.html"


@pytest.mark.slow
def test_the_alert_is_a_prefect_event(drift_runs):
    from prefect.client.orchestration import get_client

    run_id = drift_runs["shifted"]["run_id"]
    deadline, events = time.monotonic() + 60, []
    while not events and time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            found = client.request("POST", "/events/filter", json={
                "filter": {"event": {"name": ["counterfraud.drift.alert"]}}, "limit": 50}).json()
        events = [event for event in found["events"]
                  if event["resource"]["prefect.resource.id"] == f"counterfraud.run.{run_id}"]
        time.sleep(1)
    assert events, "no counterfraud.drift.alert event for the shifted run"
    assert events[0]["payload"]["drifted"][0] == SHIFTED_FEATURE


@pytest.mark.slow
def test_runs_list_shows_each_complete_run_and_its_alert(drift_runs, killed_and_rerun, trained, capsys):
    from pipelines.cli import main

    saved = dict(os.environ)
    try:
        assert main(["runs", "list", "--workspace", str(trained.root)]) == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.strip().splitlines()[1:]}
    assert set(rows) == {record.run_id for record in completed_runs(trained.runs_dir)}
    assert len(rows) == len(killed_and_rerun["complete_before"]) + 4  # two killed (one published), rerun, drift
    assert rows[drift_runs["shifted"]["run_id"]][-3:] == ["yes", "complete", "imported"]
    assert rows[drift_runs["unshifted"]["run_id"]][-3:] == ["no", "complete", "imported"]


def _full_out_command(command: list[str], out: Path) -> list[str] | None:
    """``command`` run with ``out`` a 64 KiB file system of its own (its own mount namespace), which the
    contract check's rejects and summary fit in and the run's copy does not; ``None`` where it cannot be
    mounted (only root may)."""
    mounted = ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"', str(out)]
    if shutil.which("unshare") is None or subprocess.run([*mounted, "true"], capture_output=True).returncode:
        return None
    return [*mounted, *command]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["full disk", "directory in the way"])
def test_a_run_whose_out_copy_fails_is_imported_and_ends_in_one_line(world, settings, trained, tmp_path, fault):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from casework.store import Run, open_store, store_url
    from pipelines.cli import EXIT_USER_ERROR

    out = tmp_path / "out"
    out.mkdir()
    command = _score_command(world, trained, out)
    if fault == "full disk":
        command = _full_out_command(command, out)
        if command is None:
            pytest.skip("no file system of its own can be mounted here (not root)")
        expected = "No space left on device"
    else:
        (out / "cases.parquet" / "kept").mkdir(parents=True)  # what an earlier run's place holds
        expected = f"cannot write {out / 'cases.parquet'}: Is a directory"
    before = {record.run_id for record in completed_runs(trained.runs_dir)}

    finished = subprocess.run(command, env=_environment(), capture_output=True, text=True)

    assert finished.returncode == EXIT_USER_ERROR, finished.stderr
    assert "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    (run,) = [record for record in completed_runs(trained.runs_dir) if record.run_id not in before]
    assert last.startswith(f"counterfraud score: error: run {run.run_id} is complete in {run.path} and its "
                           "work list imported into the case store, but its copy to --out"), last
    assert f"(cannot write {out}/" in last and expected in last and last.endswith(f"its files are in {run.path}")
    with Session(open_store(store_url(settings.case_store.url, trained.root))) as session:
        assert run.run_id in set(session.scalars(select(Run.run_id)))
    assert not (out / SUMMARY_FILE).exists() and not list(out.glob(".*.tmp"))
