"""Partitions put back together as the frame computed in one piece, down to the bytes of its Parquet file."""

from __future__ import annotations

import io
import operator
import pickle
import time

import numpy as np
import pandas as pd

from pipelines.engine import concatenated, row_partitions


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_partitions_from_workers_concatenate_to_the_parquet_bytes_of_the_whole():
    rng = np.random.default_rng(3)
    # distinct text whose dictionary outgrows Parquet's dictionary page (1 MiB) in the second partition
    # only: the writer falls back to plain encoding there, at a point that depends on how the memory is cut
    whole = pd.DataFrame({"key": pd.Series([f"B{value:09d}" for value in rng.permutation(90_000)], dtype="str"),
                          "value": rng.normal(size=90_000)})
    # as a worker process returns them: pickled and unpickled, each in memory of its own
    parts = [pickle.loads(pickle.dumps(part)) for part in row_partitions(whole, 65_536)]
    assert len(parts) == 2
    together = concatenated(parts)
    assert together.dtypes.equals(whole.dtypes) and together.index.equals(whole.index)
    assert _parquet(together) == _parquet(whole)



def test_thread_workers_are_not_paused_by_the_memory_of_the_process_they_share():
    from distributed import Client, LocalCluster

    from configs.settings import load_settings
    from pipelines.engine import dask_task_runner

    # a limit far below this process's memory: a worker taking the process's memory for its own
    # pauses at its first look and never runs a task
    settings = load_settings(orchestration={"engine": "dask", "dask_workers": 1, "dask_worker_memory": "1MiB",
                                            "dask_processes": False})
    runner = dask_task_runner(settings.orchestration, preload=())
    with LocalCluster(**runner.cluster_kwargs) as cluster, Client(cluster) as client:
        time.sleep(1)  # the worker's memory monitor has looked by then
        assert client.submit(operator.mul, 2, 21).result(timeout=30) == 42
