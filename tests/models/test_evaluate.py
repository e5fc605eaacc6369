from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from configs.settings import CapacitySettings
from models.evaluate import (
    CAPACITY_ERROR,
    OUTCOMES,
    TRUTH,
    EvaluationError,
    average_precision,
    configured_capacity,
    evaluate_scores,
    evaluate_training,
    flag_count,
    flagged_mask,
    labels_from_outcomes,
    labels_from_truth,
    precision_recall_at_capacity,
    ranking_order,
    recall_by_typology,
)


@pytest.mark.parametrize(
    ("n", "capacity", "expected"),
    [
        (1000, 25, 25),
        (10, 50, 10),
        (1000, 0.02, 20),
        (100, 0.07, 7),  # 0.07 * 100 is 7.000000000000001 in floating point
        (7, 0.1, 1),  # a share rounds up: a non-empty run flags someone
        (5, 1.0, 5),
        (0, 0.5, 0),
        (0, 3, 0),
    ],
)
def test_flag_count(n, capacity, expected):
    assert flag_count(n, capacity) == expected


@pytest.mark.parametrize("capacity", [0, -1, 0.0, 1.5, True, "10"])
def test_flag_count_refuses_a_bad_capacity(capacity):
    with pytest.raises(EvaluationError, match=re.escape(CAPACITY_ERROR.split("{")[0])):
        flag_count(10, capacity)


def test_configured_capacity_prefers_the_absolute_count():
    assert configured_capacity(CapacitySettings(share=0.1)) == 0.1
    assert configured_capacity(CapacitySettings(share=0.1, absolute=40)) == 40


def test_ties_are_broken_by_subject_ref_whatever_the_row_order():
    scores = [0.5, 0.9, 0.5, 0.5]
    refs = ["d", "z", "b", "c"]
    assert [refs[i] for i in ranking_order(scores, refs)] == ["z", "b", "c", "d"]
    shuffled = [3, 1, 0, 2]
    again = ranking_order([scores[i] for i in shuffled], [refs[i] for i in shuffled])
    assert [[refs[i] for i in shuffled][i] for i in again] == ["z", "b", "c", "d"]
    assert flagged_mask(scores, refs, 2).tolist() == [False, True, True, False]


def test_average_precision_on_a_hand_made_ranking():
    # ranking: hit, miss, hit, miss -> AP = (1/1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0], [4, 3, 2, 1]) == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(average_precision([0, 0], [1, 2]))


