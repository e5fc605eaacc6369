"""Drift statistics: profiles, the population stability index, top-contribution shares, the alert."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models.drift import (
    PREVIOUS_RUN,
    SCORE,
    TRAINING,
    bin_counts,
    compare,
    distribution_profiles,
    drift_report,
    drift_summary,
    population_stability_index,
    profile,
    top_feature_shares,
)


def test_a_profile_counts_every_value_once_in_right_closed_bins():
    values = np.array([0.0] * 70 + [1.0] * 20 + [5.0] * 10)
    reference = profile(values)
    # edges are values that occur: the top decile starts inside the run of ones
    assert reference["edges"] == [0.0, 1.0]
    assert reference["counts"] == [70, 20, 10]
    assert bin_counts(reference["edges"], [-1.0, 0.0, 0.5, 1.0, 6.0]).tolist() == [2, 2, 1]


def test_psi_is_zero_for_the_same_values_and_grows_with_a_shift():
    rng = np.random.default_rng(3)
    reference_values = rng.normal(size=4000)
    reference = profile(reference_values)
    assert population_stability_index(reference, reference_values) == pytest.approx(0.0, abs=1e-12)
    shifts = [population_stability_index(reference, rng.normal(loc=loc, size=4000)) for loc in (0.0, 0.3, 1.0)]
    assert shifts[0] < 0.05 < shifts[1] < shifts[2]
    assert shifts[2] > 0.25
    # the KS statistic agrees on which sample moved
    assert stats.ks_2samp(reference_values, rng.normal(loc=1.0, size=4000)).pvalue < 1e-6


def test_psi_of_values_outside_every_reference_bin_is_large_but_finite():
    reference = profile(np.zeros(100))
    psi = population_stability_index(reference, np.full(100, 3.0))
    assert np.isfinite(psi) and psi > 5


def test_top_feature_shares_count_each_flagged_subject_once():
    explanations = pd.DataFrame({
        "subject_ref": ["a", "a", "b", "b", "c", "c"],
        "feature": ["x", "y", "x", "y", "x", "y"],
        "contribution": [0.9, 0.1, 0.2, 0.3, 0.5, -1.0],
    })
    assert top_feature_shares(explanations, ["x", "y", "z"]) == {"x": 2 / 3, "y": 1 / 3, "z": 0.0}
    assert top_feature_shares(explanations.iloc[0:0], ["x"]) == {"x": 0.0}


def _table(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"steady": rng.normal(size=n), "moving": rng.normal(loc=shift, size=n)})


def test_the_report_names_the_shifted_feature_against_each_reference():
    rng = np.random.default_rng(5)
    training, previous, current = _table(rng, 3000), _table(rng, 3000), _table(rng, 3000, shift=1.5)
    names = ["steady", "moving"]
    references = {
        TRAINING: distribution_profiles(training, names, training["steady"]),
        PREVIOUS_RUN: distribution_profiles(previous, names, previous["steady"]),
    }
    psi = compare(current, names, current["steady"], references)
    assert set(psi["against"]) == {TRAINING, PREVIOUS_RUN}
    assert sorted(psi["name"].unique()) == sorted([*names, SCORE])
    report = drift_report(psi, {"steady": 0.25, "moving": 0.75}, {"steady": 0.5, "moving": 0.5}, threshold=0.25)
    assert report["alert"] is True
    assert {entry["name"] for entry in report["drifted"]} == {"moving"}
    assert {entry["against"] for entry in report["drifted"]} == {TRAINING, PREVIOUS_RUN}
    assert report["worst"][TRAINING]["name"] == "moving"
    assert report["top_feature_shares"]["change"] == {"steady": -0.25, "moving": 0.25}
    summary = drift_summary(report)
    assert summary["alert"] is True and summary["drifted"] == ["moving"]
    assert set(summary["score_psi"]) == {TRAINING, PREVIOUS_RUN}


def test_no_alert_without_a_shift_and_without_a_previous_run():
    rng = np.random.default_rng(6)
    training, current = _table(rng, 3000), _table(rng, 3000)
    references = {TRAINING: distribution_profiles(training, ["steady", "moving"], training["moving"]),
                  PREVIOUS_RUN: None}
    psi = compare(current, ["steady", "moving"], current["moving"], references)
    report = drift_report(psi, {"steady": 1.0, "moving": 0.0}, None, threshold=0.25)
    assert report["alert"] is False and report["drifted"] == []
    assert set(report["psi"]) == {TRAINING}
    assert report["top_feature_shares"]["previous_run"] is None and report["top_feature_shares"]["change"] is None
