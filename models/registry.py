"""Model versions in MLflow: the pyfunc model, what a training run logs, and loading a version.

A version is one MLflow ``pyfunc`` model that carries the fitted detector and
the feature pipeline (the model columns, their order and dtype): given a
feature table it returns the combined score, and the score of each component.
Every version is registered under ``registry.model_name`` and tagged with what
an oversight panel needs to tell versions apart: the fingerprint of the data it
was trained on, the feature set, the code version and the as-of date.

Aliases, not stages: every new version becomes ``challenger``; only the
oversight panel's approval with promotion (:mod:`oversight.signoff`) moves
``champion``, the version a scoring run uses by default.

What a model artefact is, and why it can be trusted: the MLflow model directory
holds ``MLmodel``, the environment files, ``pyfunc_model.py`` (MLflow's "model
from code": three lines that import :class:`DetectorModel` of the installed project,
so every registered version names this module) and, under ``artifacts/detector/``,
the fitted detector as plain data, each component in a directory of its own
(:mod:`models.storage`). Nothing is pickled.
It carries no copy of the project's code, so a model loads only beside the code
version it records (tag ``code_version``) and never puts another copy of that
code on ``sys.path``. Registration records the sha256 of every file of the model
(tag ``artifact_sha256``, kept in the tracking store, apart from the artefact
store), and :func:`load_model` downloads the files, checks every digest and the
file list, and loads only the checked copy; any difference is a
:class:`ModelIntegrityError`.

Registering is idempotent: :func:`register_logged_model` looks up the version of
the run before registering, so a retry after a failure never makes a second one.
A version becomes ``challenger`` (:func:`name_challenger`) only once everything it is
registered with is recorded: a registration stopped half-way leaves a version no alias names.

The tracking URI comes from the environment (``MLFLOW_TRACKING_URI``, set by
``pipelines.workspace.Workspace.activate``).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import logging
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from configs.settings import Settings
from features.contract import file_sha256
from features.definitions import FeatureSpec
from features.fingerprints import data_fingerprint, feature_definitions, feature_set_hash
from models.code_version import code_version
from models.detector import CombinedDetector
from models.evaluate import Evaluation
from models.model_input import FeaturePipeline, FeatureTableError
from models.outcomes import OutcomeLearning, OutcomeWeightedDetector, outcome_weights
from models.sampling import TrainingSample, draw_training_sample
from models.storage import load_detector, save_detector

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_NAME_IN_RUN = "model"
SCORE_COLUMN = "score"

MODEL_REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "skops", "pyod",
                      "torch", "shap", "joblib", "pydantic", "pyyaml")
"""Distributions the model and the installed project code it unpickles against need, pinned to the
versions it was trained with (the project itself is not a distribution on an index: see the module
docstring)."""

OUTCOME_LAYER_TAG = "outcome_layer"
"""Model-version tag: ``fitted`` when the version learnt from reviewed cases, else ``none``."""
OUTCOMES_TAG = "outcomes"
"""Model-version tag: which reviewed cases the version learnt from and how they were weighted, or why none."""
TRAINING_SAMPLE_TAG = "training_sample"
"""Run and model-version tag: JSON of the subjects the detector was fitted on (:meth:`models.sampling.TrainingSample.record`)."""

ARTIFACT_MANIFEST_TAG = "artifact_sha256"
"""Model-version tag: JSON ``{file path in the model: sha256}`` of every file of the model."""

MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
"""The model's code (MLflow's models from code): builds a ``DetectorModel`` from the installed project."""

DETECTOR_ARTIFACT = "detector"
"""Name of the model artefact (a directory) holding the fitted detector as plain data."""

WRITTEN_BY_DOWNLOAD = ("registered_model_meta",)
"""Files MLflow writes beside a downloaded model (its name and version), not read from the store."""

SPECS_MISMATCH_ERROR = "feature declarations do not match the model columns {columns}"
NO_MODEL_ERROR = "no registered model {name!r} in the MLflow store: train a model first"
NO_VERSION_ERROR = "registered model {name!r} has no version or alias {reference!r}"
NO_CHAMPION_ERROR = ("registered model {name!r} has no champion yet: a panel member approves and promotes a "
                     "version with counterfraud approve --model-version V --by NAME --note TEXT --promote")
NO_MANIFEST_ERROR = ("model {name!r} version {version} has no recorded artefact hashes (tag {tag}): "
                     "it cannot be checked, so it is not loaded; register it again with this release")
TAMPERED_ERROR = ("model {name!r} version {version} is not the one registered: {problem}; "
                  "refusing to load it (retrain, or restore the artefact store)")


class ModelNotFoundError(LookupError):
    """The registry holds no such model, version or alias."""


class ModelIntegrityError(ValueError):
    """A model's files differ from the sha256 digests recorded when it was registered."""


