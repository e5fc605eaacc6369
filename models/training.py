"""Fitting a model version: the detector on a feature table, then the outcome layer on reviewed cases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from configs.settings import Settings
from features.definitions import FeatureSpec
from models.detector import make_detector
from models.model_input import FeaturePipeline
from models.outcomes import OutcomeLearning, learn_from_outcomes
from models.registry import DetectorModel
from models.sampling import TrainingSample


def fit_detector(feature_table: pd.DataFrame, feature_specs: Sequence[FeatureSpec],
                 settings: Settings, sample: TrainingSample | None = None) -> DetectorModel:
    """Fit ``make_detector`` of the settings on the model columns of ``feature_table``.

    Fitted on the rows of ``sample`` when given (:func:`models.sampling.draw_training_sample`),
    on every row otherwise. Seeded with ``settings.seed``: the same table, sample and settings
    give bit-identical scores.
    """
    pipeline = FeaturePipeline(tuple(spec.name for spec in feature_specs))
    detector = make_detector(settings.detector, random_state=settings.seed)
    fitted_rows = feature_table if sample is None or sample.is_everyone else feature_table.iloc[sample.positions]
    return DetectorModel(detector.fit(pipeline.matrix(fitted_rows)), pipeline)


def learn_outcomes(model: DetectorModel, feature_table: pd.DataFrame, feature_specs: Sequence[FeatureSpec],
                   outcomes: pd.DataFrame | None, settings: Settings,
                   anomaly_scores: np.ndarray | None = None) -> tuple[DetectorModel, OutcomeLearning]:
    """``model`` with an outcome layer fitted on the extract's reviewed subjects, when there are enough.

    Returns the model unchanged (the detector alone) when there are too few; the
    ``OutcomeLearning`` says which outcomes were used, with which weights, or why none were.
    ``anomaly_scores`` are the detector's scores of every row of ``feature_table``
    (``model.score``); default its fit's own, when it was fitted on every row.
    """
    directions = [spec.suspicious for spec in feature_specs]
    learning = learn_from_outcomes(model.detector, model.pipeline.matrix(feature_table),
                                   feature_table["subject_ref"].astype(str).tolist(), directions, outcomes,
                                   settings.training.outcomes, anomaly_scores)
    if learning.layer is None:
        return model, learning
    return DetectorModel(learning.layer, model.pipeline), learning
