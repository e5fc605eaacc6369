from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.cases import (
    RankingError,
    draw_control_sample,
    rank_subjects,
    recently_cleared,
    recently_cleared_summary,
    related_subjects,
)
from models.evaluate import flag_count


def test_ranks_by_score_then_reference_without_ties():
    ranked = rank_subjects(
        ["B3", "B1", "H2", "B2", "H1"],
        ["benefit_claim", "benefit_claim", "housing_claim", "benefit_claim", "housing_claim"],
        [0.2, 0.7, 0.7, 0.9, 0.2],
        capacity=3,
    )
    assert ranked["subject_ref"].tolist() == ["B2", "B1", "H2", "B3", "H1"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5]
    assert ranked["flagged"].tolist() == [True, True, True, False, False]
    assert ranked["subject_type"].tolist() == [
        "benefit_claim", "benefit_claim", "housing_claim", "benefit_claim", "housing_claim"]
    assert ranked["score"].tolist() == [0.9, 0.7, 0.7, 0.2, 0.2]
    assert list(ranked.index) == [0, 1, 2, 3, 4]


def test_ranking_does_not_depend_on_input_order():
    rng = np.random.default_rng(3)
    refs = [f"B{i:04d}" for i in range(200)]
    scores = rng.integers(0, 5, size=200).astype(float)  # many ties
    first = rank_subjects(refs, ["benefit_claim"] * 200, scores, capacity=17)
    order = rng.permutation(200)
    second = rank_subjects([refs[i] for i in order], ["benefit_claim"] * 200, scores[order], capacity=17)
    pd.testing.assert_frame_equal(first, second)
    assert first["rank"].is_unique
    assert first["flagged"].sum() == 17


def test_the_recently_cleared_keep_their_rank_and_the_next_subjects_take_their_places():
    refs = [f"B{i}" for i in range(10)]
    scores = np.arange(10, 0, -1, dtype=float)  # B0 first
    ranked = rank_subjects(refs, ["benefit_claim"] * 10, scores, capacity=4, cleared=["B1", "B3", "B8", "X9"])
    assert ranked["subject_ref"].tolist() == refs
    assert ranked["rank"].tolist() == list(range(1, 11))
    assert ranked.loc[ranked["flagged"], "subject_ref"].tolist() == ["B0", "B2", "B4", "B5"]
    assert ranked.loc[ranked["recently_cleared"], "subject_ref"].tolist() == ["B1", "B3", "B8"]
    assert recently_cleared_summary(ranked, 4, 365) | {"rule": ""} == {
        "window_days": 365, "rule": "", "subjects": 3, "within_capacity": 2}


def test_when_nearly_everyone_is_cleared_the_rest_are_flagged():
    ranked = rank_subjects(["B1", "B2", "B3"], ["benefit_claim"] * 3, [3.0, 2.0, 1.0], capacity=2,
                           cleared=["B1", "B2"])
    assert ranked["flagged"].tolist() == [False, False, True]


def test_the_control_sample_never_draws_the_recently_cleared():
    refs = [f"H{i:02d}" for i in range(40)]
    cleared = refs[10:35]
    ranked = rank_subjects(refs, ["housing_claim"] * 40, np.linspace(1, 0, 40), capacity=5, cleared=cleared)
    eligible = set(refs[5:10]) | set(refs[35:])
    drawn = set()
    for seed in range(30):
        sampled = draw_control_sample(ranked, share_of_capacity=1.0, seed=seed)
        assert sampled["control"].sum() == 5
        assert not (sampled["work_list"] & sampled["recently_cleared"]).any()
        drawn |= set(sampled.loc[sampled["control"], "subject_ref"])
    assert drawn == eligible  # every subject that may be drawn is, over the seeds


def _outcomes(rows):
    return pd.DataFrame(rows, columns=["subject_ref", "outcome", "closed_on"])


AS_OF = dt.date(2025, 6, 30)


@pytest.mark.parametrize(("closed_on", "cleared"), [
    (AS_OF - dt.timedelta(days=365), True),   # the window's first day
    (AS_OF - dt.timedelta(days=366), False),  # the day before it
    (AS_OF, True),
    (AS_OF + dt.timedelta(days=40), True),    # closed after the data was drawn
])
def test_the_window_counts_back_from_the_as_of_date(closed_on, cleared):
    outcomes = _outcomes([("B1", "no_issue", closed_on.isoformat())])
    assert recently_cleared(outcomes, AS_OF, 365) == (["B1"] if cleared else [])


