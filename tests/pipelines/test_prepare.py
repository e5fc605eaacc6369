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


SECRET = "s3cret-Pa55"


def secret_settings(**changes) -> object:
    """Settings whose store and Prefect URLs carry a password, as a careless configuration would."""
    return load_settings(
        registry={"tracking_uri": f"postgresql+psycopg://fraud:{SECRET}@db.internal/mlflow"},
        orchestration={"prefect_api_url": f"https://ops:{SECRET}@prefect.internal/api"},
        **changes,
    )


def flow_run_records(flow_run_id) -> str:
    """Everything Prefect's API holds about a flow run: its parameters and its logs, as text."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        # the API directly: this client version sends null limits, which its server refuses
        logs = client.request("POST", "/logs/filter", json={
            "logs": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "sort": "TIMESTAMP_ASC",
            "limit": 200, "offset": 0,
        }).json()
    return repr(flow_run.parameters) + "\n".join(log["message"] for log in logs)


@pytest.mark.usefixtures("prefect_harness")
def test_flow_run_parameters_carry_no_password(tmp_path: Path) -> None:
    from tests.features.contract_fixtures import write_contract_dir

    settings = secret_settings()
    state = prepare_flow(write_contract_dir(tmp_path / "data"), tmp_path / "out", settings, return_state=True)
    assert state.is_completed()
    records = flow_run_records(state.state_details.flow_run_id)
    assert "fraud:***@db.internal" in records  # the setting is recorded, masked
    assert SECRET not in records
    assert SECRET in settings.registry.tracking_uri  # the process itself still has it
