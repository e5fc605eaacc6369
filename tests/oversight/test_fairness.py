"""Fairness figures and proxies against direct counts on made-up subjects."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from oversight.fairness import (
    CHARACTERISTICS,
    NOT_RECORDED,
    audit_characteristics,
    call_outs,
    false_positive_burden,
    group_flag_rates,
)
from oversight.proxies import group_aucs, proxy_table


def _audit(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    audit = pd.DataFrame({name: rng.choice(["a", "b", "c"], n, p=[0.6, 0.35, 0.05]) for name in CHARACTERISTICS})
    return audit.assign(subject_ref=[f"S{i}" for i in range(n)])


def test_flag_rates_are_direct_counts_with_intervals_around_them():
    audit = _audit(6000)
    rng = np.random.default_rng(1)
    flagged = rng.random(6000) < np.where(audit["sex"] == "b", 0.08, 0.03)
    rates = group_flag_rates(audit, flagged, n_boot=200, seed=0, min_subjects=100, min_flagged=1)
    sex = rates[rates["characteristic"] == "sex"].set_index("group")
    direct = audit.assign(flagged=flagged).groupby("sex")["flagged"].agg(["size", "sum", "mean"])
    for group in ("a", "b", "c"):
        assert sex.loc[group, "subjects"] == direct.loc[group, "size"]
        assert sex.loc[group, "flagged"] == direct.loc[group, "sum"]
        assert np.isclose(sex.loc[group, "flag_rate"], direct.loc[group, "mean"])
        assert np.isclose(sex.loc[group, "ratio"], direct.loc[group, "mean"] / flagged.mean())
        assert sex.loc[group, "ci_low"] < sex.loc[group, "ratio"] < sex.loc[group, "ci_high"]
    pair = rates[rates["characteristic"] == "sex × disability"].set_index("group")
    both = (audit["sex"] == "a") & (audit["disability"] == "b")
    assert pair.loc["a · b", "subjects"] == both.sum()
    # sex "b" is flagged more, so "a" less, than everyone; ethnicity has nothing to do with it
    sentences = call_outs(rates, 0.8, 1.25)
    assert any(sentence.startswith('sex "b": flagged') and "above 1.25" in sentence for sentence in sentences)
    assert any(sentence.startswith('sex "a": flagged') and "below 0.8" in sentence for sentence in sentences)
    assert not any(sentence.startswith("ethnicity group ") for sentence in sentences)


def test_groups_below_the_thresholds_are_kept_but_suppressed():
    audit = _audit(3000)
    flagged = np.random.default_rng(2).random(3000) < 0.03
    rates = group_flag_rates(audit, flagged, n_boot=None, seed=0, min_subjects=200, min_flagged=10)
    small = rates[(rates["characteristic"] == "sex") & (rates["group"] == "c")].iloc[0]
    assert small["suppressed"] and np.isnan(small["flag_rate"]) and np.isnan(small["subjects"])
    assert set(rates.loc[rates["characteristic"] == "sex", "group"]) == {"a", "b", "c"}


def test_false_positive_burden_counts_honest_subjects_flagged_per_1000():
    audit = _audit(5000)
    rng = np.random.default_rng(3)
    fraud, flagged = rng.random(5000) < 0.05, rng.random(5000) < 0.04
    burden = false_positive_burden(audit, flagged, fraud, n_boot=100, seed=0, min_subjects=100, min_flagged=5)
    row = burden[(burden["characteristic"] == "sex") & (burden["group"] == "a")].iloc[0]
    honest = (audit["sex"] == "a").to_numpy() & ~fraud
    assert row["honest_subjects"] == honest.sum()
    assert row["honest_flagged"] == (honest & flagged).sum()
    assert np.isclose(row["per_1000"], 1000 * (honest & flagged).sum() / honest.sum())


def test_characteristics_come_from_the_own_claim_else_the_same_person_and_age_from_birth():
    subjects = pd.DataFrame({"subject_ref": ["B1", "H1", "H2"]})
    equality = pd.DataFrame({"subject_ref": ["B1"], "sex": ["female"], "ethnicity_group": ["asian"],
                             "disability": ["no"], "nationality_group": ["uk"]})
    links = pd.DataFrame({"table": ["benefit_claims", "housing_claims", "housing_claims"],
                          "record_ref": ["B1", "H1", "H2"], "person_key": ["P1", "P1", "P2"]})
    born = pd.DataFrame({"subject_ref": ["B1", "H1", "H2"],
                         "date_of_birth": pd.to_datetime(["1990-07-01", "1990-07-01", None])})
    audit = audit_characteristics(subjects, equality, links, born, dt.date(2025, 6, 30)).set_index("subject_ref")
    assert audit.loc["H1", "sex"] == "female"  # the same person's record
    assert audit.loc["H2", "sex"] == NOT_RECORDED
    assert audit.loc["B1", "age_band"] == "25 to 34" and audit.loc["H2", "age_band"] == NOT_RECORDED


def test_proxy_auc_is_roc_auc_and_a_stand_in_feature_is_named():
    rng = np.random.default_rng(4)
    values, members = rng.normal(size=500), rng.random(500) < 0.3
    values[members] += 0.5
    assert np.isclose(group_aucs(values, members), roc_auc_score(members, values))
    audit = _audit(2000)
    table = pd.DataFrame({"stand_in": (audit["ethnicity_group"] == "b").astype(float) + rng.normal(0, 0.1, 2000),
                          "noise": rng.normal(size=2000)})
    proxies = proxy_table(table, audit, ["stand_in", "noise"], threshold=0.65, min_group=50)
    named = proxies[proxies["possible_proxy"]]
    assert named[["feature", "characteristic", "group"]].values.tolist() == [["stand_in", "ethnicity_group", "b"]]
    assert (proxies["auc"] >= 0.5).all()
