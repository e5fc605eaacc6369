"""Fairness figures and proxies against direct counts on made-up subjects."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy.stats import binomtest
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
    rates = group_flag_rates(audit, flagged, n_boot=200, seed=0, min_subjects=100, exact_below=1)
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


def test_groups_below_the_size_threshold_are_kept_but_suppressed():
    audit = _audit(3000)
    flagged = np.random.default_rng(2).random(3000) < 0.03
    rates = group_flag_rates(audit, flagged, n_boot=None, seed=0, min_subjects=200, exact_below=10)
    small = rates[(rates["characteristic"] == "sex") & (rates["group"] == "c")].iloc[0]
    assert small["suppressed"] and np.isnan(small["flag_rate"]) and np.isnan(small["subjects"])
    assert set(rates.loc[rates["characteristic"] == "sex", "group"]) == {"a", "b", "c"}


def test_a_large_group_with_few_flagged_is_shown_with_its_exact_interval():
    # 900 of 5,000 subjects with a disability, 8 of them flagged against 2 % overall: the finding itself
    audit = _audit(5000).assign(disability=["yes"] * 900 + ["no"] * 4100)
    flagged = np.zeros(5000, dtype=bool)
    flagged[np.arange(8) * 100] = True
    flagged[900 + np.arange(92) * 40] = True
    rates = group_flag_rates(audit, flagged, n_boot=200, seed=0, min_subjects=100, exact_below=10)
    row = rates[(rates["characteristic"] == "disability") & (rates["group"] == "yes")].iloc[0]
    assert not row["suppressed"]
    assert (row["subjects"], row["flagged"]) == (900, 8)
    assert row["interval"] == "Clopper-Pearson"
    exact = binomtest(8, 900).proportion_ci(confidence_level=0.95, method="exact")
    assert np.isclose(row["ci_low"], exact.low / 0.02) and np.isclose(row["ci_high"], exact.high / 0.02)
    many = rates[(rates["characteristic"] == "disability") & (rates["group"] == "no")].iloc[0]
    assert many["interval"] == "bootstrap"


def test_call_outs_are_corrected_for_the_number_of_groups_compared():
    audit = _audit(6000)
    flagged = np.random.default_rng(1).random(6000) < np.where(audit["sex"] == "b", 0.08, 0.03)
    rates = group_flag_rates(audit, flagged, n_boot=None, seed=0, min_subjects=100, exact_below=10)
    shown = rates[~rates["suppressed"]]
    raw = np.array([binomtest(int(row.flagged), int(row.subjects), flagged.mean()).pvalue
                    for row in shown.itertuples()])
    # Benjamini-Hochberg by hand: p × m ÷ rank, then the smallest of those at or above each rank
    order = np.argsort(raw)
    stepped = raw[order] * len(raw) / np.arange(1, len(raw) + 1)
    expected = np.empty(len(raw))
    expected[order] = np.minimum(np.minimum.accumulate(stepped[::-1])[::-1], 1.0)
    assert np.allclose(shown["p_adjusted"], expected)
    sentences = call_outs(rates, 0.8, 1.25)
    assert any(sentence.startswith('sex "b": flagged') for sentence in sentences)
    # a group that only an uncorrected test would call out is not called out
    chance = shown[(raw < 0.05) & (shown["p_adjusted"] >= 0.05).to_numpy()
                   & ((shown["ratio"] < 0.8) | (shown["ratio"] > 1.25)).to_numpy()]
    assert len(chance)
    for row in chance.itertuples():
        assert not any(f'"{row.group}": flagged' in sentence and sentence.startswith(
            " × ".join(name.replace("_", " ") for name in row.characteristic.split(" × "))) for sentence in sentences)


def test_false_positive_burden_counts_honest_subjects_flagged_per_1000():
    audit = _audit(5000)
    rng = np.random.default_rng(3)
    fraud, flagged = rng.random(5000) < 0.05, rng.random(5000) < 0.04
    burden = false_positive_burden(audit, flagged, fraud, n_boot=100, seed=0, min_subjects=100, exact_below=5)
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
