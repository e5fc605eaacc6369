from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from configs.settings import OutcomeLearningSettings
from models.components import EmpiricalTails
from models.detector import make_detector
from models.model_input import FeaturePipeline
from models.outcomes import (
    CONTROL,
    UNTRACKED,
    WORK_LIST,
    OutcomeWeightedDetector,
    fit_outcome_layer,
    learn_from_outcomes,
    reviewed_subjects,
)
from models.storage import load_detector, save_detector

SMALL = {"forest_n_estimators": 20, "autoencoder_hidden_neurons": (4, 2, 4), "autoencoder_epochs": 2}
DIRECTIONS = ("high", "high", "low", "high")


@pytest.fixture(scope="module")
def fitted():
    """A detector on four columns and an outcome layer taught that a rare value of column 1 is fraud."""
    rng = np.random.default_rng(7)
    X = np.column_stack([rng.normal(size=3000), rng.exponential(size=3000), rng.normal(size=3000),
                         (rng.random(3000) < 0.05).astype(float)])
    detector = make_detector(random_state=0).set_params(**SMALL).fit(X)
    fraud = X[:, 1] > 2.0
    reviewed = rng.choice(3000, size=800, replace=False)
    layer = fit_outcome_layer(detector, X, DIRECTIONS, reviewed, fraud[reviewed], np.ones(800), l2=0.01)
    return X, detector, layer


def test_contributions_and_base_value_add_up_to_the_final_score(fitted):
    X, _, layer = fitted
    contributions, base_value = layer.explain(X[:300])
    assert np.abs(contributions.sum(axis=1) + base_value - layer.decision_function(X[:300])).max() < 1e-6
    assert np.array_equal(layer.decision_function(X), layer.decision_scores_)


def test_the_learned_part_never_falls_as_a_value_moves_in_its_suspicious_direction(fitted):
    X, detector, layer = fitted
    rows = X[:200]
    for column, direction in enumerate(DIRECTIONS):
        step = 0.5 if direction == "high" else -0.5
        for moves in range(1, 6):
            raised = rows.copy()
            raised[:, column] += step * moves
            learned_before = layer.decision_function(rows) - layer.anomaly_weight * detector.decision_function(rows)
            learned_after = (layer.decision_function(raised)
                             - layer.anomaly_weight * detector.decision_function(raised))
            assert (learned_after - learned_before >= -1e-9).all(), (column, moves)
    terms = layer.evidence_terms(np.linspace(-5, 5, 101)[:, None].repeat(4, axis=1))
    assert (np.diff(terms[:, [0, 1, 3]], axis=0) >= 0).all()
    assert (np.diff(terms[:, 2], axis=0) <= 0).all()  # "low": rises as the value falls


def test_weights_are_never_negative_and_the_evidence_that_marks_fraud_weighs_most(fitted):
    _, _, layer = fitted
    assert layer.anomaly_weight >= 0 and (layer.feature_weights >= 0).all()
    assert int(np.argmax(layer.feature_weights)) == 1


def test_evidence_that_only_honest_subjects_show_gets_weight_zero_not_a_negative_one():
    rng = np.random.default_rng(3)
    X = rng.exponential(size=(2000, 2))
    detector = make_detector(random_state=0).set_params(**SMALL).fit(X)
    fraud = X[:, 0] < 0.2  # fraud where the "high" column is low: its weight would be negative if allowed
    layer = fit_outcome_layer(detector, X, ("high", "high"), np.arange(2000), fraud, np.ones(2000), l2=0.0)
    assert layer.feature_weights[0] == 0.0


