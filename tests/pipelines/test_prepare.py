"""The prepare flow: validate → link → features on a generated world, written as Parquet."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd
import pytest

from configs.settings import load_settings
from features.definitions import feature_names
from pipelines.prepare import prepare_features, prepare_flow
from synthetic import generate_world


@pytest.mark.usefixtures("prefect_harness")
def test_prepare_flow_writes_one_feature_row_per_live_subject(tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate_world(data, people=800, seed=5, truth_path=tmp_path / "truth.csv")
    settings = load_settings()
    path = prepare_flow(data, tmp_path / "out", settings)
    features = pd.read_parquet(path)
    assert features["subject_ref"].is_unique and len(features) > 0
    assert not features[list(feature_names())].isna().any().any()
    links = pd.read_parquet(tmp_path / "out" / "links.parquet")
    assert set(links["table"]) == {"benefit_claims", "housing_claims", "electoral_register"}

    stages: list[str] = []

    def record(name: str):
        stages.append(name)
        return contextlib.nullcontext()

    _, _, again, _ = prepare_features(data, settings, stage=record)
    assert stages == ["validate", "link", "features"]
    pd.testing.assert_frame_equal(features, again.reset_index(drop=True))
