"""The prepare flow on Dask: the feature table assembled per partition of the subjects, the same files, byte for byte."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from configs.settings import load_settings

PEOPLE = 600
SEED = 5
PARTITION_ROWS = 128


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict[str, Any]:
    """``features.parquet`` and ``links.parquet`` of one world prepared on ``local`` and on a LocalCluster
    of two single-threaded workers (threads of this process, as in the scoring flow's test)."""
    from pipelines.engine import dask_task_runner
    from pipelines.prepare import prepare_flow
    from synthetic import generate_world

    root = tmp_path_factory.mktemp("prepare_dask")
    generate_world(root / "data", people=PEOPLE, seed=SEED, truth_path=root / "truth.parquet")
    on_dask = load_settings(orchestration={"engine": "dask", "dask_partition_rows": PARTITION_ROWS, "dask_workers": 2,
                                           "dask_worker_memory": "2GiB", "dask_processes": False})
    prepare_flow(root / "data", root / "local", load_settings())
    state = prepare_flow.with_options(task_runner=dask_task_runner(on_dask.orchestration))(
        root / "data", root / "dask", on_dask, return_state=True)
    assert state.is_completed()
    return {"root": root, "flow_run_id": state.state_details.flow_run_id}


def test_dask_writes_the_feature_table_and_links_of_local_byte_for_byte(prepared):
    root = prepared["root"]
    features = pd.read_parquet(root / "local" / "features.parquet")
    assert len(features) > 2 * PARTITION_ROWS  # the table really was cut
    for name in ("features.parquet", "links.parquet"):
        assert (root / "local" / name).read_bytes() == (root / "dask" / name).read_bytes(), name


def test_dask_assembles_the_features_in_one_task_per_partition_of_the_subjects(prepared):
    from prefect.client.orchestration import get_client

    # the API directly: this client version sends null limits, which its server refuses
    with get_client(sync_client=True) as client:
        names = [task["name"] for task in client.request("POST", "/task_runs/filter", json={
            "flow_runs": {"id": {"any_": [str(prepared["flow_run_id"])]}}, "limit": 200, "offset": 0,
            "sort": "ID_DESC"}).json()]
    subjects = len(pd.read_parquet(prepared["root"] / "dask" / "features.parquet", columns=["subject_ref"]))
    assert sum(name.startswith("assemble features-") for name in names) == -(-subjects // PARTITION_ROWS)
