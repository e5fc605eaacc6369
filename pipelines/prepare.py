"""Validate → link → features: the first third of every run.

``prepare_features`` is the sequence that the train and score flows run as one
task; ``prepare_flow`` runs it on its own and writes the feature table, for a
scheduler (or a person) that only prepares data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from configs.settings import Settings
from features.build import FeatureBuildError, feature_context, model_features, resolve_as_of
from features.contract import Extract, enforce_reject_limit
from features.linking import link_records
from pipelines.engine import DASK, gathered, on_engine, row_partitions
from pipelines.extract_cache import describe_read, validated_extract
from pipelines.partitioned_check import table_check
from pipelines.validate import write_validation

# the context is a frame of the subjects: never hash it for Prefect's cache
assemble = task(model_features, name="assemble features", cache_policy=NO_CACHE)


def _untimed(_stage: str) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


def prepare_features(
    data_dir: str | Path,
    settings: Settings,
    stage: Callable[[str], AbstractContextManager[None]] = _untimed,
    report_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> tuple[Extract, pd.DataFrame, pd.DataFrame, dt.date]:
    """Validate the extract, link its people and build one feature row per live subject.

    Parameters
    ----------
    data_dir : path
        A data directory in the input contract; never modified.
    settings : Settings
    stage : callable, optional
        ``stage(name)`` wraps each step (``validate``, ``link``, ``features``), e.g. a
        stopwatch's context manager, so a run can report the time of each.
    report_dir : path, optional
        Receives ``rejects.csv`` and ``run_summary.json`` of the contract check
        (``pipelines.validate.write_validation``) before the reject limit can stop the run.
    cache_dir : path, optional
        The workspace's cache of validated extracts (``Workspace.extracts_dir``): files
        validated before are read from it, others are validated and stored in it
        (``pipelines.extract_cache``; unless ``extract_cache.enabled`` is off). On the ``dask``
        engine each table is checked by partitions on the flow's task runner
        (:mod:`pipelines.partitioned_check`).

    Returns
    -------
    extract, links, feature_table, as_of

    Raises
    ------
    features.contract.TooManyRejectsError
        When a table refuses more than ``settings.contract.max_reject_share`` of its rows.
    features.build.FeatureBuildError
        When no claim is live on the as-of date: there is no one to fit or score.
    """
    with stage("validate"):
        extract = validated_extract(data_dir, settings, cache_dir, check=table_check(settings.orchestration))
        if report_dir is not None:
            write_validation(extract, data_dir, report_dir)
        enforce_reject_limit(extract, settings.contract.max_reject_share)
    with stage("link"):
        links = link_records(extract, settings)
    with stage("features"):
        as_of = resolve_as_of(extract.tax_records, settings.as_of)
        feature_table = _feature_table(feature_context(extract, links, as_of, settings), settings)
    if feature_table.empty:
        raise FeatureBuildError(
            f"no live subject as of {as_of.isoformat()}: no benefit_claims or housing_claims row is live on "
            f"that date (started on or before it and not ended by it); check --as-of and the claims' dates")
    return extract, links, feature_table, as_of


def _feature_table(context: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """:func:`features.build.model_features` of ``context``: in one piece on ``local``; on ``dask`` one
    task per partition of ``orchestration.dask_partition_rows`` subjects on the flow's task runner,
    put back together in order (each row's features read that row alone: the same table)."""
    if settings.orchestration.engine != DASK:
        return model_features(context)
    parts = row_partitions(context, settings.orchestration.dask_partition_rows)
    return gathered([assemble.submit(part) for part in parts])


def run_prepare(data_dir: Path, out_dir: Path, settings: Settings, cache_dir: Path | None = None) -> Path:
    """:func:`prepare_flow` on the configured ``orchestration.engine`` (on ``dask``, with Prefect's
    Dask task runner): the same files, byte for byte."""
    return on_engine(prepare_flow, settings.orchestration)(data_dir, out_dir, settings, cache_dir)


@flow(name="prepare-features", validate_parameters=False)
def prepare_flow(data_dir: Path, out_dir: Path, settings: Settings, cache_dir: Path | None = None) -> Path:
    """Validate (or read from the cache of validated extracts in ``cache_dir``), link and build features;
    write ``features.parquet`` and ``links.parquet``."""
    extract, links, features, _as_of = task(
        prepare_features, name="validate, link and build features", cache_policy=NO_CACHE
    )(data_dir, settings, cache_dir=cache_dir)
    get_run_logger().info(describe_read(extract, settings))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    links.to_parquet(out / "links.parquet", index=False)
    features.to_parquet(out / "features.parquet", index=False)
    return out / "features.parquet"