class DetectorModel(mlflow.pyfunc.PythonModel):
    """The MLflow pyfunc of a fitted detector and its feature pipeline.

    ``predict`` takes a feature table (extra columns are ignored) and returns one
    row per input row, in input order, with the column ``score`` (higher = more
    anomalous; with an outcome layer, higher = more likely fraud). A registered model builds
    it empty (``models/pyfunc_model.py``) and ``load_context`` reads the detector from the
    model's files. ``detector`` is what scores: the ``CombinedDetector``, or the
    ``OutcomeWeightedDetector`` around it when the version learnt from reviewed cases.
    """

    def __init__(self, detector: CombinedDetector | OutcomeWeightedDetector | None = None,
                 pipeline: FeaturePipeline | None = None) -> None:
        self.detector = detector
        self.pipeline = pipeline

    def load_context(self, context: Any) -> None:
        loaded = load_detector(Path(context.artifacts[DETECTOR_ARTIFACT]))
        self.detector, self.pipeline = loaded.detector, loaded.pipeline

    def score(self, feature_table: pd.DataFrame) -> pd.DataFrame:
        """Scores of ``feature_table``, one row per input row, in input order."""
        matrix = self.pipeline.matrix(feature_table)
        scores = {SCORE_COLUMN: np.asarray(self.detector.decision_function(matrix), dtype=np.float64)}
        return pd.DataFrame(scores, index=feature_table.index)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.score(model_input)


@dataclass(frozen=True)
class LoggedRun:
    """What ``log_model_run`` logged: the run, its model and the tags its version will carry."""

    run_id: str
    model_uri: str
    tags: dict[str, str]


@dataclass(frozen=True)
class RegisteredVersion:
    """What ``log_training_run`` recorded."""

    model_name: str
    version: str
    alias: str
    """Its alias: ``""`` until :func:`name_challenger` gives it one."""
    run_id: str
    model_uri: str
    tags: dict[str, str]


@dataclass(frozen=True)
class LoadedModel:
    """A registered version loaded back from the registry."""

    model_name: str
    version: str
    tags: dict[str, str]
    pyfunc: mlflow.pyfunc.PyFuncModel

    @property
    def python_model(self) -> DetectorModel:
        return self.pyfunc.unwrap_python_model()

    @property
    def detector(self) -> CombinedDetector | OutcomeWeightedDetector:
        """What scores: the fitted detector, with its outcome layer if it has one (e.g. for explanations)."""
        return self.python_model.detector

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.python_model.pipeline.columns

    def score(self, feature_table: pd.DataFrame) -> pd.DataFrame:
        """``predict`` through MLflow (signature checked) on the model columns of ``feature_table``."""
        scores = self.pyfunc.predict(self.python_model.pipeline.select(feature_table))
        return scores.set_axis(feature_table.index)


def flatten_settings(settings: Settings) -> dict[str, str]:
    """Every setting as ``{"section.key": "value"}``, the form of MLflow parameters.

    Examples
    --------
    >>> flatten_settings(Settings())["capacity.share"]
    '0.02'
    """
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        else:
            flat[prefix] = json.dumps(value) if isinstance(value, list) else str(value)

    walk("", settings.model_dump(mode="json"))
    return flat


