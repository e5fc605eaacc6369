"""The scoring flow on Dask: the same outputs, byte for byte, as in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from configs.settings import Settings, load_settings
from tests.conftest import count_task_runs, task_names_of_latest_runs

PEOPLE = 600
SEED = 5
# a share large enough that the flagged subjects also span several partitions
CAPACITY = 0.3
PARTITION_ROWS = 128
CONTRACT_OUTPUTS = ("cases.csv", "cases.parquet", "explanations.parquet", "links.parquet", "rejects.csv")


@pytest.fixture(scope="module")
def runs(world: dict[str, Path], trained: Any) -> dict[str, dict[str, Any]]:
    """A run on ``local``; one on ``dask`` with the LocalCluster the run starts, one on an existing
    scheduler named by ``dask_address``. Both clusters have two workers of one thread (threads of
    this process: two spawned processes importing the model's libraries take longer than the runs
    on two busy cores)."""
    from distributed import LocalCluster

    from pipelines.score import score_flow

    def on_dask(**orchestration: Any) -> Settings:
        return load_settings(world["config"], orchestration={
            "engine": "dask", "dask_partition_rows": PARTITION_ROWS, **orchestration})

    runs = {"local": score_flow(world["data"], world["root"] / "local", trained,
                                load_settings(world["config"]), capacity=CAPACITY)}
    runs["dask"] = score_flow(world["data"], world["root"] / "dask", trained,
                              on_dask(dask_workers=2, dask_worker_memory="2GiB", dask_processes=False),
                              capacity=CAPACITY)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        runs["address"] = score_flow(world["data"], world["root"] / "address", trained,
                                     on_dask(dask_address=cluster.scheduler_address), capacity=CAPACITY)
    return runs


def _out(run: dict[str, Any]) -> Path:
    return Path(run["outputs"]["summary"]).parent


@pytest.mark.slow
def test_dask_writes_the_contract_outputs_of_local_byte_for_byte(runs):
    cases = pd.read_parquet(_out(runs["local"]) / "cases.parquet")
    # the run really was cut: subjects and flagged subjects both span several partitions
    assert len(cases) > 2 * PARTITION_ROWS and cases["flagged"].sum() > PARTITION_ROWS
    for on_dask in ("dask", "address"):
        for name in CONTRACT_OUTPUTS:
            local, dask = _out(runs["local"]) / name, _out(runs[on_dask]) / name
            assert local.read_bytes() == dask.read_bytes(), (on_dask, name)
        assert runs[on_dask]["flagged"] == runs["local"]["flagged"]
        assert runs[on_dask]["data_fingerprint"] == runs["local"]["data_fingerprint"]


@pytest.mark.slow
def test_dask_runs_one_task_per_partition(runs):
    cases = pd.read_parquet(_out(runs["dask"]) / "cases.parquet")
    on_address, on_dask, local = task_names_of_latest_runs("score", 3)
    partitions, flagged_partitions = -(-len(cases) // PARTITION_ROWS), -(-cases["flagged"].sum() // PARTITION_ROWS)
    tasks = ("score subjects", "explain flagged subjects", "write reasons")
    assert [count_task_runs(local, task) for task in tasks] == [1, 1, 1]
    for names in (on_dask, on_address):
        assert [count_task_runs(names, task) for task in tasks] == [partitions, flagged_partitions, flagged_partitions]


def test_the_engine_is_local_unless_configured_and_an_unknown_one_is_refused():
    from configs.settings import SettingsError

    assert load_settings().orchestration.engine == "local"
    with pytest.raises(SettingsError, match="orchestration.engine"):
        load_settings(orchestration={"engine": "spark"})


def test_dask_runs_on_the_named_scheduler_or_else_on_a_local_cluster_of_the_configured_size():
    from pipelines.engine import dask_task_runner

    named = dask_task_runner(load_settings(orchestration={"dask_address": "tcp://scheduler:8786"}).orchestration)
    assert named.address == "tcp://scheduler:8786" and named.cluster_class is None
    local = dask_task_runner(load_settings(orchestration={
        "dask_workers": 3, "dask_worker_memory": "1GiB", "dask_processes": False}).orchestration)
    assert local.address is None
    assert {key: local.cluster_kwargs[key] for key in ("n_workers", "threads_per_worker", "memory_limit",
                                                       "processes")} == {
        "n_workers": 3, "threads_per_worker": 1, "memory_limit": 0, "processes": False}
    # worker processes have the configured limit; threads share this process's memory and have none
    in_processes = dask_task_runner(load_settings(orchestration={"dask_worker_memory": "1GiB"}).orchestration)
    assert in_processes.cluster_kwargs["memory_limit"] == "1GiB" and in_processes.cluster_kwargs["processes"]
