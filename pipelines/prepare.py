"""Validate → link → features: the first third of every run.

``prepare_features`` is the plain sequence that the train and score flows run as
one task; ``prepare_flow`` is the same sequence as a Prefect flow with a task per
stage, writing the feature table, for a scheduler that only prepares data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from configs.settings import Settings
from features.build import build_features, resolve_as_of
from features.contract import Extract, load_extract
from features.linking import link_records


def prepare_features(
    data_dir: str | Path, settings: Settings
) -> tuple[Extract, pd.DataFrame, pd.DataFrame, dt.date]:
    """Validate the extract, link its people and build one feature row per live subject.

    Returns
    -------
    extract, links, feature_table, as_of
    """
    extract = load_extract(data_dir, settings)
    links = link_records(extract, settings)
    as_of = resolve_as_of(extract.tax_records, settings.as_of)
    feature_table = build_features(extract, links, as_of, settings)
    return extract, links, feature_table, as_of


@flow(name="prepare-features", log_prints=False)
def prepare_flow(data_dir: Path, out_dir: Path, settings: Settings) -> Path:
    """Validate, link and build features; write ``features.parquet`` and ``links.parquet``."""
    extract = task(load_extract, name="validate", cache_policy=NO_CACHE)(data_dir, settings)
    links = task(link_records, name="link", cache_policy=NO_CACHE)(extract, settings)
    as_of = resolve_as_of(extract.tax_records, settings.as_of)
    features = task(build_features, name="build features", cache_policy=NO_CACHE)(
        extract, links, as_of, settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    links.to_parquet(out / "links.parquet", index=False)
    path = out / "features.parquet"
    features.to_parquet(path, index=False)
    return path