def ensure_experiment(name: str, artifact_location: str | None = None) -> str:
    """The id of experiment ``name``, created with ``artifact_location`` when it does not exist.

    MLflow would otherwise put artefacts under ``./mlruns`` of the working directory.
    """
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location)


def log_model_run(
    *,
    model: DetectorModel,
    feature_table: pd.DataFrame,
    feature_specs: Sequence[FeatureSpec],
    settings: Settings,
    as_of: dt.date,
    fingerprints: pd.DataFrame,
    evaluations: Sequence[Evaluation] = (),
    data_quality: Mapping[str, Any] | None = None,
    artifact_location: str | None = None,
    outcome_learning: OutcomeLearning | None = None,
    sample: TrainingSample | None = None,
) -> LoggedRun:
    """Log a fitted detector with everything it was made from, as one MLflow run (not yet registered).

    Parameters
    ----------
    model : DetectorModel
        ``fit_detector``'s answer.
    feature_table : DataFrame
        The table it was fitted on (one row per subject).
    feature_specs : sequence of FeatureSpec
        The declarations of the model columns, in order (``features.definitions.FEATURES``).
    settings : Settings
        Logged as parameters and as ``config.yaml``.
    as_of : date
        The date the features describe.
    fingerprints : DataFrame
        ``fingerprint_inputs`` of the data directory.
    evaluations : sequence of Evaluation
        Logged as metrics, and as tables per typology.
    data_quality : mapping, optional
        ``features.contract.extract_summary`` of the extract (rows and rejects per table and
        rule: counts, no values), logged as ``data_quality.json``.
    artifact_location : str, optional
        Artefact root of the experiment when it is created (the workspace's).
    outcome_learning : OutcomeLearning, optional
        ``learn_outcomes``' account of the reviewed cases: the version is tagged
        ``outcome_layer`` (``fitted`` or ``none``) and ``outcomes`` (the one-line account), and
        logs ``outcomes/reviewed_by_source.csv`` and, when fitted, ``outcomes/weights.csv``.
    sample : TrainingSample, optional
        The rows the detector was fitted on, recorded as the tag ``TRAINING_SAMPLE_TAG`` and the
        metric ``n_fitted_subjects``; default every row of ``feature_table``.

    Returns
    -------
    LoggedRun
        Its ``tags`` hold the sha256 of every file of the logged model (``ARTIFACT_MANIFEST_TAG``).
    """
    definitions = feature_definitions(feature_specs)
    if tuple(definitions["name"]) != model.pipeline.columns:
        raise FeatureTableError(SPECS_MISMATCH_ERROR.format(columns=list(model.pipeline.columns)))
    model_input = feature_table.loc[:, list(model.pipeline.columns)]
    signature = infer_signature(model_input, model.score(model_input))
    if sample is None:
        sample = draw_training_sample(feature_table, max_subjects=None, seed=settings.seed)
    tags = {
        "data_fingerprint": data_fingerprint(fingerprints),
        "feature_set": feature_set_hash(definitions),
        "code_version": code_version(),
        "as_of": as_of.isoformat(),
        OUTCOME_LAYER_TAG: "fitted" if isinstance(model.detector, OutcomeWeightedDetector) else "none",
        TRAINING_SAMPLE_TAG: json.dumps(sample.record(), sort_keys=True),
    }
    if outcome_learning is not None:
        tags[OUTCOMES_TAG] = outcome_learning.note
    experiment_id = ensure_experiment(settings.registry.experiment, artifact_location)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train as of {as_of.isoformat()}",
                          tags=tags) as run:
        mlflow.log_params(flatten_settings(settings))
        mlflow.log_text(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False), "config.yaml")
        mlflow.log_text(fingerprints.to_csv(index=False), "data_fingerprint.csv")
        mlflow.log_text(definitions.to_csv(index=False), "features.csv")
        if data_quality is not None:
            mlflow.log_dict(dict(data_quality), "data_quality.json")
        mlflow.log_metrics({"n_subjects": float(len(feature_table)),
                            "n_fitted_subjects": float(len(sample.positions)),
                            "n_features": float(len(model.pipeline.columns))})
        if outcome_learning is not None:
            mlflow.log_text(outcome_learning.reviewed.summary().to_csv(index=False),
                            "outcomes/reviewed_by_source.csv")
        if isinstance(model.detector, OutcomeWeightedDetector):
            mlflow.log_text(outcome_weights(model.detector, model.pipeline.columns).to_csv(index=False),
                            "outcomes/weights.csv")
        for evaluation in evaluations:
            mlflow.log_metrics(evaluation.metrics())
            mlflow.log_text(evaluation.by_typology.to_csv(index=False),
                            f"evaluation/{evaluation.source}_recall_by_typology.csv")
            mlflow.set_tag(f"evaluation.{evaluation.source}",
                           _evaluation_note(evaluation))
        with tempfile.TemporaryDirectory() as staging:
            with warnings.catch_warnings():
                # no input example on purpose: it would store real subjects' rows in the model
                warnings.filterwarnings("ignore", message=".*input example was not provided")
                model_info = mlflow.pyfunc.log_model(
                    name=MODEL_NAME_IN_RUN,
                    python_model=str(MODEL_CODE),
                    artifacts={DETECTOR_ARTIFACT: str(save_detector(model.detector, model.pipeline,
                                                                       Path(staging) / DETECTOR_ARTIFACT))},
                    signature=signature,
                    pip_requirements=_pinned_requirements(),
                )
            # digests of the files as the store holds them, recorded in the tracking store
            stored = Path(staging) / "stored"
            stored.mkdir()
            manifest = artifact_manifest(Path(mlflow.artifacts.download_artifacts(model_info.model_uri,
                                                                                  dst_path=str(stored))))
    return LoggedRun(run_id=run.info.run_id, model_uri=model_info.model_uri,
                     tags={**tags, ARTIFACT_MANIFEST_TAG: json.dumps(manifest, sort_keys=True)})


