from __future__ import annotations

import os

from configs.settings import load_settings, redacted
from pipelines.workspace import Workspace


def test_defaults_keep_everything_inside_the_workspace(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "environ", dict(os.environ))  # activate's changes end with the test
    monkeypatch.chdir(tmp_path)
    workspace = Workspace(".counterfraud", load_settings())
    workspace.activate()
    root = tmp_path / ".counterfraud"
    assert workspace.root == root
    assert os.environ["PREFECT_HOME"] == str(root / "prefect")
    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{root / 'mlflow.db'}"
    assert workspace.artifact_location == (root / "artifacts").as_uri()
    assert all(path.is_dir() for path in (root / "prefect", root / "artifacts"))
    assert "PREFECT_API_URL" not in workspace.environment()


def test_a_server_store_and_a_prefect_server_come_from_configuration(tmp_path):
    settings = load_settings(
        registry={"tracking_uri": "postgresql://fraud:secret@db.internal/mlflow"},
        orchestration={"prefect_api_url": "http://prefect.internal:4200/api"},
    )
    workspace = Workspace(tmp_path, settings)
    environment = workspace.environment()
    assert environment["MLFLOW_TRACKING_URI"] == "postgresql://fraud:secret@db.internal/mlflow"
    assert environment["PREFECT_API_URL"] == "http://prefect.internal:4200/api"
    assert environment["PREFECT_HOME"] == str(tmp_path / "prefect")


def test_the_ui_serves_the_workspace_store(tmp_path):
    workspace = Workspace(tmp_path, load_settings(registry={"tracking_uri": "postgresql://fraud:secret@db/mlflow"}))
    command = workspace.ui_command(5001)
    assert command[1:4] == ["-m", "mlflow", "server"]
    # the store (and its password) reaches the server through its environment, not its arguments
    assert workspace.ui_environment()["MLFLOW_BACKEND_STORE_URI"] == workspace.tracking_uri
    assert not any("secret" in argument for argument in command)
    assert command[command.index("--default-artifact-root") + 1] == workspace.artifact_location
    assert command[command.index("--port") + 1] == "5001"


def test_passwords_stay_out_of_log_lines():
    assert redacted("postgresql://fraud:secret@db/mlflow") == "postgresql://fraud:***@db/mlflow"
    assert redacted("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
