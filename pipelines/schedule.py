"""Scheduled operation: the flows ``counterfraud serve`` deploys, and the Prefect server.

Three deployments, their cron expressions from the ``schedules`` section:

- ``scheduled-score/monthly`` scores the newest extract of ``sources.landing_dir`` with the
  champion, unless the run history shows that extract (same data fingerprint) already
  scored by the same model version: then it does nothing and says so;
- ``scheduled-train/quarterly`` trains a new version on the newest extract (a challenger for
  the panel);
- ``purge/daily`` applies ``retention.days`` (:mod:`pipelines.retention`).

Flow parameters are two strings, the workspace directory and the configuration file
(never the settings themselves: a Prefect record must not hold a setting that may be a
secret); each run reads and validates the configuration when it starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from configs.settings import Settings, load_settings
from features.contract import TABLES
from features.fingerprints import data_fingerprint, fingerprint_inputs
from models.registry import resolve_version
from pipelines.runs import RunRecord, completed_runs
from pipelines.workspace import UI_HOST, Workspace

SCORE_DEPLOYMENT = "monthly"
TRAIN_DEPLOYMENT = "quarterly"
PURGE_DEPLOYMENT = "daily"

NO_LANDING_DIR_ERROR = ("sources.landing_dir is not set: scheduled runs read the newest extract there "
                        "(one sub-directory per extract)")
EMPTY_LANDING_DIR_ERROR = "no extract in {landing_dir}: scheduled runs read its newest sub-directory"
NO_SERVER_ERROR = ("no Prefect server answers at {url}: start one with `counterfraud server` "
                   "or set orchestration.prefect_api_url")


class ScheduleError(RuntimeError):
    """A scheduled run has nothing to read, or no server to run against."""


def newest_extract(landing_dir: str | Path | None) -> Path:
    """The newest extract of a landing directory: its last sub-directory in name order.

    Extracts are delivered one sub-directory each, named so that they sort by delivery
    (e.g. ``2026-03-01``); hidden directories (a delivery still being copied) are skipped.
    """
    if landing_dir is None:
        raise ScheduleError(NO_LANDING_DIR_ERROR)
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing directory not found: {landing_dir} (sources.landing_dir)")
    extracts = sorted(path for path in landing_dir.iterdir() if path.is_dir() and not path.name.startswith("."))
    if not extracts:
        raise ScheduleError(EMPTY_LANDING_DIR_ERROR.format(landing_dir=landing_dir))
    return extracts[-1]


def extract_fingerprint(data_dir: str | Path) -> str:
    """The data fingerprint of a data directory, as a scoring run records it.

    Row counts are not part of the fingerprint (only file names and contents), so the
    files are hashed without reading them as tables.
    """
    return data_fingerprint(fingerprint_inputs(data_dir, dict.fromkeys(TABLES, 0)))


def run_scoring(runs_dir: Path, fingerprint: str, model_version: str) -> RunRecord | None:
    """The completed run that scored data of ``fingerprint`` with ``model_version``, if any."""
    for record in reversed(completed_runs(runs_dir)):
        summary = record.summary
        if (summary.get("data_fingerprint") == fingerprint
                and str(summary.get("model", {}).get("version")) == model_version):
            return record
    return None


def scheduled_capacity(settings: Settings) -> int | float | None:
    """``schedules.score.capacity`` as the scoring flow takes it: a count, a share, or ``None``."""
    capacity = settings.schedules.score.capacity
    if capacity is not None and capacity >= 1:
        return int(capacity)
    return capacity


def _activated(workspace: str, config: str | None) -> tuple[Workspace, Settings]:
    settings = load_settings(config)
    active = Workspace(workspace, settings)
    active.activate()
    return active, settings


@flow(name="scheduled-score")
def scheduled_score_flow(workspace: str, config: str | None = None) -> dict[str, Any]:
    """Score the newest extract of the landing directory, unless this model version has scored it.

    Returns
    -------
    dict
        The run summary, or ``status`` ``skipped`` with the ``extract``, ``model_version``
        and the ``run_id`` of the run that already scored it.
    """
    from pipelines.score import score_flow

    log = get_run_logger()
    active, settings = _activated(workspace, config)
    extract = newest_extract(settings.sources.landing_dir)
    version = resolve_version(None, model_name=settings.registry.model_name)
    earlier = run_scoring(active.runs_dir, extract_fingerprint(extract), version)
    if earlier is not None:
        log.info("extract %s was already scored by model version %s in run %s: nothing to do",
                 extract, version, earlier.run_id)
        return {"status": "skipped", "extract": str(extract), "model_version": version,
                "run_id": earlier.run_id}
    log.info("scoring extract %s with model version %s", extract, version)
    return score_flow(extract, None, active, settings, capacity=scheduled_capacity(settings),
                      model_version=version)


@flow(name="scheduled-train")
def scheduled_train_flow(workspace: str, config: str | None = None) -> dict[str, Any]:
    """Train a new model version on the newest extract of the landing directory."""
    from pipelines.train import train_flow

    active, settings = _activated(workspace, config)
    extract = newest_extract(settings.sources.landing_dir)
    get_run_logger().info("training on extract %s", extract)
    return train_flow(extract, active, settings)


@flow(name="purge")
def purge_flow(workspace: str, config: str | None = None) -> dict[str, Any]:
    """Delete run outputs and cached extracts past ``retention.days`` and record what was deleted."""
    from pipelines.retention import format_purge, purge_workspace

    active, settings = _activated(workspace, config)
    entry = purge_workspace(active.root, active.runs_dir, active.extracts_dir, settings)
    get_run_logger().info(format_purge(entry))
    return entry


def deployments(workspace: Workspace, config: str | Path | None) -> list[Any]:
    """The three deployments, with the schedules of ``workspace.settings``."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    schedules = workspace.settings.schedules
    parameters = {"workspace": str(workspace.root), "config": None if config is None else str(Path(config).resolve())}
    plan = (
        (scheduled_score_flow, SCORE_DEPLOYMENT, schedules.score.cron,
         "Score the newest extract in the landing directory with the champion."),
        (scheduled_train_flow, TRAIN_DEPLOYMENT, schedules.train.cron,
         "Train a challenger on the newest extract in the landing directory."),
        (purge_flow, PURGE_DEPLOYMENT, schedules.purge.cron,
         "Delete run outputs past the retention limit."),
    )
    return [
        # by module path: the runner imports the flow wherever it is started from
        scheduled_flow.to_deployment(name=name, schedules=[Cron(cron, timezone=schedules.timezone)],
                                     parameters=parameters, description=description,
                                     entrypoint_type=EntrypointType.MODULE_PATH)
        for scheduled_flow, name, cron, description in plan
    ]