def register_logged_model(logged: LoggedRun, *, model_name: str) -> RegisteredVersion:
    """Register the model of a logged run as a version of ``model_name``, once.

    The version already registered from ``logged.run_id`` is returned as it is (with
    its alias, if any), so the step can be retried after any failure: a second call never
    makes a second version. A new version has no alias: :func:`name_challenger` gives it
    one once the rest of its record is written.
    """
    client = MlflowClient()
    found = client.search_model_versions(f"name = '{model_name}' and run_id = '{logged.run_id}'")
    version = found[0] if found else mlflow.register_model(logged.model_uri, model_name, tags=logged.tags)
    aliases = list(client.get_model_version(model_name, version.version).aliases)
    logger.info("registered %s version %s", model_name, version.version)
    return RegisteredVersion(model_name=model_name, version=str(version.version), alias=aliases[0] if aliases else "",
                             run_id=logged.run_id, model_uri=logged.model_uri, tags=logged.tags)


def name_challenger(version: RegisteredVersion) -> RegisteredVersion:
    """``version`` as ``challenger``, unless it already has an alias; never ``champion`` by itself.

    Call once everything the version is registered with is recorded (for training: its
    trainer and report), so that no alias names a version whose registration stopped half-way.
    """
    if version.alias:
        return version
    MlflowClient().set_registered_model_alias(version.model_name, CHALLENGER, version.version)
    logger.info("%s version %s is %s", version.model_name, version.version, CHALLENGER)
    return replace(version, alias=CHALLENGER)


