"""Scheduled operation end to end, on PostgreSQL.

One Prefect server for the module (``counterfraud server``, its database on PostgreSQL),
MLflow's tracking store on PostgreSQL, ``counterfraud serve`` serving the deployments:
a scoring run triggered through the server completes and appears in ``runs list``, a
second one finds the extract already scored and does nothing, and the scheduled runs
the server plans follow the configured cron expressions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from configs.settings import Settings, load_settings
from pipelines.runs import completed_runs
from tests.conftest import activated_workspace

PROJECT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres@127.0.0.1:5432"
PEOPLE = 500
SCORE_CRON = "15 3 * * 1"  # Mondays 03:15, London time: not a default, so the test sees the config's
TRAIN_CRON = "0 6 1 */2 *"
TIMEZONE = "Europe/London"
WAIT_SECONDS = 600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _postgres_database(purpose: str) -> Iterator[str]:
    """A fresh database ``cf_<purpose>_<hex>`` on the machine's PostgreSQL, dropped afterwards."""
    import psycopg

    name = f"cf_{purpose}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(f"postgresql://{POSTGRES}/test", autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is unreachable at {POSTGRES} (database test): {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait_for(check: Any, what: str, process: subprocess.Popen | None = None) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: the process ended with status {process.returncode}")
        found = check()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _start(verb: str, workspace: Path, config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", verb, "--workspace", str(workspace), "--config", str(config)],
        env={**os.environ, "PYTHONPATH": str(PROJECT)}, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _train_for_scoring(data_dir: Path, workspace: Any, settings: Settings, **train_kwargs: Any) -> dict[str, Any]:
    """Train a version, approved and promoted by a panel member other than its trainer, so scoring uses it."""
    from tests.conftest import train_approved

    return train_approved(data_dir, workspace, settings, **train_kwargs)


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The server, a trained version in MLflow on PostgreSQL, and the served deployments."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from synthetic import generate_world

    root = tmp_path_factory.mktemp("schedule")
    landing = root / "landing"
    generate_world(landing / "2026-01-01", people=PEOPLE, seed=4, truth_path=root / "truth_old.parquet")
    generate_world(landing / "2026-02-01", people=PEOPLE, seed=5, truth_path=root / "truth.parquet")
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    with _postgres_database("prefect") as prefect_db, _postgres_database("mlflow") as mlflow_db:
        config = root / "config.yaml"
        config.write_text(f"""
detector:
  isolation_forest: {{n_estimators: 25}}
  autoencoder: {{hidden_neurons: [8, 4, 8], epochs: 2}}
registry:
  tracking_uri: postgresql+psycopg://{POSTGRES}/{mlflow_db}
orchestration:
  prefect_api_url: {api_url}
  server_port: {port}
  server_database_url: postgresql+asyncpg://{POSTGRES}/{prefect_db}
sources:
  landing_dir: {landing}
schedules:
  timezone: {TIMEZONE}
  score: {{cron: "{SCORE_CRON}", capacity: 9}}
  train: {{cron: "{TRAIN_CRON}"}}
""", encoding="utf-8")
        settings = load_settings(config)
        workspace_root = root / "workspace"
        server = _start("server", workspace_root, config, root / "server.log")
        served = None
        try:
            _wait_for(lambda: _healthy(api_url), "the Prefect server", server)
            with activated_workspace(workspace_root, settings) as workspace, \
                    temporary_settings(updates={PREFECT_API_URL: api_url}):
                _train_for_scoring(landing / "2026-02-01", workspace, settings)
                served = _start("serve", workspace_root, config, root / "serve.log")
                _wait_for(lambda: len(_deployments(api_url)) == 3, "the served deployments", served)
                yield {"root": root, "api_url": api_url, "workspace": workspace, "settings": settings,
                       "prefect_db": prefect_db, "config": config}
        finally:
            if served is not None:
                _stop(served)
            _stop(server)
            shutil.rmtree(root / "workspace" / "prefect", ignore_errors=True)


def _deployments(api_url: str) -> list[dict[str, Any]]:
    return httpx.post(f"{api_url}/deployments/filter", json={}, timeout=30).json()


def _logs(api_url: str, flow_run_id: str) -> list[str]:
    found = httpx.post(f"{api_url}/logs/filter",
                       json={"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}, timeout=30).json()
    return [entry["message"] for entry in found]


@pytest.mark.slow
def test_the_server_and_mlflow_run_on_postgres(operation):
    import psycopg

    with psycopg.connect(f"postgresql://{POSTGRES}/{operation['prefect_db']}") as connection:
        deployments = connection.execute("SELECT name FROM deployment ORDER BY name").fetchall()
    assert [row[0] for row in deployments] == ["daily", "monthly", "quarterly"]
    tracking = os.environ["MLFLOW_TRACKING_URI"]
    assert tracking.startswith("postgresql+psycopg://")
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions(f"name = '{operation['settings'].registry.model_name}'")
    assert [str(version.version) for version in versions] == ["1"]


@pytest.fixture(scope="module")
def triggered(operation) -> dict[str, Any]:
    """The scoring deployment triggered twice through the server."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: operation["api_url"]}):
        first = run_deployment("scheduled-score/monthly", timeout=WAIT_SECONDS, poll_interval=2)
        runs_after_first = completed_runs(operation["workspace"].runs_dir)
        second = run_deployment("scheduled-score/monthly", timeout=WAIT_SECONDS, poll_interval=2)
    return {"first": first, "second": second, "runs_after_first": runs_after_first}


@pytest.mark.slow
def test_a_run_triggered_through_the_server_completes_and_is_listed(operation, triggered, capsys):
    from pipelines.cli import main

    assert triggered["first"].state.is_completed(), triggered["first"].state
    runs = triggered["runs_after_first"]
    assert len(runs) == 1
    summary = runs[0].summary
    assert summary["data_dir"] == str(operation["root"] / "landing" / "2026-02-01")
    assert summary["model"]["version"] == "1" and summary["flagged"] == 9  # the scheduled capacity
    saved = dict(os.environ)
    try:
        assert main(["runs", "list", "--workspace", str(operation["workspace"].root)]) == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    listed = capsys.readouterr().out.strip().splitlines()
    assert listed[1].split()[0] == runs[0].run_id


@pytest.mark.slow
def test_an_extract_already_scored_by_the_version_is_not_scored_again(operation, triggered):
    assert triggered["second"].state.is_completed(), triggered["second"].state
    assert [run.run_id for run in completed_runs(operation["workspace"].runs_dir)] == [
        run.run_id for run in triggered["runs_after_first"]]
    # the run's logs reach the server in batches, possibly after its final state
    _wait_for(lambda: [message for message in _logs(operation["api_url"], str(triggered["second"].id))
                              if "already scored by model version 1" in message and "nothing to do" in message],
                     "the second run's log saying it had nothing to do")


def _scheduled_times(api_url: str, deployment_id: str) -> list[dt.datetime]:
    found = httpx.post(f"{api_url}/flow_runs/filter", json={
        "flow_runs": {"deployment_id": {"any_": [deployment_id]}, "state": {"type": {"any_": ["SCHEDULED"]}}},
        "sort": "EXPECTED_START_TIME_ASC", "limit": 10}, timeout=30).json()
    return [dt.datetime.fromisoformat(run["expected_start_time"]) for run in found]


@pytest.mark.slow
@pytest.mark.parametrize(("flow_name", "cron"), [("scheduled-score/monthly", SCORE_CRON),
                                                 ("scheduled-train/quarterly", TRAIN_CRON),
                                                 ("purge/daily", "0 4 * * *")])
def test_the_next_scheduled_runs_follow_the_configured_cron(operation, flow_name, cron):
    from cronsim import CronSim

    deployment = httpx.get(f"{operation['api_url']}/deployments/name/{flow_name}", timeout=30).json()
    assert [(schedule["schedule"]["cron"], schedule["schedule"]["timezone"])
            for schedule in deployment["schedules"]] == [(cron, TIMEZONE)]
    zone = ZoneInfo(TIMEZONE)
    times = _wait_for(lambda: _scheduled_times(operation["api_url"], deployment["id"]),
                      f"scheduled runs of {flow_name}")
    # the server plans from the time it saw the deployment, before now
    expected = CronSim(cron, dt.datetime.now(zone) - dt.timedelta(minutes=30))
    assert [time.astimezone(zone) for time in times] == [next(expected) for _ in times]
