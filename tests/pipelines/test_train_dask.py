"""Training and the report on Dask: the same version, metrics, report and case list as in one process."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from configs.settings import Settings, load_settings
from tests.conftest import (
    PANEL_MEMBER,
    TRAINER,
    activated_workspace,
    count_task_runs,
    task_names_of_latest_runs,
)

PEOPLE = 400
SEED = 9
PARTITION_ROWS = 64
# the detector fitted on a sample (so every subject is scored afresh), flagged subjects over several partitions
OVERRIDES = {"training": {"max_subjects": 150}, "capacity": {"share": 0.3}}
REGISTERED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


@pytest.fixture(scope="module")
def settings(world: dict[str, Path]) -> Settings:
    return load_settings(world["config"], **OVERRIDES)


@pytest.fixture(scope="module")
def runs(world: dict[str, Path], trained: Any) -> dict[str, dict[str, Any]]:
    """On each engine, in its own copy of a workspace whose champion is version 1: a new version
    trained, reported on afresh, approved, and a scoring run with it (on ``local``: the version is
    what differs). The clusters are two single-threaded workers in threads of this process."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    from oversight.signoff import APPROVED, SIGNOFF_LOG, decide, download_report
    from pipelines.report import report_flow
    from pipelines.score import score_flow
    from pipelines.train import train_flow

    engines = {"local": {}, "dask": {"engine": "dask", "dask_partition_rows": PARTITION_ROWS, "dask_workers": 2,
                                     "dask_worker_memory": "2GiB", "dask_processes": False}}
    runs = {}
    for engine, orchestration in engines.items():
        root = world["root"] / engine
        shutil.copytree(trained.root, root / "workspace")
        settings = load_settings(world["config"], orchestration=orchestration, **OVERRIDES)
        with activated_workspace(root / "workspace", settings) as workspace:
            version = train_flow(world["data"], workspace, settings, truth_path=world["truth"], trained_by=TRAINER)
            name, number = version["model_name"], version["version"]
            download_report(name, number, root / "logged")
            report_flow(number, root / "report", settings, world["data"], truth_path=world["truth"])
            decide(model_name=name, version=number, decision=APPROVED, by=PANEL_MEMBER, note="approved for the tests",
                   log_path=workspace.root / SIGNOFF_LOG)
            score_flow(world["data"], root / "cases", workspace, load_settings(world["config"], **OVERRIDES),
                       model_version=number)
            client = MlflowClient()
            runs[engine] = {
                "version": version, "root": root, "logged_metrics": client.get_run(version["run_id"]).data.metrics,
                "tags": client.get_model_version(name, number).tags,
                "model": Path(download_artifacts(f"models:/{name}/{number}", dst_path=str(root / "model"))),
            }
    return runs


def _fitted_detector(model_dir: Path) -> dict[str, Any]:
    """The fitted detector's files: their bytes; of the forest, its arrays (skops names them by object id)."""
    detector = model_dir / "artifacts" / "detector"
    files: dict[str, Any] = {}
    for path in sorted(path for path in detector.rglob("*") if path.is_file()):
        name = path.relative_to(detector).as_posix()
        if path.suffix == ".skops":
            with zipfile.ZipFile(path) as forest:
                files[name] = sorted(forest.read(member) for member in forest.namelist() if member.endswith(".npy"))
        else:
            files[name] = path.read_bytes()
    return files


def _deterministic(report_dir: Path) -> tuple[str, dict[str, Any]]:
    """``report.html`` and ``report.json`` without the one figure a run's clock sets: when the version was
    registered."""
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    data = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
    registered_at = data["model_card"]["details"].pop("registered_at")
    assert REGISTERED_AT.fullmatch(registered_at)
    return html.replace(registered_at, "REGISTERED_AT"), data


@pytest.mark.slow
def test_dask_trains_and_reports_what_local_does(runs):
    local, dask = runs["local"], runs["dask"]
    assert local["version"]["version"] == dask["version"]["version"] == "2"
    assert local["version"]["n_fitted_subjects"] == 150 < local["version"]["n_subjects"]
    # the same detector, the same metrics and the same report
    assert _fitted_detector(dask["model"]) == _fitted_detector(local["model"])
    fitted = _fitted_detector(local["model"])
    assert "detector.json" in fitted and any(name.endswith(".skops") for name in fitted)
    assert dask["version"]["metrics"] == local["version"]["metrics"]
    assert dask["logged_metrics"] == local["logged_metrics"]
    assert dask["tags"]["data_fingerprint"] == local["tags"]["data_fingerprint"]
    for report in ("logged", "report"):
        assert _deterministic(dask["root"] / report) == _deterministic(local["root"] / report), report
    # the report compares with the champion, whose scores were worked out per partition too
    assert json.loads((local["root"] / "report" / "report.json").read_text())["champion"]["version"] == "1"
    # and the version scores the same case list
    cases = "cases/cases.csv"
    assert (dask["root"] / cases).read_bytes() == (local["root"] / cases).read_bytes()


@pytest.mark.slow
def test_dask_scores_and_explains_per_partition(runs):
    n_subjects = runs["dask"]["version"]["n_subjects"]
    partitions = -(-n_subjects // PARTITION_ROWS)
    flagged = json.loads((runs["dask"]["root"] / "report" / "report.json").read_text())["capacity"]["flagged"]
    (dask_report, local_report), (dask_train, local_train) = (task_names_of_latest_runs(flow, 2)
                                                              for flow in ("report", "train"))
    for task, local_count, dask_count in (("score every subject", 1, partitions),
                                          ("score with the champion", 1, partitions)):
        assert (count_task_runs(local_train, task), count_task_runs(dask_train, task)) == (local_count, dask_count)
    assert count_task_runs(dask_report, "score subjects") == count_task_runs(dask_report, "score with the champion") \
        == partitions
    # the flagged subjects, then the drivers' sample (every subject here: fewer than 2,000)
    explained = -(-flagged // PARTITION_ROWS) + partitions
    assert [count_task_runs(names, "explain subjects for the report") for names in (local_train, dask_train,
                                                                                     local_report, dask_report)] == [
        2, explained, 2, explained]
