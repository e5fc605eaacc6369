from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.definitions import CONTEXT, FEATURES_BY_NAME, feature_names
from models.detector import make_detector
from models.explain import (
    ExplanationError,
    check_additivity,
    departs_suspiciously,
    explain_subjects,
    join_reasons,
    top_reasons,
)

FEATURES = list(feature_names())


class LinearDetector:
    """Score = weights . x + intercept: contributions are weights * x, exactly."""

    def __init__(self, weights: np.ndarray, intercept: float = 0.25, drift: float = 0.0) -> None:
        self.weights = weights
        self.intercept = intercept
        self.drift = drift  # added to explanations only: a detector whose explanations do not add up

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return X @ self.weights + self.intercept

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        return X * self.weights + self.drift, self.intercept


def _subjects(values: dict[str, dict[str, float]], types: dict[str, str]) -> pd.DataFrame:
    """Feature-table rows: the given feature values (others 0) and neutral context."""
    rows = []
    for ref, features in values.items():
        row = {"subject_ref": ref, "subject_type": types[ref]}
        row.update({column: (12.0 if spec.unit in ("months", "count") else 100.0)
                    for column, spec in CONTEXT.items() if spec.unit not in ("text", "date")})
        row.update({column: "text" for column, spec in CONTEXT.items() if spec.unit == "text"})
        row.update({column: pd.Timestamp("2025-01-03") for column, spec in CONTEXT.items()
                    if spec.unit == "date"})
        # some features are also context columns: the feature value wins
        row.update({name: 0.0 for name in FEATURES})
        row.update(features)
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def subjects() -> pd.DataFrame:
    return _subjects(
        {
            "B1": {"earnings_gap": 900.0, "people_sharing_bank_account": 3.0, "housing_cost_above_other_source": 0.4},
            "H1": {"housing_cost_ratio": 0.7, "earnings_gap": 0.0},
            "B2": {},  # departs on nothing: still gets one reason
        },
        {"B1": "benefit_claim", "H1": "housing_claim", "B2": "benefit_claim"},
    )


@pytest.fixture
def detector() -> LinearDetector:
    weights = np.linspace(0.001, 0.02, len(FEATURES))
    weights[FEATURES.index("earnings_gap")] = 0.01
    weights[FEATURES.index("housing_cost_above_other_source")] = -1.0  # pushes the score down: not a reason
    return LinearDetector(weights)


def test_explanations_are_long_and_add_up(detector, subjects):
    scores = detector.decision_function(subjects[FEATURES].to_numpy())
    explanations = explain_subjects(detector, subjects, FEATURES, scores)
    assert list(explanations.columns) == ["subject_ref", "feature", "value", "contribution", "base_value"]
    assert len(explanations) == len(subjects) * len(FEATURES)
    assert explanations["subject_ref"].unique().tolist() == ["B1", "H1", "B2"]
    assert explanations["feature"].iloc[: len(FEATURES)].tolist() == FEATURES
    totals = explanations.groupby("subject_ref", sort=False).apply(
        lambda part: part["contribution"].sum() + part["base_value"].iloc[0])
    np.testing.assert_allclose(totals.to_numpy(), scores, atol=1e-6, rtol=0)
    b1 = explanations[explanations["subject_ref"] == "B1"].set_index("feature")
    assert b1.loc["earnings_gap", "value"] == 900.0
    assert b1.loc["earnings_gap", "contribution"] == pytest.approx(9.0)


def test_explanations_that_do_not_add_up_are_refused(subjects):
    drifting = LinearDetector(np.ones(len(FEATURES)), drift=1e-5)
    scores = drifting.decision_function(subjects[FEATURES].to_numpy())
    with pytest.raises(ExplanationError, match="subject_ref '(B1|H1|B2)' does not add up to its score"):
        explain_subjects(drifting, subjects, FEATURES, scores)


def test_check_additivity_needs_every_score(detector, subjects):
    scores = detector.decision_function(subjects[FEATURES].to_numpy())
    explanations = explain_subjects(detector, subjects, FEATURES, scores)
    with pytest.raises(ExplanationError, match="no score for explained subject_ref 'H1'"):
        check_additivity(explanations, pd.Series(scores[[0, 2]], index=["B1", "B2"]))


def test_no_subject_gives_an_empty_table(detector, subjects):
    empty = explain_subjects(detector, subjects.iloc[:0], FEATURES, [])
    assert empty.empty and list(empty.columns) == ["subject_ref", "feature", "value", "contribution",
                                                   "base_value"]


