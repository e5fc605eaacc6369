"""Drift of a scoring run: its references, its files, its alert.

The statistics are :mod:`models.drift`'s; this module finds the two references (the
training profiles logged with the model version, the previous run's ``drift.json``),
writes ``drift.json`` and ``drift.html`` into a run's outputs, and turns an alert into
a Prefect event (``counterfraud.drift.alert``) that an automation can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.drift import (
    PREVIOUS_RUN,
    TRAINING,
    compare,
    distribution_profiles,
    drift_report,
    top_feature_shares,
)
from pipelines.runs import completed_runs

TRAINING_PROFILES_ARTIFACT = "drift_reference.json"
"""The training data's profiles, logged in the training run of every model version."""
DRIFT_FILE = "drift.json"
DRIFT_PAGE = "drift.html"
ALERT_EVENT = "counterfraud.drift.alert"


def log_training_profiles(run_id: str, feature_table: pd.DataFrame, feature_names: Sequence[str],
                          scores: np.ndarray) -> dict[str, dict[str, list]]:
    """Log the profiles of the training features and scores in the MLflow run ``run_id``."""
    profiles = distribution_profiles(feature_table, feature_names, scores)
    MlflowClient().log_text(run_id, json.dumps(profiles), TRAINING_PROFILES_ARTIFACT)
    return profiles


def training_profiles(model_name: str, version: str) -> dict[str, dict[str, list]] | None:
    """The training profiles of a model version; ``None`` for a version trained without them."""
    run_id = MlflowClient().get_model_version(model_name, version).run_id
    try:
        return json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{TRAINING_PROFILES_ARTIFACT}"))
    except (MlflowException, OSError):
        return None


def previous_run_drift(runs_dir: Path) -> dict[str, Any] | None:
    """The ``drift.json`` of the newest completed run in the history, if it has one."""
    for record in reversed(completed_runs(runs_dir)):
        path = record.path / DRIFT_FILE
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return None


def measure_drift(
    *,
    feature_table: pd.DataFrame,
    feature_names: Sequence[str],
    scores: np.ndarray,
    explanations: pd.DataFrame,
    training: Mapping[str, Any] | None,
    previous: Mapping[str, Any] | None,
    threshold: float,
    run_id: str,
    model_version: str,
) -> dict[str, Any]:
    """The content of a run's ``drift.json``.

    :func:`models.drift.drift_report` against the training profiles and the previous run,
    with this run's id, model version, the previous run's id and this run's own profiles
    (the next run's reference).
    """
    profiles = distribution_profiles(feature_table, feature_names, scores)
    psi = compare(feature_table, feature_names, scores, {
        TRAINING: training,
        PREVIOUS_RUN: None if previous is None else previous["profiles"],
    })
    shares = top_feature_shares(explanations, feature_names)
    report = drift_report(psi, shares, None if previous is None else previous["top_feature_shares"]["this_run"],
                          threshold)
    return {"run_id": run_id, "model_version": model_version,
            "previous_run_id": None if previous is None else previous["run_id"],
            "training_reference": training is not None, **report, "profiles": profiles}


def write_drift(drift: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``drift.json`` and its page ``drift.html`` into ``out_dir``."""
    from oversight.drift_page import render_drift_page

    json_path, page_path = out_dir / DRIFT_FILE, out_dir / DRIFT_PAGE
    json_path.write_text(json.dumps(drift, indent=2) + "\n", encoding="utf-8")
    page_path.write_text(render_drift_page(drift), encoding="utf-8")
    return json_path, page_path


def emit_drift_alert(summary: Mapping[str, Any]) -> bool:
    """Emit ``counterfraud.drift.alert`` for a run whose drift summary raised an alert.

    The event's resource is the run (``counterfraud.run.<run_id>``); its payload is the
    run's drift summary, so an automation can name the drifted features. Returns whether
    an event was emitted.
    """
    from prefect.events import emit_event

    drift = summary["drift"]
    if not drift["alert"]:
        return False
    emit_event(
        event=ALERT_EVENT,
        resource={"prefect.resource.id": f"counterfraud.run.{summary['run_id']}",
                  "prefect.resource.name": f"scoring run {summary['run_id']}"},
        payload={"run_id": summary["run_id"], "model_version": summary["model"]["version"], **drift},
    )
    return True
