"""The random control sample: its size, and its independence from the score."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import kstest

from models.cases import control_sample_size, draw_control_sample, rank_subjects


def _ranked(n: int, flagged: int, seed: int = 0) -> pd.DataFrame:
    scores = np.random.default_rng(seed).normal(size=n)
    return rank_subjects([f"S{i:06d}" for i in range(n)], ["benefit_claim"] * n, scores, capacity=flagged)


def test_the_sample_has_the_configured_size_and_only_unflagged_subjects():
    ranked = _ranked(5000, flagged=200)
    drawn = draw_control_sample(ranked, 0.05, seed=1)
    assert int(drawn["control"].sum()) == 10 == control_sample_size(200, 4800, 0.05)
    assert not (drawn["control"] & drawn["flagged"]).any()
    assert (drawn["work_list"] == drawn["flagged"] | drawn["control"]).all()
    assert drawn[["subject_ref", "score", "rank", "flagged"]].equals(ranked[["subject_ref", "score", "rank", "flagged"]])
    assert int(draw_control_sample(ranked, 0.0, seed=1)["control"].sum()) == 0
    assert int(draw_control_sample(ranked, 0.123, seed=1)["control"].sum()) == 25  # rounded up


def test_the_same_seed_draws_the_same_subjects_and_another_seed_others():
    ranked = _ranked(3000, flagged=100)
    first = draw_control_sample(ranked, 0.5, seed=7)["control"]
    assert first.equals(draw_control_sample(ranked, 0.5, seed=7)["control"])
    assert not first.equals(draw_control_sample(ranked, 0.5, seed=8)["control"])


def test_the_draw_does_not_depend_on_the_scores():
    ranked = _ranked(2000, flagged=50)
    rescored = ranked.assign(score=np.random.default_rng(3).normal(size=len(ranked)))
    drawn = draw_control_sample(ranked, 1.0, seed=5)
    assert set(drawn.loc[drawn["control"], "subject_ref"]) == set(
        draw_control_sample(rescored, 1.0, seed=5).loc[lambda frame: frame["control"], "subject_ref"])


def test_score_ranks_of_control_subjects_are_uniform_among_the_unflagged():
    n, flagged = 20000, 1000
    ranked = _ranked(n, flagged=flagged, seed=2)
    positions = []
    for seed in range(20):
        drawn = draw_control_sample(ranked, 0.05, seed=seed)
        positions.extend(drawn.loc[drawn["control"], "rank"] - flagged)
    # ranks of the unflagged run 1..n - flagged: uniform when the draw ignores the score
    result = kstest((np.asarray(positions) - 0.5) / (n - flagged), "uniform")
    assert len(positions) == 20 * 50
    assert result.pvalue > 0.01
    # and a draw that followed the score would be told apart
    biased = (np.sort(np.asarray(positions)) // 4 - 0.5) / (n - flagged)
    assert kstest(biased, "uniform").pvalue < 0.01
