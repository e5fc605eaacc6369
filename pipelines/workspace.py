"""The workspace: one directory that holds every run's state.

By default it holds the SQLite MLflow store and its artefacts, and Prefect's
home, so a run writes nothing into the user's home directory. The same code
takes a Postgres MLflow URI (``registry.tracking_uri``) and a Prefect server
(``orchestration.prefect_api_url``) from the configuration.

Prefect and MLflow read their settings from the environment, Prefect as soon
as it is imported: call ``Workspace.activate()`` before importing either.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from configs.settings import Settings, redacted

logger = logging.getLogger(__name__)

UI_HOST = "127.0.0.1"

ENVIRONMENT_DEFAULTS = {
    # case data stays on site: no usage reports
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # a command's output and logs hold its lines, not MLflow's download progress bars
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # the temporary Prefect server creates its database on a workspace's first run, which
    # takes longer than Prefect's 20 s default on a busy two-core machine
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}
"""Set by ``activate`` unless the environment already sets them."""


class WorkspaceError(ValueError):
    """The workspace cannot hold a command's state (it cannot be created or written)."""


NOT_WRITABLE = ("workspace {root} cannot be written ({problem}): every command keeps its state there "
                "(stores, Prefect's home, run history); give a writable --workspace")


class Workspace:
    """Paths and environment of one workspace directory.

    Parameters
    ----------
    root : Path
        The workspace directory; created on ``activate``.
    settings : Settings
        Its ``registry.tracking_uri`` and ``orchestration.prefect_api_url`` replace the
        embedded defaults when set.
    """

    def __init__(self, root: str | Path, settings: Settings) -> None:
        self.root = Path(root).expanduser().resolve()
        self.settings = settings

    @property
    def prefect_home(self) -> Path:
        return self.root / "prefect"

    @property
    def runs_dir(self) -> Path:
        """The run history: one ``<run_id>/`` directory of outputs per scoring run."""
        return self.root / "runs"

    @property
    def scoring_dir(self) -> Path:
        """Where a scoring run without ``--out`` (a scheduled one) writes the contract check of its extract."""
        return self.root / "scoring"

    @property
    def training_dir(self) -> Path:
        """Where training writes the contract check of its extract: ``rejects.csv``, ``run_summary.json``."""
        return self.root / "training"

    @property
    def extracts_dir(self) -> Path:
        """The cache of validated extracts: one directory per set of input files (``pipelines.extract_cache``)."""
        return self.root / "extracts"

    @property
    def artifacts_dir(self) -> Path:
        """Where MLflow writes run and model artefacts."""
        return self.root / "artifacts"

    @property
    def artifact_location(self) -> str:
        """``artifacts_dir`` as the URI MLflow records for an experiment."""
        return self.artifacts_dir.as_uri()

    @property
    def tracking_uri(self) -> str:
        """The configured MLflow tracking URI, else SQLite in the workspace."""
        configured = self.settings.registry.tracking_uri
        return configured if configured else f"sqlite:///{self.root / 'mlflow.db'}"

    def environment(self) -> dict[str, str]:
        """The environment variables ``activate`` sets."""
        environment = {
            "PREFECT_HOME": str(self.prefect_home),
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLFLOW_REGISTRY_URI": self.tracking_uri,
        }
        if self.settings.orchestration.prefect_api_url:
            environment["PREFECT_API_URL"] = self.settings.orchestration.prefect_api_url
        return environment

    def activate(self) -> None:
        """Create the workspace directories and point Prefect and MLflow at them.

        Call before importing Prefect or MLflow. Also sets ``ENVIRONMENT_DEFAULTS``
        where the environment does not decide them.

        Raises
        ------
        WorkspaceError
            When a directory cannot be created or written: found here, before a store or
            Prefect's server fails on it with errors of their own.
        """
        try:
            for directory in (self.root, self.prefect_home, self.artifacts_dir):
                directory.mkdir(parents=True, exist_ok=True)
                # a file made and removed: permission bits alone do not say (a read-only mount, root)
                tempfile.TemporaryFile(dir=directory).close()
        except OSError as error:
            problem = error.strerror or type(error).__name__
            raise WorkspaceError(NOT_WRITABLE.format(root=self.root, problem=problem)) from error
        os.environ.update(self.environment())
        for name, value in ENVIRONMENT_DEFAULTS.items():
            os.environ.setdefault(name, value)
        logger.info("workspace %s: MLflow at %s", self.root, redacted(self.tracking_uri))

    @property
    def server_api_url(self) -> str:
        """The Prefect server scheduled runs use: the configured one, else the one ``counterfraud server`` starts."""
        configured = self.settings.orchestration.prefect_api_url
        return configured or f"http://{UI_HOST}:{self.settings.orchestration.server_port}/api"

    def use_server(self) -> None:
        """Point Prefect at ``server_api_url`` rather than a temporary server. Call before importing Prefect."""
        os.environ["PREFECT_API_URL"] = self.server_api_url

    def ui_command(self, port: int) -> list[str]:
        """The ``mlflow server`` command that serves the UI on this workspace's store.

        The store URI, which may hold a password, is not an argument (any user can read a
        process's arguments): ``ui_environment`` passes it as ``MLFLOW_BACKEND_STORE_URI``.
        """
        return [
            sys.executable, "-m", "mlflow", "server",
            "--default-artifact-root", self.artifact_location,
            "--host", UI_HOST,
            "--port", str(port),
        ]

    def ui_environment(self) -> dict[str, str]:
        """The environment of ``ui_command``: this one, plus the store to serve."""
        return {**os.environ, "MLFLOW_BACKEND_STORE_URI": self.tracking_uri}

    def serve_ui(self, port: int = 5000) -> None:
        """Serve the MLflow UI on ``http://127.0.0.1:<port>`` until interrupted."""
        logger.info("MLflow UI on http://%s:%d", UI_HOST, port)
        try:
            subprocess.run(self.ui_command(port), env=self.ui_environment(), check=True)
        except KeyboardInterrupt:
            logger.info("MLflow UI stopped")

