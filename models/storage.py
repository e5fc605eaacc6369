"""A fitted detector on disk as plain data: each component in a directory of its own, and a manifest.

:func:`save_detector` writes, into one directory:

* ``detector.json``, the manifest: ``format`` (:data:`STORAGE_FORMAT`), the model columns
  and dtype, the combined detector's parameters and fitted scalars, ``components`` (the
  kinds of its components, in the order they are combined) and, for a version that learnt
  from reviewed cases, ``outcome_layer``;
* ``arrays.npz``: the standardisation of the inputs and the training scores;
* one directory per component, named by its kind, that the component writes itself
  (:meth:`models.components.Component.save`);
* ``outcome_layer/`` when there is one (:meth:`models.outcomes.OutcomeWeightedDetector.save`).

Nothing is pickled: arrays are read without pickle, a forest by skops trusting only
scikit-learn's tree storage, a network's weights by torch with ``weights_only=True``.

A directory without ``format`` was written by releases before components (format 1):
one flat directory holding ``forest.skops``, ``autoencoder.pt`` and the tails' knots in
``arrays.npz``. :func:`load_detector` reads it too, so versions registered by those
releases still score, with the same scores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.components import (
    AUTOENCODER,
    COMPONENTS,
    FOREST,
    NETWORK_WEIGHTS_FILE,
    TAIL,
    TAIL_MAX_KNOTS,
    AutoencoderComponent,
    Component,
    EmpiricalTails,
    ForestComponent,
    TailComponent,
    trained_autoencoder,
)
from models.detector import CombinedDetector
from models.model_input import FeaturePipeline
from models.outcomes import OutcomeWeightedDetector

STORAGE_FORMAT = 2
"""Version of the directory layout :func:`save_detector` writes (absent = format 1)."""
MANIFEST_FILE = "detector.json"
ARRAYS_FILE = "arrays.npz"
OUTCOME_LAYER_DIRECTORY = "outcome_layer"

UNKNOWN_COMPONENT_ERROR = "saved detector {directory} has a component of unknown kind {kind!r}"
UNKNOWN_FORMAT_ERROR = "saved detector {directory} has storage format {format}; this release reads 1 to {known}"


@dataclass(frozen=True)
class StoredDetector:
    """What a detector directory holds: the detector that scores, and the model's view of a feature table."""

    detector: CombinedDetector | OutcomeWeightedDetector
    """The ``CombinedDetector``, or the ``OutcomeWeightedDetector`` around it."""
    pipeline: FeaturePipeline


def save_detector(detector: CombinedDetector | OutcomeWeightedDetector, pipeline: FeaturePipeline,
                  directory: Path) -> Path:
    """Write a fitted detector and its feature pipeline to ``directory``; :func:`load_detector` reads it back.

    Returns
    -------
    Path
        ``directory``.
    """
    layer = detector if isinstance(detector, OutcomeWeightedDetector) else None
    combined = layer.detector if layer is not None else detector
    directory.mkdir(parents=True, exist_ok=True)
    for kind, component in combined.components_.items():
        component.save(directory / kind)
    if layer is not None:
        layer.save(directory / OUTCOME_LAYER_DIRECTORY)
    manifest: dict[str, Any] = {
        "format": STORAGE_FORMAT, "columns": list(pipeline.columns), "dtype": pipeline.dtype,
        "params": combined.get_params(), "n_features_in": int(combined.n_features_in_),
        "components": list(combined.components_),
        "component_weights": combined.component_weights_, "component_means": combined.component_means_,
        "component_stds": combined.component_stds_, "outcome_layer": layer is not None,
    }
    np.savez(directory / ARRAYS_FILE, center=combined.center_, scale=combined.scale_,
             decision_scores=combined.decision_scores_)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return directory


