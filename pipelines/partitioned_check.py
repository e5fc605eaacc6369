"""The contract check on Dask: each table's partitions checked as Prefect tasks, the table judged whole.

On ``orchestration.engine: dask`` every table is read as on ``local`` (the rows its file spoils and
the rows' numbers found in one pass over the file), cut into partitions of ``dask_partition_rows``
rows, and each partition is checked on the cluster, one Prefect task each, by the code that checks a
whole table on ``local`` (:func:`features.contract.check_partition`). The flow then gathers every
partition's rejects, with their row numbers, refuses a value of a unique column that an earlier
partition holds (a pass over those columns' values alone, one short text per row), and works out
the quality figures of the whole table, which the reject limit judges. The validated tables, the
rejects and the figures are those of ``local``, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from configs.settings import OrchestrationSettings, Settings
from features.contract import (
    TableCheck,
    TableChecker,
    TableSpec,
    check_partition,
    check_table,
    merge_partition_checks,
    run_month,
)
from features.contract.parsing import Arrow
from pipelines.engine import CONTRACT_PRELOAD, DASK, on_engine, row_partitions
from pipelines.validate import validate_extract

check_rows = task(check_partition, name="check partition", cache_policy=NO_CACHE)


def partitioned_check(partition_rows: int) -> TableChecker:
    """A table check that submits one :func:`~features.contract.check_partition` task per
    ``partition_rows`` rows to the flow's task runner and merges their checks in row order."""

    def check(spec: TableSpec, raw: pd.DataFrame, source: str, taken_keys: Arrow | None = None,
              latest_period: dt.date | None = None) -> TableCheck:
        # the month on the flow's clock: a worker's could have turned since
        latest_period = latest_period or run_month()
        futures = [check_rows.submit(spec, part, source, taken_keys, latest_period)
                   for part in row_partitions(raw, partition_rows)]
        return merge_partition_checks(spec, [future.result() for future in futures], source)

    return check


def table_check(orchestration: OrchestrationSettings) -> TableChecker:
    """How a flow checks each table on the configured engine: whole in its process, or by partitions."""
    if orchestration.engine == DASK:
        return partitioned_check(orchestration.dask_partition_rows)
    return check_table


@flow(name="validate", validate_parameters=False)
def validation_flow(data_dir: str | Path, out_dir: str | Path, settings: Settings) -> dict[str, Any]:
    """The ``validate`` command as a Prefect flow, each table checked by partitions on its task runner."""
    return validate_extract(data_dir, out_dir, settings, partitioned_check(settings.orchestration.dask_partition_rows))


def validate_on_dask(data_dir: str | Path, out_dir: str | Path, settings: Settings) -> dict[str, Any]:
    """:func:`validation_flow` on the Dask cluster ``settings.orchestration`` names (or a LocalCluster)."""
    return on_engine(validation_flow, settings.orchestration, CONTRACT_PRELOAD)(data_dir, out_dir, settings)