def test_precision_and_recall_at_capacity():
    labels = [True, False, True, False, True]
    scores = [0.9, 0.8, 0.7, 0.1, 0.0]
    refs = ["a", "b", "c", "d", "e"]
    assert precision_recall_at_capacity(labels, scores, refs, 2) == (0.5, pytest.approx(1 / 3))
    assert precision_recall_at_capacity(labels, scores, refs, 0.6) == (pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_lengths_must_agree():
    with pytest.raises(EvaluationError, match="same length"):
        precision_recall_at_capacity([True], [0.1, 0.2], ["a", "b"], 1)


def test_recall_by_typology():
    table = recall_by_typology(["x", "", None, "y", "x"], [5, 4, 3, 2, 1], list("abcde"), 2)
    assert table.to_dict("list") == {
        "typology": ["x", "y"], "n": [2, 1], "flagged": [1, 0], "recall": [0.5, 0.0],
    }


def test_labels_from_truth_joins_each_subject_to_its_own_table():
    subjects = pd.DataFrame({
        "subject_ref": ["C1", "C2", "H1", "C9"],
        "subject_type": ["benefit_claim", "benefit_claim", "housing_claim", "benefit_claim"],
    })
    truth = pd.DataFrame({
        "table": ["benefit_claims", "benefit_claims", "housing_claims", "housing_claims", "electoral_register"],
        "record_ref": ["C1", "C2", "H1", "C1", "E1"],
        "person_id": ["p1", "p2", "p3", "p1", "p1"],
        "typology": ["undeclared_earnings", None, "subletting", "", ""],
    })
    labels = labels_from_truth(subjects, truth)
    assert labels.to_dict("list") == {
        "subject_ref": ["C1", "C2", "H1", "C9"],
        "fraud": [True, False, True, False],
        "typology": ["undeclared_earnings", "", "subletting", ""],
    }


def test_labels_from_outcomes_keep_the_latest_outcome():
    outcomes = pd.DataFrame({
        "subject_ref": ["b", "a", "b", "c"],
        "outcome": ["no_issue", "fraud", "fraud", "error"],
        "closed_on": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-03-01", "2024-02-01"]),
        "typology": [None, "living_together", "subletting", "subletting"],
    })
    labels = labels_from_outcomes(outcomes)
    assert labels.to_dict("list") == {
        "subject_ref": ["a", "b", "c"],
        "fraud": [True, True, False],
        "typology": ["living_together", "subletting", ""],  # an error is not fraud, whatever its typology
    }


def test_evaluate_on_truth_labels_every_subject():
    scored = pd.DataFrame({"subject_ref": list("abcdef"), "score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]})
    labels = pd.DataFrame({
        "subject_ref": list("fedcba"),  # row order of the labels does not matter
        "fraud": [True, False, False, False, True, True],
        "typology": ["x", "", "", "", "y", "x"],
    })
    evaluation = evaluate_scores(scored, labels, 2, TRUTH)
    assert not evaluation.biased_sample
    assert (evaluation.n_subjects, evaluation.n_labelled, evaluation.n_fraud, evaluation.n_flagged) == (6, 6, 3, 2)
    assert evaluation.precision_at_capacity == 1.0
    assert evaluation.recall_at_capacity == pytest.approx(2 / 3)
    assert evaluation.average_precision == pytest.approx((1 + 1 + 3 / 6) / 3)
    assert evaluation.by_typology.to_dict("list") == {
        "typology": ["x", "y"], "n": [2, 1], "flagged": [1, 1], "recall": [0.5, 1.0],
    }
    metrics = evaluation.metrics()
    assert metrics["truth.recall_at_capacity.x"] == 0.5
    assert metrics["truth.n_labelled"] == 6.0


def test_evaluate_on_outcomes_applies_capacity_to_everyone_and_reports_the_sample():
    scored = pd.DataFrame({"subject_ref": list("abcdef"), "score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]})
    outcomes = pd.DataFrame({
        "subject_ref": ["a", "c", "f"],
        "outcome": ["fraud", "no_issue", "fraud"],
        "closed_on": pd.to_datetime(["2024-01-01"] * 3),
        "typology": ["t1", None, "t2"],
    })
    evaluation = evaluate_scores(scored, labels_from_outcomes(outcomes), 2, OUTCOMES)
    assert evaluation.biased_sample
    assert (evaluation.n_subjects, evaluation.n_labelled, evaluation.n_fraud) == (6, 3, 2)
    assert (evaluation.n_flagged, evaluation.n_labelled_flagged) == (2, 1)  # a and b flagged; only a labelled
    assert evaluation.precision_at_capacity == 1.0
    assert evaluation.recall_at_capacity == 0.5
    assert evaluation.metrics()["investigation_outcomes.n_labelled"] == 3.0


def test_evaluate_without_labels_gives_nan_not_an_error():
    scored = pd.DataFrame({"subject_ref": ["a", "b"], "score": [1.0, 0.0]})
    labels = pd.DataFrame({"subject_ref": pd.Series([], dtype=object), "fraud": pd.Series([], dtype=bool),
                           "typology": pd.Series([], dtype=object)})
    evaluation = evaluate_scores(scored, labels, 1, OUTCOMES)
    assert evaluation.n_labelled == 0
    assert np.isnan([evaluation.average_precision, evaluation.precision_at_capacity,
                     evaluation.recall_at_capacity]).all()
    assert evaluation.by_typology.empty


def test_evaluate_training_uses_every_label_source_there_is():
    subjects = pd.DataFrame({"subject_ref": ["C1", "C2", "H1"],
                             "subject_type": ["benefit_claim", "benefit_claim", "housing_claim"]})
    truth = pd.DataFrame({"table": ["benefit_claims", "benefit_claims", "housing_claims"],
                          "record_ref": ["C1", "C2", "H1"], "person_id": ["p1", "p2", "p3"],
                          "typology": ["", "living_together", "subletting"]})
    outcomes = pd.DataFrame({"subject_ref": ["C2"], "outcome": ["fraud"],
                             "closed_on": pd.to_datetime(["2024-01-01"]), "typology": ["living_together"]})
    evaluations = evaluate_training(subjects, [0.1, 0.9, 0.5], 1, truth=truth, outcomes=outcomes)
    assert [(e.source, e.n_labelled, e.recall_at_capacity) for e in evaluations] == [(TRUTH, 3, 0.5), (OUTCOMES, 1, 1.0)]
    assert evaluate_training(subjects, [0.1, 0.9, 0.5], 1, outcomes=outcomes.iloc[:0]) == []
