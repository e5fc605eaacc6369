"""The scoring flow on Dask: the same outputs, byte for byte, as in one process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from configs.settings import Settings, load_settings
from tests.conftest import FAST_DETECTOR, activated_workspace, train_approved

PEOPLE = 600
SEED = 5
# a share large enough that the flagged subjects also span several partitions
CAPACITY = 0.3
PARTITION_ROWS = 128
CONTRACT_OUTPUTS = ("cases.csv", "cases.parquet", "explanations.parquet", "links.parquet", "rejects.csv")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from synthetic import generate_world

    root = tmp_path_factory.mktemp("dask_world")
    generate_world(root / "data", people=PEOPLE, seed=SEED, truth_path=root / "truth.parquet")
    config = root / "config.yaml"
    config.write_text(FAST_DETECTOR, encoding="utf-8")
    return {"root": root, "data": root / "data", "truth": root / "truth.parquet", "config": config}


@pytest.fixture(scope="module")
def settings(world: dict[str, Path]) -> Settings:
    return load_settings(world["config"])


@pytest.fixture(scope="module")
def trained(world: dict[str, Path], settings: Settings, prefect_harness: None) -> Iterator[Any]:
    with activated_workspace(world["root"] / "workspace", settings) as workspace:
        train_approved(world["data"], workspace, settings, truth_path=world["truth"])
        yield workspace


@pytest.fixture(scope="module")
def runs(world: dict[str, Path], trained: Any) -> dict[str, dict[str, Any]]:
    """One run on each engine; on Dask a LocalCluster of two workers (threads: two spawned
    processes importing the model stack take longer than the run on two busy cores)."""
    from pipelines.score import score_flow

    local = load_settings(world["config"])
    on_dask = load_settings(world["config"], orchestration={
        "engine": "dask", "dask_workers": 2, "dask_worker_memory": "2GiB", "dask_processes": False,
        "dask_partition_rows": PARTITION_ROWS})
    return {
        "local": score_flow(world["data"], world["root"] / "local", trained, local, capacity=CAPACITY),
        "dask": score_flow(world["data"], world["root"] / "dask", trained, on_dask, capacity=CAPACITY),
    }


def _out(run: dict[str, Any]) -> Path:
    return Path(run["outputs"]["summary"]).parent


@pytest.mark.slow
def test_dask_writes_the_contract_outputs_of_local_byte_for_byte(runs):
    cases = pd.read_parquet(_out(runs["local"]) / "cases.parquet")
    # the run really was cut: subjects and flagged subjects both span several partitions
    assert len(cases) > 2 * PARTITION_ROWS and cases["flagged"].sum() > PARTITION_ROWS
    for name in CONTRACT_OUTPUTS:
        local, dask = _out(runs["local"]) / name, _out(runs["dask"]) / name
        assert local.read_bytes() == dask.read_bytes(), name
    assert runs["dask"]["flagged"] == runs["local"]["flagged"]
    assert runs["dask"]["data_fingerprint"] == runs["local"]["data_fingerprint"]


def _task_names_of_latest_score_runs(count: int) -> list[list[str]]:
    """The task-run names of the latest ``count`` runs of the score flow, latest first."""
    from prefect.client.orchestration import get_client

    # the API directly: this client version sends null limits, which its server refuses
    with get_client(sync_client=True) as client:
        flow_runs = client.request("POST", "/flow_runs/filter", json={
            "flows": {"name": {"any_": ["score"]}}, "limit": count, "offset": 0,
            "sort": "EXPECTED_START_TIME_DESC"}).json()
        return [[task["name"] for task in client.request("POST", "/task_runs/filter", json={
            "flow_runs": {"id": {"any_": [run["id"]]}}, "limit": 200, "offset": 0,
            "sort": "ID_DESC"}).json()] for run in flow_runs]


@pytest.mark.slow
def test_dask_runs_one_task_per_partition(runs):
    cases = pd.read_parquet(_out(runs["dask"]) / "cases.parquet")
    on_dask, local = _task_names_of_latest_score_runs(2)

    def count(names: list[str], task: str) -> int:
        return sum(name.startswith(f"{task}-") for name in names)

    partitions, flagged_partitions = -(-len(cases) // PARTITION_ROWS), -(-cases["flagged"].sum() // PARTITION_ROWS)
    assert [count(local, task) for task in ("score subjects", "explain flagged subjects", "write reasons")] == [1, 1, 1]
    assert [count(on_dask, task) for task in ("score subjects", "explain flagged subjects", "write reasons")] == [
        partitions, flagged_partitions, flagged_partitions]