def log_training_run(*, settings: Settings, **logged: Any) -> RegisteredVersion:
    """:func:`log_model_run`, :func:`register_logged_model`, :func:`name_challenger`: a new version of
    ``registry.model_name``.

    Takes the keyword arguments of :func:`log_model_run`.
    """
    return name_challenger(register_logged_model(log_model_run(settings=settings, **logged),
                                                 model_name=settings.registry.model_name))


def artifact_manifest(model_dir: Path) -> dict[str, str]:
    """``{path relative to model_dir: sha256}`` of every file under ``model_dir`` that came from the store."""
    return {path.relative_to(model_dir).as_posix(): file_sha256(path)
            for path in sorted(model_dir.rglob("*"))
            if path.is_file() and path.relative_to(model_dir).as_posix() not in WRITTEN_BY_DOWNLOAD}


def verify_artifacts(model_dir: Path, manifest: Mapping[str, str]) -> None:
    """Raise ``ModelIntegrityError`` unless ``model_dir`` holds exactly the files of ``manifest``,
    each with its recorded sha256."""
    found = artifact_manifest(model_dir)
    problems = [f"{path} was added" for path in sorted(set(found) - set(manifest))]
    problems += [f"{path} is missing" for path in sorted(set(manifest) - set(found))]
    problems += [f"{path} has sha256 {found[path][:12]}…, registered {digest[:12]}…"
                 for path, digest in sorted(manifest.items()) if path in found and found[path] != digest]
    if problems:
        raise ModelIntegrityError("; ".join(problems))


def resolve_version(version_or_alias: str | int | None, *, model_name: str) -> str:
    """The version number a version or alias names; ``None`` means ``champion``."""
    reference = CHAMPION if version_or_alias is None else str(version_or_alias)
    client = MlflowClient()
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        raise ModelNotFoundError(NO_MODEL_ERROR.format(name=model_name)) from None
    try:
        if reference.isdigit():
            return str(client.get_model_version(model_name, reference).version)
        return str(client.get_model_version_by_alias(model_name, reference).version)
    except MlflowException:
        error = NO_CHAMPION_ERROR if reference == CHAMPION else NO_VERSION_ERROR
        raise ModelNotFoundError(error.format(name=model_name, reference=reference)) from None


def load_model(version_or_alias: str | int | None = None, *, model_name: str) -> LoadedModel:
    """Load a registered version (number or alias; ``None`` means ``champion``), once its files are checked.

    The files are downloaded, every one checked against the sha256 recorded at registration
    (:func:`verify_artifacts`), and the checked copy is what is loaded.

    Raises
    ------
    ModelNotFoundError
        No such model, version or alias.
    ModelIntegrityError
        No digests were recorded, or a file was changed, added or removed since registration.
    """
    version = resolve_version(version_or_alias, model_name=model_name)
    tags = dict(MlflowClient().get_model_version(model_name, version).tags)
    if ARTIFACT_MANIFEST_TAG not in tags:
        raise ModelIntegrityError(NO_MANIFEST_ERROR.format(name=model_name, version=version,
                                                           tag=ARTIFACT_MANIFEST_TAG))
    with tempfile.TemporaryDirectory() as download:
        model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{model_name}/{version}", dst_path=download))
        try:
            verify_artifacts(model_dir, json.loads(tags[ARTIFACT_MANIFEST_TAG]))
        except ModelIntegrityError as error:
            raise ModelIntegrityError(TAMPERED_ERROR.format(name=model_name, version=version,
                                                            problem=error)) from None
        pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    return LoadedModel(model_name=model_name, version=version, tags=tags, pyfunc=pyfunc)


def _evaluation_note(evaluation: Evaluation) -> str:
    sample = ("a biased sample (subjects chosen for investigation)" if evaluation.biased_sample
              else "every subject")
    return f"{evaluation.n_labelled} labelled subjects, {evaluation.n_fraud} fraud; labels cover {sample}"


def _pinned_requirements() -> list[str]:
    return [f"{name}=={importlib.metadata.version(name)}" for name in MODEL_REQUIREMENTS]