def load_detector(directory: Path) -> StoredDetector:
    """The detector that :func:`save_detector` (or a release before components) wrote to ``directory``."""
    manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    storage_format = manifest.get("format", 1)
    if storage_format not in (1, STORAGE_FORMAT):
        raise ValueError(UNKNOWN_FORMAT_ERROR.format(directory=directory, format=storage_format,
                                                     known=STORAGE_FORMAT))
    with np.load(directory / ARRAYS_FILE, allow_pickle=False) as npz:
        arrays = dict(npz)
    if storage_format == 1:
        components = _format_1_components(directory, manifest, arrays)
    else:
        components = {kind: _component_class(kind, directory).load(directory / kind)
                      for kind in manifest["components"]}
    combined = _combined_detector(manifest, arrays, components)
    scorer: CombinedDetector | OutcomeWeightedDetector = combined
    if storage_format == 1 and "outcome_layer" in manifest:
        layer = manifest["outcome_layer"]
        tails = EmpiricalTails.from_arrays(arrays, "evidence", len(layer["directions"]), layer["evidence_rows"])
        scorer = OutcomeWeightedDetector(combined, layer["directions"], tails, layer["anomaly_weight"],
                                         arrays["outcome_feature_weights"], layer["intercept"],
                                         arrays["outcome_decision_scores"])
    elif storage_format == STORAGE_FORMAT and manifest["outcome_layer"]:
        scorer = OutcomeWeightedDetector.load(directory / OUTCOME_LAYER_DIRECTORY, combined)
    return StoredDetector(scorer, FeaturePipeline(tuple(manifest["columns"]), manifest["dtype"]))


def _component_class(kind: str, directory: Path) -> type[Component]:
    if kind not in COMPONENTS:
        raise ValueError(UNKNOWN_COMPONENT_ERROR.format(directory=directory, kind=kind))
    return COMPONENTS[kind]


def _combined_detector(manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray],
                       components: dict[str, Component]) -> CombinedDetector:
    """The fitted ``CombinedDetector`` of a manifest, its arrays and its loaded components."""
    params = dict(manifest["params"])
    params["autoencoder_hidden_neurons"] = tuple(params["autoencoder_hidden_neurons"])
    detector = CombinedDetector(**params)
    detector.center_, detector.scale_ = arrays["center"], arrays["scale"]
    detector.decision_scores_ = arrays["decision_scores"]
    detector.n_features_in_ = manifest["n_features_in"]
    detector.components_ = components
    detector.component_weights_ = manifest["component_weights"]
    detector.component_means_ = manifest["component_means"]
    detector.component_stds_ = manifest["component_stds"]
    return detector


def _format_1_components(directory: Path, manifest: Mapping[str, Any],
                         arrays: Mapping[str, np.ndarray]) -> dict[str, Component]:
    """The components of a directory written before components: one flat directory, the combined
    detector's parameters standing for the components' own."""
    params = manifest["params"]
    components: dict[str, Component] = {}
    for kind in manifest["component_weights"]:
        if kind == FOREST:
            forest = ForestComponent(n_estimators=params["forest_n_estimators"],
                                     max_samples=params["forest_max_samples"],
                                     max_features=params["forest_max_features"],
                                     random_state=params["random_state"], n_jobs=params["n_jobs"])
            forest._load_fitted(directory)
            components[kind] = forest
        elif kind == AUTOENCODER:
            autoencoder = AutoencoderComponent(
                hidden_neurons=tuple(params["autoencoder_hidden_neurons"]), epochs=params["autoencoder_epochs"],
                batch_size=params["autoencoder_batch_size"], learning_rate=params["autoencoder_learning_rate"],
                max_train_rows=params["autoencoder_max_train_rows"], random_state=params["random_state"])
            autoencoder.autoencoder_ = trained_autoencoder(manifest["autoencoder"], directory / NETWORK_WEIGHTS_FILE)
            components[kind] = autoencoder
        elif kind == TAIL:
            tail = TailComponent(max_knots=TAIL_MAX_KNOTS)
            tail.tails_ = EmpiricalTails.from_arrays(arrays, "tails", manifest["tails"]["columns"],
                                                     manifest["tails"]["n_rows"])
            components[kind] = tail
        else:
            raise ValueError(UNKNOWN_COMPONENT_ERROR.format(directory=directory, kind=kind))
    return components