def test_only_a_latest_outcome_without_fraud_clears():
    outcomes = _outcomes([
        ("B1", "fraud", "2025-05-01"),
        ("B2", "error", "2025-05-01"),
        ("B3", "no_issue", "2025-01-01"), ("B3", "fraud", "2025-04-01"),   # fraud found later
        ("B4", "fraud", "2025-01-01"), ("B4", "no_issue", "2025-04-01"),   # re-checked later: nothing found
        ("B5", "no_issue", "2025-04-01"), ("B5", "fraud", "2025-04-01"),   # the same day: the fraud finding
        ("B6", "no_issue", "2023-01-01"),                                  # long ago
    ])
    assert recently_cleared(outcomes, AS_OF, 365) == ["B2", "B4"]
    assert recently_cleared(outcomes, AS_OF, None) == []
    assert recently_cleared(outcomes.iloc[:0], AS_OF, 365) == []


def test_capacity_as_share_uses_the_shared_helper():
    refs = [f"H{i}" for i in range(250)]
    ranked = rank_subjects(refs, ["housing_claim"] * 250, np.linspace(0, 1, 250), capacity=0.02)
    assert ranked["flagged"].sum() == flag_count(250, 0.02)
    assert ranked.loc[ranked["flagged"], "rank"].max() == ranked["flagged"].sum()


def test_keeps_leading_zeros_and_accepts_series():
    ranked = rank_subjects(pd.Series(["007", "07"]), pd.Series(["benefit_claim"] * 2),
                           pd.Series([1.0, 1.0]), capacity=1)
    assert ranked["subject_ref"].tolist() == ["007", "07"]


@pytest.mark.parametrize(
    ("refs", "scores", "message"),
    [
        (["B1", "B1"], [0.1, 0.2], "'B1' appears more than once"),
        (["B1", "B2"], [0.1, np.nan], "'B2' has no finite score"),
        (["B1", "B2"], [0.1], "differ in length"),
    ],
)
def test_refuses_what_cannot_be_ranked_once(refs, scores, message):
    with pytest.raises(RankingError, match=message):
        rank_subjects(refs, ["benefit_claim"] * len(refs), scores, capacity=1)


@pytest.fixture
def linked_subjects() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_ref": ["B1", "B2", "H1", "B3", "H2", "B4"],
        "subject_type": ["benefit_claim", "benefit_claim", "housing_claim", "benefit_claim",
                         "housing_claim", "benefit_claim"],
        "person_key": ["P1", "P2", "P1", "P3", "P4", "P5"],
        "address_key": ["A1", "A2", "A1", "A3", "A9", "A5"],
        "bank_account_token": ["K1", "K2", None, "K1", None, "K2"],
        "phone_token": ["T1", "", None, None, None, ""],
        "email_token": [None, None, None, "E1", None, None],
    })


def test_related_subjects_name_each_link(linked_subjects):
    related = related_subjects(linked_subjects, ["B1", "H2", "B2"])
    assert related.name == "related"
    assert related.index.tolist() == ["B1", "H2", "B2"]
    assert related["B1"] == "H1 (same person, same address); B3 (same bank account)"
    assert related["H2"] == ""  # linked to nobody
    # an empty phone token links nothing
    assert related["B2"] == "B4 (same bank account)"


def test_related_subjects_are_capped_with_a_count(linked_subjects):
    ring = pd.DataFrame({
        "subject_ref": [f"B{i:02d}" for i in range(9)],
        "person_key": [f"P{i}" for i in range(9)],
        "address_key": [f"A{i}" for i in range(9)],
        "bank_account_token": ["K"] * 9,
    })
    related = related_subjects(ring, ["B04"], max_listed=3)
    assert related["B04"] == (
        "B00 (same bank account); B01 (same bank account); B02 (same bank account); and 5 more")


def test_related_subjects_leave_the_input_untouched(linked_subjects):
    before = linked_subjects.copy()
    related_subjects(linked_subjects, ["B1"])
    pd.testing.assert_frame_equal(linked_subjects, before)


def test_related_subjects_with_no_flagged(linked_subjects):
    related = related_subjects(linked_subjects, [])
    assert related.empty and related.name == "related"
