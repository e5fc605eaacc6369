"""Where a flow's per-subject work runs: in the flow's process (``local``) or on Dask (``dask``).

On ``dask`` the flow runs with Prefect's ``DaskTaskRunner`` (:func:`on_engine`): on an existing
scheduler (``orchestration.dask_address``) or on a LocalCluster started for the run. The work that
is independent per row is cut into row partitions (:func:`row_partitions`), one Prefect task is
submitted per partition, and the results are put back together in partition order
(:func:`gathered`), so the concatenation is the frame the ``local`` engine computes in one piece
(:func:`per_partition`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from configs.settings import OrchestrationSettings

if TYPE_CHECKING:  # Prefect is imported by the flows; the ``local`` validate command runs without it
    from prefect import Flow, Task
    from prefect.futures import PrefectFuture

LOCAL = "local"
DASK = "dask"
WORKER_PRELOAD = ("models.registry", "models.explain", "features.contract")
"""Modules a LocalCluster worker imports at start: those the partition tasks run."""
CONTRACT_PRELOAD = ("features.contract",)
"""Those of a flow that only checks the contract (``validate``): the model's libraries take a
worker longer to import than a table takes to check."""


def dask_task_runner(orchestration: OrchestrationSettings, preload: Sequence[str] = WORKER_PRELOAD) -> Any:
    """Prefect's ``DaskTaskRunner`` on the configured cluster.

    Parameters
    ----------
    orchestration : OrchestrationSettings
        ``dask_address`` names an existing scheduler; without it a LocalCluster of
        ``dask_workers`` single-threaded workers of ``dask_worker_memory`` each (worker
        processes; threads of this process have no limit of their own) is started when the
        flow starts and closed when it ends.
    preload : sequence of str
        The modules a LocalCluster worker imports before it joins: those the flow's tasks run.
    """
    from prefect_dask import DaskTaskRunner

    if orchestration.dask_address:
        return DaskTaskRunner(address=orchestration.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": orchestration.dask_workers,
            "threads_per_worker": 1,
            # workers in threads share this process, whose memory a worker's monitor would take for
            # its own and pause at 80 % of its limit, never to resume: no limit for threads
            "memory_limit": orchestration.dask_worker_memory if orchestration.dask_processes else 0,
            "processes": orchestration.dask_processes,
            "dashboard_address": None,  # no web page nobody asked for
            # a worker process imports the model's libraries before it joins: importing them while
            # unpickling the first task blocks the worker long enough for the scheduler to drop it
            "preload": list(preload),
        },
    )


def on_engine(flow: Flow, orchestration: OrchestrationSettings, preload: Sequence[str] = WORKER_PRELOAD) -> Flow:
    """``flow`` with Prefect's Dask task runner (:func:`dask_task_runner`, its workers importing
    ``preload``) on the ``dask`` engine, ``flow`` itself on ``local``."""
    if orchestration.engine == DASK:
        return flow.with_options(task_runner=dask_task_runner(orchestration, preload))
    return flow


def per_partition(work: Task, *leading: Any, rows: pd.DataFrame, orchestration: OrchestrationSettings,
                  ignore_index: bool = False) -> pd.DataFrame:
    """``work(*leading, rows)``: one call on ``local``; on ``dask`` one submitted task per row
    partition of ``rows`` (``orchestration.dask_partition_rows`` each), :func:`gathered`.

    Parameters
    ----------
    work : Task
        A Prefect task whose last argument is the rows it works on and whose answer is a frame
        of its own for those rows, whatever the other rows.
    *leading
        Its other arguments (the model), the same for every partition.
    rows : DataFrame
    orchestration : OrchestrationSettings
    ignore_index : bool
        As :func:`gathered`.
    """
    if orchestration.engine != DASK:
        return work(*leading, rows)
    return gathered([work.submit(*leading, part) for part in row_partitions(rows, orchestration.dask_partition_rows)],
                    ignore_index=ignore_index)


def row_partitions(frame: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    """``frame`` cut into consecutive pieces of ``rows`` rows (the last may be shorter).

    An empty frame is one empty partition, so the work still returns its (empty) result.

    Examples
    --------
    >>> [len(part) for part in row_partitions(pd.DataFrame({"a": range(5)}), 2)]
    [2, 2, 1]
    >>> [len(part) for part in row_partitions(pd.DataFrame({"a": []}), 2)]
    [0]
    """
    return [frame.iloc[start:start + rows] for start in range(0, max(len(frame), 1), rows)]


def gathered(futures: Sequence[PrefectFuture], *, ignore_index: bool = False) -> pd.DataFrame:
    """The frames the submitted partition tasks return, concatenated in submission order.

    Parameters
    ----------
    futures : sequence of PrefectFuture
        One per partition, in the partitions' order; each failed task raises here.
    ignore_index : bool
        Number the rows afresh (for results that are numbered from 0, not indexed by subject).
    """
    return concatenated([future.result() for future in futures], ignore_index=ignore_index)


def concatenated(frames: Sequence[pd.DataFrame], *, ignore_index: bool = False) -> pd.DataFrame:
    """``frames`` one after the other, each text (Arrow) column in one piece of memory, as in a frame
    computed whole: Parquet's writer falls back from dictionary to plain encoding at a point that
    depends on how a column's memory is cut, so pieces would show in the file's bytes."""
    frame = pd.concat(frames, ignore_index=ignore_index)
    return pd.DataFrame({column: _in_one_piece(frame[column]) for column in frame.columns}, index=frame.index)


def _in_one_piece(column: pd.Series) -> pd.Series:
    if not isinstance(column.array, pd.arrays.ArrowExtensionArray):
        return column
    values = pa.array(column.array)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pd.Series(pd.array(values, dtype=column.dtype), index=column.index, name=column.name)