def check_server(url: str) -> None:
    """Fail with a clear error when no Prefect server answers at ``url``."""
    import httpx

    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=10).raise_for_status()
    except httpx.HTTPError:
        raise ScheduleError(NO_SERVER_ERROR.format(url=url)) from None


def serve_deployments(workspace: Workspace, config: str | Path | None) -> None:
    """Serve the deployments until interrupted; runs start in subprocesses of this one."""
    from prefect import serve

    check_server(os.environ["PREFECT_API_URL"])
    serve(*deployments(workspace, config))


def server_command(workspace: Workspace) -> list[str]:
    """The ``prefect server start`` command of the workspace's server (:mod:`pipelines.prefect_server`)."""
    return [sys.executable, "-m", "pipelines.prefect_server", "--host", UI_HOST,
            "--port", str(workspace.settings.orchestration.server_port)]


def server_environment(workspace: Workspace) -> dict[str, str]:
    """The server's environment: its home (and SQLite database) in the workspace, or the configured database."""
    environment = {**os.environ, "PREFECT_HOME": str(workspace.prefect_home)}
    environment.pop("PREFECT_API_URL", None)  # the server is the API, not a client of one
    database = workspace.settings.orchestration.server_database_url
    if database:
        environment["PREFECT_API_DATABASE_CONNECTION_URL"] = database
    return environment


def run_server(workspace: Workspace) -> None:
    """Run the Prefect server in the foreground until interrupted."""
    try:
        subprocess.run(server_command(workspace), env=server_environment(workspace), check=True)
    except KeyboardInterrupt:
        pass