def test_the_combined_detector_adds_up_per_feature():
    rng = np.random.default_rng(0)
    X = rng.exponential(size=(400, len(FEATURES))) * (rng.random((400, len(FEATURES))) < 0.2)
    detector = make_detector(random_state=0).set_params(autoencoder_epochs=2, forest_n_estimators=20,
                                                        n_jobs=1).fit(X)
    table = pd.DataFrame(X[:30], columns=FEATURES).assign(subject_ref=[f"B{i:03d}" for i in range(30)])
    scores = detector.decision_function(X[:30])
    explanations = explain_subjects(detector, table, FEATURES, scores)
    assert explanations.groupby("subject_ref").size().eq(len(FEATURES)).all()


def test_reasons_follow_positive_agreeing_contributions(detector, subjects):
    scores = detector.decision_function(subjects[FEATURES].to_numpy())
    explanations = explain_subjects(detector, subjects, FEATURES, scores)
    reasons = top_reasons(explanations, subjects, top_k=3)
    assert list(reasons.columns) == ["subject_ref", "position", "feature", "contribution", "reason"]
    by_subject = reasons.groupby("subject_ref", sort=False)["feature"].agg(list)
    # B1: earnings gap (9.0) before the shared account; the rent feature pushes down, so it is no reason
    assert by_subject["B1"] == ["earnings_gap", "people_sharing_bank_account"]
    assert reasons.loc[reasons["subject_ref"] == "B1", "position"].tolist() == [1, 2]
    assert reasons["reason"].iloc[0].startswith("Declared earnings £100 a month")
    # H1: housing sentence, and never a benefit-only feature
    assert by_subject["H1"] == ["housing_cost_ratio"]
    assert reasons.loc[reasons["subject_ref"] == "H1", "reason"].iloc[0].startswith("Rent of £100")
    # B2 departs on nothing: falls back to its largest applicable contribution
    assert len(by_subject["B2"]) == 1
    assert FEATURES_BY_NAME[by_subject["B2"][0]].applies("benefit_claim")


def test_top_k_caps_the_reasons(detector, subjects):
    scores = detector.decision_function(subjects[FEATURES].to_numpy())
    explanations = explain_subjects(detector, subjects, FEATURES, scores)
    reasons = top_reasons(explanations, subjects, top_k=1)
    assert reasons.groupby("subject_ref").size().eq(1).all()
    assert reasons["subject_ref"].tolist() == ["B1", "H1", "B2"]


def test_every_subject_gets_a_reasons_text(detector, subjects):
    scores = detector.decision_function(subjects[FEATURES].to_numpy())
    explanations = explain_subjects(detector, subjects, FEATURES, scores)
    text = join_reasons(top_reasons(explanations, subjects, top_k=3), ["B2", "B1", "X9", "H1"])
    assert text.index.tolist() == ["B2", "B1", "X9", "H1"]
    assert text["X9"] == ""
    assert all(text[ref] for ref in ("B1", "H1", "B2"))
    assert text["B1"].count(" | ") == 1


def test_reasons_need_the_subjects_rows(detector, subjects):
    scores = detector.decision_function(subjects[FEATURES].to_numpy())
    explanations = explain_subjects(detector, subjects, FEATURES, scores)
    with pytest.raises(ExplanationError, match="no feature-table row for explained subject_ref 'H1'"):
        top_reasons(explanations, subjects[subjects["subject_ref"] != "H1"], top_k=3)


def test_direction():
    assert departs_suspiciously([0.0, 0.5, -0.5], ["high", "high", "low"], [0.0, 0.0, 0.0]).tolist() == [
        False, True, True]


def test_a_reason_repeating_a_stronger_ones_facts_is_skipped():
    subjects = _subjects(
        {"B7": {"earnings_gap": 900.0, "earnings_log_ratio": 2.0, "capital_log_ratio": 0.8}},
        {"B7": "benefit_claim"},
    )
    weights = np.zeros(len(FEATURES))
    weights[FEATURES.index("earnings_gap")] = 0.01  # 9.0
    weights[FEATURES.index("earnings_log_ratio")] = 4.0  # 8.0: the same facts as the earnings gap
    weights[FEATURES.index("capital_log_ratio")] = 5.0  # 4.0: other facts
    detector = LinearDetector(weights)
    scores = detector.decision_function(subjects[FEATURES].to_numpy())
    reasons = top_reasons(explain_subjects(detector, subjects, FEATURES, scores), subjects, top_k=3)
    assert reasons["feature"].tolist() == ["earnings_gap", "capital_log_ratio"]
