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
from code": three lines that import the installed project) and, under
``artifacts/detector/``, the fitted detector as plain data (:func:`save_detector`):
``detector.json`` (parameters, model columns, standardisation), ``arrays.npz``
(numpy arrays, read without pickle), ``forest.skops`` (the isolation forest, read
by skops trusting only scikit-learn's tree storage) and ``autoencoder.pt`` (the
network's weights, read by torch with ``weights_only=True``). Nothing is pickled.
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
import hashlib
import importlib.metadata
import json
import logging
import subprocess
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
import skops.io
import torch
import yaml
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from configs.settings import Settings
from features.contract import Extract, file_sha256
from features.definitions import FeatureSpec
from models.detector import CombinedDetector, EmpiricalTails, make_detector
from models.evaluate import Evaluation
from models.outcomes import (
    OutcomeLearning,
    OutcomeWeightedDetector,
    learn_from_outcomes,
    outcome_weights,
)

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
"""Run and model-version tag: JSON of the subjects the detector was fitted on (:meth:`TrainingSample.record`)."""

ARTIFACT_MANIFEST_TAG = "artifact_sha256"
"""Model-version tag: JSON ``{file path in the model: sha256}`` of every file of the model."""

MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
"""The model's code (MLflow's models from code): builds a ``DetectorModel`` from the installed project."""

DETECTOR_ARTIFACT = "detector"
"""Name of the model artefact (a directory) holding the fitted detector as plain data."""

TRUSTED_SKOPS_TYPES = ["sklearn.tree._tree.Tree"]
"""The one type skops asks to be trusted for an isolation forest: scikit-learn's tree node storage.
Its file's sha256 is checked before it is read."""

AUTOENCODER_ARCHITECTURE = ("feature_size", "hidden_neuron_list", "hidden_activation_name", "batch_norm",
                            "dropout_rate")
"""What rebuilds PyOD's autoencoder network around its saved weights."""

WRITTEN_BY_DOWNLOAD = ("registered_model_meta",)
"""Files MLflow writes beside a downloaded model (its name and version), not read from the store."""

FEATURE_DEFINITION_COLUMNS = ["name", "label", "meaning", "unit", "suspicious", "applies_to", "neutral",
                              "context", "reason", "housing_reason"]

MISSING_FEATURES_ERROR = "feature table is missing model column(s) {columns}"
BAD_FEATURE_ERROR = "feature column {column} must be numeric without missing values ({problem})"
SPECS_MISMATCH_ERROR = "feature declarations do not match the model columns {columns}"
NO_MODEL_ERROR = "no registered model {name!r} in the MLflow store: train a model first"
NO_VERSION_ERROR = "registered model {name!r} has no version or alias {reference!r}"
NO_CHAMPION_ERROR = ("registered model {name!r} has no champion yet: a panel member approves and promotes a "
                     "version with counterfraud approve --model-version V --by NAME --note TEXT --promote")
NO_MANIFEST_ERROR = ("model {name!r} version {version} has no recorded artefact hashes (tag {tag}): "
                     "it cannot be checked, so it is not loaded; register it again with this release")
TAMPERED_ERROR = ("model {name!r} version {version} is not the one registered: {problem}; "
                  "refusing to load it (retrain, or restore the artefact store)")


class FeatureTableError(ValueError):
    """A feature table does not carry the columns a model was trained on."""


class ModelNotFoundError(LookupError):
    """The registry holds no such model, version or alias."""


class ModelIntegrityError(ValueError):
    """A model's files differ from the sha256 digests recorded when it was registered."""


@dataclass(frozen=True)
class FeaturePipeline:
    """The model's view of a feature table: which columns, in which order, as which dtype.

    Examples
    --------
    >>> pipeline = FeaturePipeline(("b", "a"))
    >>> pipeline.matrix(pd.DataFrame({"a": [1.0], "b": [2], "other": ["x"]})).tolist()
    [[2.0, 1.0]]
    """

    columns: tuple[str, ...]
    dtype: str = "float64"

    def select(self, table: pd.DataFrame) -> pd.DataFrame:
        """The model columns of ``table``, in order, checked to be numeric and complete."""
        missing = [column for column in self.columns if column not in table.columns]
        if missing:
            raise FeatureTableError(MISSING_FEATURES_ERROR.format(columns=missing))
        for column in self.columns:
            values = table[column]
            if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
                raise FeatureTableError(BAD_FEATURE_ERROR.format(column=column, problem=f"dtype {values.dtype}"))
            if values.isna().any():
                raise FeatureTableError(BAD_FEATURE_ERROR.format(column=column, problem="missing values"))
        return table.loc[:, list(self.columns)]

    def matrix(self, table: pd.DataFrame) -> np.ndarray:
        """The model input of ``table``: ``select`` as a C-ordered 2-d array of ``dtype``.

        Always C-ordered: the detector's scores can differ in the last bit between
        memory layouts of the same values.
        """
        return np.ascontiguousarray(self.select(table).to_numpy(dtype=self.dtype))


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


def extract_row_counts(extract: Extract) -> dict[str, int]:
    """Data rows read from each table of a validated extract (valid and refused)."""
    return {table: quality.rows_in for table, quality in extract.quality.items()}


def fingerprint_inputs(data_dir: str | Path, rows: Mapping[str, int],
                       digests: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The fingerprint of the file of each table in ``rows``.

    Parameters
    ----------
    data_dir : path
        A data directory in the contract (``<table>.csv`` or ``<table>.parquet``).
    rows : mapping
        Data rows read from each table (valid and refused), by table name
        (``extract_row_counts``); other files of ``data_dir`` are not inputs.
    digests : mapping, optional
        sha256 of files already digested this run, by file name (``Extract.digests``):
        those files are not read again.

    Returns
    -------
    DataFrame
        ``table``, ``file``, ``bytes``, ``sha256`` (of the file's bytes), ``rows``;
        one row per file, sorted by file name.
    """
    records = []
    for path in sorted(Path(data_dir).iterdir()):
        if path.suffix not in (".csv", ".parquet") or path.stem not in rows or not path.is_file():
            continue
        records.append({
            "table": path.stem, "file": path.name, "bytes": path.stat().st_size,
            "sha256": (digests or {}).get(path.name) or file_sha256(path), "rows": int(rows[path.stem]),
        })
    return pd.DataFrame.from_records(records, columns=["table", "file", "bytes", "sha256", "rows"])


def data_fingerprint(fingerprints: pd.DataFrame) -> str:
    """One sha256 over the file fingerprints: equal iff every input file is byte-identical."""
    lines = sorted(f"{row.file} {row.sha256}" for row in fingerprints.itertuples(index=False))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def feature_definitions(specs: Sequence[FeatureSpec]) -> pd.DataFrame:
    """The declared features as a table, in model order: one row per feature.

    Columns ``name``, ``label`` (the name a person reads), ``meaning``, ``unit``,
    ``suspicious`` (the suspicious direction), ``applies_to``, ``neutral``, ``context``
    (the columns it reads, ``;``-separated), ``reason`` and ``housing_reason`` (the
    sentences an investigator reads).
    """
    return pd.DataFrame.from_records(
        [{
            "name": spec.name, "label": spec.label, "meaning": spec.meaning, "unit": spec.unit,
            "suspicious": spec.suspicious, "applies_to": spec.applies_to, "neutral": float(spec.neutral),
            "context": ";".join(spec.context),
            "reason": spec.reason, "housing_reason": spec.housing_reason or "",
        } for spec in specs],
        columns=FEATURE_DEFINITION_COLUMNS,
    )


def feature_set_hash(definitions: pd.DataFrame) -> str:
    """sha256 of the feature definitions: changes with any declared field or the order of features."""
    return hashlib.sha256(definitions.to_json(orient="records").encode()).hexdigest()


@dataclass(frozen=True)
class TrainingSample:
    """The rows of a feature table a detector is fitted on: every row, or a seeded sample of them.

    Attributes
    ----------
    positions : ndarray of int
        Row positions in the feature table, ascending.
    population : int
        Rows of the feature table.
    by_type : dict of str to int
        Rows drawn per subject type.
    seed : int or None
        Seed of the draw; ``None`` when every row is used.
    """

    positions: np.ndarray
    population: int
    by_type: dict[str, int]
    seed: int | None = None

    @property
    def is_everyone(self) -> bool:
        """Whether every row of the feature table is in the sample."""
        return len(self.positions) == self.population

    def record(self) -> dict[str, Any]:
        """The sample as JSON-ready data: what the version's tag and its model card hold.

        Examples
        --------
        >>> table = pd.DataFrame({"subject_type": ["benefit_claim"] * 8 + ["housing_claim"] * 2})
        >>> draw_training_sample(table, max_subjects=None, seed=3).record()
        {'subjects': 10, 'population': 10, 'by_type': {'benefit_claim': 8, 'housing_claim': 2}, 'seed': None}
        """
        return {"subjects": len(self.positions), "population": self.population, "by_type": dict(self.by_type),
                "seed": self.seed}


def _proportional_quotas(counts: pd.Series, total: int) -> pd.Series:
    """``total`` split over ``counts`` in proportion, by largest remainder (ties: the order of ``counts``)."""
    exact = counts * total / counts.sum()
    quotas = np.floor(exact).astype(int)
    short = total - int(quotas.sum())
    largest_remainders = (exact - quotas).sort_values(ascending=False, kind="mergesort").index[:short]
    quotas[largest_remainders] += 1
    return quotas


def draw_training_sample(feature_table: pd.DataFrame, max_subjects: int | None, seed: int) -> TrainingSample:
    """Every row of ``feature_table``, or, past ``max_subjects`` rows, a seeded sample of that many.

    The sample is drawn without replacement within each ``subject_type``, in proportion to
    the type's rows, so the sample keeps the population's mix of benefit and housing claims.
    The same table, ``max_subjects`` and ``seed`` always draw the same rows.

    Parameters
    ----------
    feature_table : DataFrame
        One row per subject, with ``subject_type``.
    max_subjects : int or None
        Largest sample; ``None`` = every row.
    seed : int
        Seed of the draw.

    Returns
    -------
    TrainingSample

    Examples
    --------
    >>> table = pd.DataFrame({"subject_type": ["benefit_claim"] * 8 + ["housing_claim"] * 2})
    >>> sample = draw_training_sample(table, max_subjects=5, seed=3)
    >>> sample.by_type, len(sample.positions), sample.population
    ({'benefit_claim': 4, 'housing_claim': 1}, 5, 10)
    """
    kinds = feature_table["subject_type"].astype("str").to_numpy()
    counts = pd.Series(kinds).value_counts().sort_index()
    if max_subjects is None or len(kinds) <= max_subjects:
        return TrainingSample(positions=np.arange(len(kinds)), population=len(kinds),
                              by_type={str(kind): int(count) for kind, count in counts.items()})
    quotas = _proportional_quotas(counts, max_subjects)
    rng = np.random.default_rng(seed)
    drawn = [rng.choice(np.flatnonzero(kinds == kind), size=int(quota), replace=False)
             for kind, quota in quotas.items()]
    return TrainingSample(positions=np.sort(np.concatenate(drawn)), population=len(kinds),
                          by_type={str(kind): int(quota) for kind, quota in quotas.items()}, seed=seed)


def fit_detector(feature_table: pd.DataFrame, feature_specs: Sequence[FeatureSpec],
                 settings: Settings, sample: TrainingSample | None = None) -> DetectorModel:
    """Fit ``make_detector`` of the settings on the model columns of ``feature_table``.

    Fitted on the rows of ``sample`` when given (:func:`draw_training_sample`), on every row
    otherwise. Seeded with ``settings.seed``: the same table, sample and settings give
    bit-identical scores.
    """
    pipeline = FeaturePipeline(tuple(spec.name for spec in feature_specs))
    detector = make_detector(settings.detector, random_state=settings.seed)
    fitted_rows = feature_table if sample is None or sample.is_everyone else feature_table.iloc[sample.positions]
    return DetectorModel(detector.fit(pipeline.matrix(fitted_rows)), pipeline)


def training_scores(model: DetectorModel, feature_table: pd.DataFrame, sample: TrainingSample) -> np.ndarray:
    """The score of every row of ``feature_table`` under a model fitted on ``sample`` of it.

    A fit on every row scored every row already (``decision_scores_``): no second pass.
    """
    if sample.is_everyone:
        return model.detector.decision_scores_
    return model.score(feature_table)[SCORE_COLUMN].to_numpy(dtype="float64")


def learn_outcomes(model: DetectorModel, feature_table: pd.DataFrame, feature_specs: Sequence[FeatureSpec],
                   outcomes: pd.DataFrame | None, settings: Settings,
                   anomaly_scores: np.ndarray | None = None) -> tuple[DetectorModel, OutcomeLearning]:
    """``model`` with an outcome layer fitted on the extract's reviewed subjects, when there are enough.

    Returns the model unchanged (the detector alone) when there are too few; the
    ``OutcomeLearning`` says which outcomes were used, with which weights, or why none were.
    ``anomaly_scores`` are the detector's scores of every row of ``feature_table``
    (:func:`training_scores`); default its fit's own, when it was fitted on every row.
    """
    directions = [spec.suspicious for spec in feature_specs]
    learning = learn_from_outcomes(model.detector, model.pipeline.matrix(feature_table),
                                   feature_table["subject_ref"].astype(str).tolist(), directions, outcomes,
                                   settings.training.outcomes, anomaly_scores)
    if learning.layer is None:
        return model, learning
    return DetectorModel(learning.layer, model.pipeline), learning


def save_detector(model: DetectorModel, directory: Path) -> Path:
    """Write a fitted ``DetectorModel`` to ``directory`` as plain data; :func:`load_detector` reads it back.

    ``detector.json`` (parameters, fitted scalars, model columns, and the outcome layer's
    directions and weights when it has one), ``arrays.npz`` (numpy arrays), ``forest.skops``
    and ``autoencoder.pt`` (the network's weights) when those components are fitted.
    Nothing is pickled.
    """
    layer = model.detector if isinstance(model.detector, OutcomeWeightedDetector) else None
    detector = layer.detector if layer is not None else model.detector
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {"center": detector.center_, "scale": detector.scale_, "decision_scores": detector.decision_scores_}
    description: dict[str, Any] = {
        "params": detector.get_params(), "n_features_in": int(detector.n_features_in_),
        "component_weights": detector.component_weights_, "component_means": detector.component_means_,
        "component_stds": detector.component_stds_,
        "columns": list(model.pipeline.columns), "dtype": model.pipeline.dtype,
    }
    if detector.tails_ is not None:
        arrays |= _tail_arrays(detector.tails_, "tails")
        description["tails"] = {"n_rows": int(detector.tails_.n_rows), "columns": len(detector.tails_.knots)}
    if layer is not None:
        arrays |= _tail_arrays(layer.evidence_tails, "evidence")
        arrays |= {"outcome_feature_weights": layer.feature_weights, "outcome_decision_scores": layer.decision_scores_}
        description["outcome_layer"] = {
            "directions": list(layer.directions), "anomaly_weight": layer.anomaly_weight,
            "intercept": layer.intercept, "evidence_rows": int(layer.evidence_tails.n_rows),
        }
    if detector.forest_ is not None:
        skops.io.dump(detector.forest_, directory / "forest.skops")
    if detector.autoencoder_ is not None:
        autoencoder = detector.autoencoder_
        torch.save(autoencoder.model.state_dict(), directory / "autoencoder.pt")
        description["autoencoder"] = {name: getattr(autoencoder, name) for name in AUTOENCODER_ARCHITECTURE}
    np.savez(directory / "arrays.npz", **arrays)
    (directory / "detector.json").write_text(json.dumps(description, indent=2, sort_keys=True), encoding="utf-8")
    return directory


def _tail_arrays(tails: EmpiricalTails, prefix: str) -> dict[str, np.ndarray]:
    """The knots and counts of ``tails`` as named arrays, one set per column."""
    arrays = {}
    for column, (knots, at_most, below) in enumerate(zip(tails.knots, tails.counts_at_most,
                                                         tails.counts_below, strict=True)):
        arrays |= {f"{prefix}_knots_{column}": knots, f"{prefix}_at_most_{column}": at_most,
                   f"{prefix}_below_{column}": below}
    return arrays


def _read_tails(arrays: Mapping[str, np.ndarray], prefix: str, n_columns: int, n_rows: int) -> EmpiricalTails:
    """The ``EmpiricalTails`` that :func:`_tail_arrays` wrote under ``prefix``."""
    columns = range(n_columns)
    return EmpiricalTails(tuple(arrays[f"{prefix}_knots_{column}"] for column in columns),
                          tuple(arrays[f"{prefix}_at_most_{column}"] for column in columns),
                          tuple(arrays[f"{prefix}_below_{column}"] for column in columns),
                          n_rows)


def load_detector(directory: Path) -> DetectorModel:
    """The ``DetectorModel`` that :func:`save_detector` wrote to ``directory``; no pickle is read."""
    from pyod.models.auto_encoder import AutoEncoder, AutoEncoderModel

    description = json.loads((directory / "detector.json").read_text(encoding="utf-8"))
    params = description["params"]
    params["autoencoder_hidden_neurons"] = tuple(params["autoencoder_hidden_neurons"])
    detector = CombinedDetector(**params)
    with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
        arrays = dict(npz)
    detector.center_, detector.scale_ = arrays["center"], arrays["scale"]
    detector.decision_scores_ = arrays["decision_scores"]
    detector.tails_ = None
    if "tails" in description:
        detector.tails_ = _read_tails(arrays, "tails", description["tails"]["columns"],
                                      description["tails"]["n_rows"])
    detector.n_features_in_ = description["n_features_in"]
    detector.component_weights_ = description["component_weights"]
    detector.component_means_ = description["component_means"]
    detector.component_stds_ = description["component_stds"]
    forest = directory / "forest.skops"
    detector.forest_ = skops.io.load(forest, trusted=TRUSTED_SKOPS_TYPES) if forest.is_file() else None
    detector.autoencoder_ = None
    if "autoencoder" in description:
        architecture = description["autoencoder"]
        network = AutoEncoderModel(**architecture)
        network.load_state_dict(torch.load(directory / "autoencoder.pt", weights_only=True))
        # PyOD's estimator around the network, as fitting leaves it: scoring reads ``.model``
        autoencoder = AutoEncoder(**{name: value for name, value in architecture.items() if name != "feature_size"},
                                  preprocessing=False, device="cpu", verbose=0)
        autoencoder.feature_size, autoencoder.model = architecture["feature_size"], network.eval()
        detector.autoencoder_ = autoencoder
    scorer: CombinedDetector | OutcomeWeightedDetector = detector
    if "outcome_layer" in description:
        layer = description["outcome_layer"]
        tails = _read_tails(arrays, "evidence", len(layer["directions"]), layer["evidence_rows"])
        scorer = OutcomeWeightedDetector(detector, layer["directions"], tails, layer["anomaly_weight"],
                                         arrays["outcome_feature_weights"], layer["intercept"],
                                         arrays["outcome_decision_scores"])
    return DetectorModel(scorer, FeaturePipeline(tuple(description["columns"]), description["dtype"]))


def code_version() -> str:
    """The git commit of the project (``-dirty`` with uncommitted changes), else the package version."""
    project = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project,
                                 capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"counterfraud {importlib.metadata.version('counterfraud')}"
    return f"{commit}-dirty" if changes else commit


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
                    artifacts={DETECTOR_ARTIFACT: str(save_detector(model, Path(staging) / DETECTOR_ARTIFACT))},
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
