from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from configs.settings import Settings, load_settings

FAST_DETECTOR = """
detector:
  isolation_forest: {n_estimators: 25}
  autoencoder: {hidden_neurons: [8, 4, 8], epochs: 2}
"""
"""A configuration file's text for a detector small enough for end-to-end tests."""
SMALL_DETECTOR = {
    "isolation_forest": {"n_estimators": 25, "max_samples": 64},
    "autoencoder": {"hidden_neurons": [8, 4, 8], "epochs": 3, "batch_size": 64},
}
"""The ``detector`` settings of a small detector, for tests that build their settings in code."""

# ---------------------------------------------------------------- Prefect and MLflow


@contextlib.contextmanager
def activated_workspace(root: Path, settings: Settings | None = None) -> Iterator[object]:
    """A ``Workspace`` at ``root`` whose environment (MLflow store, Prefect home) is undone on exit."""
    from pipelines.workspace import Workspace

    workspace = Workspace(root, settings or load_settings())
    saved = dict(os.environ)
    try:
        workspace.activate()
        yield workspace
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[object]:
    """A fresh activated workspace: its own SQLite MLflow store and artefacts under ``tmp_path``."""
    with activated_workspace(tmp_path / "workspace") as active:
        yield active


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A real temporary Prefect API for the session; Prefect's home in a temporary directory."""
    home = tmp_path_factory.mktemp("prefect_home")
    with pytest.MonkeyPatch.context() as patch:
        # in the environment too: the harness's server runs in a process of its own
        patch.setenv("PREFECT_HOME", str(home))
        patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        from prefect.settings import (
            PREFECT_HOME,
            PREFECT_SERVER_ANALYTICS_ENABLED,
            temporary_settings,
        )
        from prefect.testing.utilities import prefect_test_harness


        updates = {PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False}
        # its 30 s default start-up wait is too short on a busy two-core machine
        with temporary_settings(updates=updates), prefect_test_harness(server_startup_timeout=180):
            yield


def task_names_of_latest_runs(flow_name: str, count: int) -> list[list[str]]:
    """The task-run names of the latest ``count`` runs of the flow ``flow_name``, latest first."""
    from prefect.client.orchestration import get_client

    # the API directly: this client version sends null limits, which its server refuses
    with get_client(sync_client=True) as client:
        flow_runs = client.request("POST", "/flow_runs/filter", json={
            "flows": {"name": {"any_": [flow_name]}}, "limit": count, "offset": 0,
            "sort": "EXPECTED_START_TIME_DESC"}).json()
        return [[task["name"] for task in client.request("POST", "/task_runs/filter", json={
            "flow_runs": {"id": {"any_": [run["id"]]}}, "limit": 200, "offset": 0,
            "sort": "ID_DESC"}).json()] for run in flow_runs]


def count_task_runs(names: list[str], task: str) -> int:
    """How many of the task-run ``names`` are runs of the task named ``task``."""
    return sum(name.startswith(f"{task}-") for name in names)


# ---------------------------------------------------------------- the oversight panel's sign-off

TRAINER = "Alex Trainer"
PANEL_MEMBER = "Pat Panel"


def train_approved(data_dir: str | Path, workspace: object, settings: Settings, **train_kwargs: object) -> dict:
    """Train a version (as :data:`TRAINER` unless ``trained_by`` says otherwise), then approve and promote it.

    The approval is a panel member's other than the trainer, on the report logged at
    training, so the version is ``champion`` and may score. Returns the training result.
    """
    from oversight.signoff import APPROVED, SIGNOFF_LOG, decide
    from pipelines.train import train_flow

    train_kwargs.setdefault("trained_by", TRAINER)
    trained = train_flow(data_dir, workspace, settings, **train_kwargs)
    decide(model_name=trained["model_name"], version=trained["version"], decision=APPROVED, by=PANEL_MEMBER,
           note="approved for the tests", log_path=workspace.root / SIGNOFF_LOG, promote=True)
    return trained