def test_right_tail_terms_are_one_sided_and_keep_the_detector_terms_unchanged():
    z = np.array([[0.0], [0.0], [0.0], [1.0], [2.0]])
    tails = EmpiricalTails.fit(z, max_knots=16)
    right = tails.right_tail_terms(np.array([[-3.0], [0.0], [1.0], [1.5], [2.0], [4.0]])).ravel()
    assert right[0] == right[1] == 0.0
    assert (np.diff(right) >= 0).all()
    assert right[-1] == pytest.approx(np.log(6.0))
    # ECOD's two-sided term is the larger of the two one-sided ones
    left = EmpiricalTails.fit(-z, max_knots=16).right_tail_terms(-np.array([[0.0], [2.0]])).ravel()
    both = tails.terms(np.array([[0.0], [2.0]])).ravel()
    assert both == pytest.approx(np.maximum(left, tails.right_tail_terms(np.array([[0.0], [2.0]])).ravel()))


def _outcomes(refs, outcome, control) -> pd.DataFrame:
    return pd.DataFrame({"subject_ref": refs, "outcome": outcome, "closed_on": "2026-06-30",
                         "control": pd.array(control, dtype="boolean")})


def test_each_source_is_weighted_by_its_probability_of_review_and_untracked_ones_are_left_out():
    refs = [f"B{i}" for i in range(100)]
    outcomes = _outcomes(["B0", "B1", "B2", "B3", "B4", "B5", "B6", "X1"],
                         ["fraud", "no_issue", "fraud", "error", "no_issue", "fraud", "fraud", "fraud"],
                         [True, True, False, False, False, None, None, False])
    reviewed = reviewed_subjects(outcomes, refs)
    summary = reviewed.summary().set_index("source")
    # 3 work-list subjects, so 2 controls of the 97 others: p = 2 / 97
    assert reviewed.control_probability == pytest.approx(2 / 97)
    assert summary.loc[CONTROL, "weight"] == pytest.approx(97 / 2)
    assert summary.loc[WORK_LIST, "weight"] == 1.0
    assert not summary.loc[UNTRACKED, "used"] and summary.loc[UNTRACKED, "reviewed"] == 2
    assert reviewed.not_in_extract == 1
    assert set(reviewed.used["subject_ref"]) == {"B0", "B1", "B2", "B3", "B4"}
    assert reviewed_subjects(outcomes, refs, use_untracked=True).summary().set_index("source").loc[
        UNTRACKED, "used"]


def test_outcomes_without_a_control_column_are_all_untracked():
    outcomes = _outcomes(["B0", "B1"], ["fraud", "no_issue"], [True, True]).drop(columns="control")
    summary = reviewed_subjects(outcomes, ["B0", "B1", "B2"]).summary().set_index("source")
    assert summary.loc[UNTRACKED, "reviewed"] == 2 and not summary["used"].any()


def test_too_few_reviewed_subjects_leave_the_detector_alone_and_say_why(fitted):
    X, detector, _ = fitted
    refs = [f"B{i}" for i in range(len(X))]
    outcomes = _outcomes(refs[:30], ["fraud"] * 10 + ["no_issue"] * 20, [False] * 30)
    learning = learn_from_outcomes(detector, X, refs, DIRECTIONS, outcomes, OutcomeLearningSettings())
    assert learning.layer is None
    assert "30 reviewed subjects (10 fraud)" in learning.note and "min_reviewed=200" in learning.note
    enough = learn_from_outcomes(detector, X, refs, DIRECTIONS, outcomes,
                                 OutcomeLearningSettings(min_reviewed=30, min_fraud=10))
    assert isinstance(enough.layer, OutcomeWeightedDetector)
    assert "work_list 30 (10 fraud, weight 1 each)" in enough.note


def test_the_layer_is_saved_and_loaded_as_plain_data_with_identical_scores(fitted, tmp_path):
    X, _, layer = fitted
    names = ("a", "b", "c", "d")
    directory = save_detector(layer, FeaturePipeline(names), tmp_path / "detector")
    loaded = load_detector(directory)
    assert isinstance(loaded.detector, OutcomeWeightedDetector)
    assert loaded.detector.directions == DIRECTIONS
    assert np.array_equal(loaded.detector.decision_function(X), layer.decision_function(X))
    assert np.array_equal(loaded.detector.decision_scores_, layer.decision_scores_)
    assert np.array_equal(loaded.detector.explain(X[:20])[0], layer.explain(X[:20])[0])
