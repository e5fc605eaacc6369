"""The validate and prepare commands on Dask: each table checked by partitions, the same files, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from configs.settings import Settings, load_settings
from features.contract import UNIQUE, TooManyRejectsError
from pipelines.validate import REJECTS_FILE, SUMMARY_FILE
from tests.conftest import FAST_DETECTOR
from tests.features.corrupted_rows import NASTY, bad_extract, spoil_extract

PEOPLE = 300
SEED = 18
PARTITION_ROWS = 256
SPOIL_EVERY = 40
"""One row in 40 spoiled: rejects in every partition, under the 5 % reject limit."""


@pytest.fixture(scope="module")
def extracts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated world with spoiled rows in every partition, and an extract mostly of bad rows."""
    from synthetic import generate_world

    root = tmp_path_factory.mktemp("validate_dask")
    generate_world(root / "world", people=PEOPLE, seed=SEED, truth_path=root / "truth.parquet")
    assert spoil_extract(root / "world", SPOIL_EVERY, SEED) > 0
    (root / "bad").mkdir()
    bad_extract(root / "bad", NASTY, SEED)
    config = root / "config.yaml"
    config.write_text(FAST_DETECTOR, encoding="utf-8")
    return {"root": root, "world": root / "world", "bad": root / "bad", "config": config}


def _engines(config: Path, cluster: Any) -> dict[str, Settings]:
    """``local``, and ``dask`` on the two-worker LocalCluster ``cluster`` with small partitions."""
    return {"local": load_settings(config),
            "dask": load_settings(config, orchestration={"engine": "dask", "dask_address": cluster.scheduler_address,
                                                         "dask_partition_rows": PARTITION_ROWS})}


@pytest.fixture(scope="module")
def runs(extracts: dict[str, Path], prefect_harness: None) -> dict[str, dict[str, Any]]:
    """``validate`` of both extracts and ``prepare`` of the world, on each engine, each in a directory of its own."""
    from distributed import LocalCluster

    from pipelines.prepare import run_prepare
    from pipelines.validate import run_validation

    root = extracts["root"]
    runs: dict[str, dict[str, Any]] = {}
    # two workers of one thread, threads of this process (as the scoring flow's test)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        for engine, settings in _engines(extracts["config"], cluster).items():
            out = root / engine
            runs[engine] = {"out": out, "world": run_validation(extracts["world"], out / "world", settings)}
            with pytest.raises(TooManyRejectsError) as stopped:
                run_validation(extracts["bad"], out / "bad", settings)
            runs[engine]["bad_error"] = str(stopped.value)
            run_prepare(extracts["world"], out / "prepare", settings, cache_dir=out / "extracts")
    return runs


def _files(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*"))
            if path.is_file()}


def _summary(directory: Path) -> dict[str, Any]:
    summary = json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8"))
    return {key: value for key, value in summary.items() if key not in ("data_dir", "rejects_file")}


@pytest.mark.slow
def test_validate_on_dask_writes_the_rejects_and_figures_of_local_byte_for_byte(runs, extracts):
    local, dask = runs["local"]["out"], runs["dask"]["out"]
    for extract in ("world", "bad"):
        assert (local / extract / REJECTS_FILE).read_bytes() == (dask / extract / REJECTS_FILE).read_bytes()
        assert _summary(local / extract) == _summary(dask / extract)
    assert runs["dask"]["bad_error"] == runs["local"]["bad_error"]
    # the check really was cut: rejects in several partitions of the largest table, and repeated keys
    # whose first occurrence is in another partition than theirs
    rejects = pd.read_csv(local / "world" / REJECTS_FILE, dtype=str, keep_default_na=False)
    rows = runs["local"]["world"]["tables"]
    largest = max(rows, key=lambda table: rows[table]["rows_in"])
    assert rows[largest]["rows_in"] > 3 * PARTITION_ROWS
    partitions = (rejects.loc[rejects["table"] == largest, "row"].astype(int) - 1) // PARTITION_ROWS
    assert partitions.nunique() > 3
    repeats = rejects[rejects["rule"] == UNIQUE]
    assert ((repeats["row"].astype(int) - 1) // PARTITION_ROWS > 0).any()


@pytest.mark.slow
def test_prepare_on_dask_writes_the_validated_tables_and_features_of_local_byte_for_byte(runs):
    local, dask = runs["local"]["out"], runs["dask"]["out"]
    prepared = _files(local / "prepare")
    assert set(prepared) == {"features.parquet", "links.parquet"}
    assert prepared == _files(dask / "prepare")
    # the cache of validated extracts: every validated table, the rejects and the figures
    cached = _files(local / "extracts")
    assert len(cached) > 7 and cached == _files(dask / "extracts")


@pytest.mark.slow
def test_validate_on_dask_runs_one_task_per_partition(runs):
    from prefect.client.orchestration import get_client

    tables = runs["local"]["world"]["tables"]
    partitions = sum(max(1, -(-counts["rows_in"] // PARTITION_ROWS)) for counts in tables.values())
    with get_client(sync_client=True) as client:
        flow_runs = client.request("POST", "/flow_runs/filter", json={
            "flows": {"name": {"any_": ["validate"]}}, "limit": 10, "offset": 0,
            "sort": "EXPECTED_START_TIME_ASC"}).json()
        checked = client.request("POST", "/task_runs/count", json={
            "flow_runs": {"id": {"any_": [flow_runs[0]["id"]]}},
            "task_runs": {"name": {"like_": "check partition-"}}}).json()
    assert checked == partitions > len(tables)
