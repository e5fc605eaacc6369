"""Feature declarations: consistent, and never reading protected characteristics or age."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from configs.settings import load_settings
from features.build import build_features
from features.definitions import (
    CONTEXT,
    FEATURES,
    FEATURES_BY_NAME,
    PROTECTED_ATTRIBUTES,
    FeatureDeclarationError,
    check_declarations,
    context_columns,
    feature_names,
    template_placeholders,
)
from tests.features.test_build import AS_OF, TABLES, hand_world

EQUALITY_COLUMNS = ("sex", "ethnicity_group", "disability", "nationality_group")


def test_feature_names_unique_and_in_declaration_order():
    names = feature_names()
    assert names == tuple(spec.name for spec in FEATURES)
    assert len(set(names)) == len(names)
    assert set(names) == set(FEATURES_BY_NAME)


def test_every_spec_is_complete():
    for spec in FEATURES:
        assert spec.meaning and spec.reason, spec.name
        assert spec.label and len(spec.label) <= 48 and "_" not in spec.label, spec.name
        assert spec.unit in ("gbp_per_month", "gbp", "count", "log_ratio", "flag", "months")
        assert spec.suspicious in ("high", "low")
        assert spec.applies_to in ("benefit_claim", "housing_claim", "both")
        assert set(template_placeholders(spec.reason)) <= set(spec.context)
        assert set(spec.context) <= set(CONTEXT)


def test_context_columns_leave_out_those_named_like_features():
    assert "claims_elsewhere" in CONTEXT and "claims_elsewhere" not in context_columns()
    assert "tax_monthly_earnings" in context_columns()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "earnings_gap"}, "declared more than once"),
        ({"reason": "Born {date_of_birth}.", "context": ("date_of_birth",)}, "protected attribute 'date_of_birth'"),
        ({"name": "sex"}, "protected attribute 'sex'"),
        ({"context": ("not_a_column",)}, "not declared in CONTEXT"),
        ({"reason": "Earned {tax_monthly_earnings}."}, "placeholder 'tax_monthly_earnings'"),
        ({"neutral": float("nan")}, "not a finite number"),
        ({"label": " "}, "has no label"),
        ({"label": "Undeclared capital past tolerance (£)"}, "already the label of 'capital_gap'"),
    ],
)
def test_inconsistent_declarations_are_refused(change, message):
    base = dataclasses.replace(FEATURES_BY_NAME["housing_cost_ratio"], name="extra", label="Extra")
    with pytest.raises(FeatureDeclarationError, match=message):
        check_declarations((*FEATURES, dataclasses.replace(base, **change)))


def test_no_feature_or_context_is_protected():
    used = set(feature_names()) | {column for spec in FEATURES for column in spec.context} | set(CONTEXT)
    assert used.isdisjoint(PROTECTED_ATTRIBUTES)
    assert set(EQUALITY_COLUMNS) <= PROTECTED_ATTRIBUTES


def test_compute_reads_only_its_declared_context():
    """Each computation runs on a frame holding nothing but its declared columns."""
    rng = np.random.default_rng(0)
    for spec in FEATURES:
        frame = pd.DataFrame({column: rng.uniform(0, 100, 5) for column in spec.context})
        values = spec.compute(frame)
        assert len(values) == 5, spec.name


class _WithoutProtected:
    """An extract that refuses to hand out its protected table: reading it fails the build."""

    def __init__(self, extract):
        self._extract = extract

    def __getattr__(self, name):
        if name == "equality_monitoring":
            raise AssertionError("the feature build read equality_monitoring")
        return getattr(self._extract, name)


def _model_and_context(table: pd.DataFrame) -> pd.DataFrame:
    return table[["subject_ref", *feature_names(), *context_columns()]]


def test_build_never_reads_protected_characteristics_or_dates_of_birth():
    """Without equality monitoring and every date of birth, the table is exactly the same.

    The people are linked once (dates of birth are a linking input, used only there); the
    feature build is then given an extract whose protected table cannot be read and whose
    tables have no date_of_birth column at all. A build that read either would fail.
    """
    extract, links = hand_world()
    settings = load_settings(features={"min_peer_group": 3})
    full = build_features(extract, links, AS_OF, settings)
    stripped = dataclasses.replace(
        extract,
        **{name: getattr(extract, name).drop(columns=["date_of_birth"])
           for name in ("benefit_claims", "housing_claims", "electoral_register")},
    )
    blind = build_features(_WithoutProtected(stripped), links, AS_OF, settings)
    pd.testing.assert_frame_equal(full, blind)


def test_features_unchanged_when_protected_values_change():
    """Shuffled characteristics and shifted dates of birth (same links) give the same table."""
    extract, links = hand_world()
    settings = load_settings(features={"min_peer_group": 3})
    rng = np.random.default_rng(7)
    equality = extract.equality_monitoring.copy()
    for column in EQUALITY_COLUMNS:
        equality[column] = rng.choice(["female", "male", "asian", "yes", "non_eu", "unknown"], len(equality))
    shifted = {
        name: getattr(extract, name).assign(
            date_of_birth=getattr(extract, name)["date_of_birth"]
            + pd.to_timedelta(rng.integers(-20_000, 20_000, len(getattr(extract, name))), unit="D")
        )
        for name in ("benefit_claims", "housing_claims", "electoral_register")
    }
    changed = dataclasses.replace(extract, equality_monitoring=equality, **shifted)
    assert set(TABLES) <= {field.name for field in dataclasses.fields(changed)}
    pd.testing.assert_frame_equal(
        _model_and_context(build_features(extract, links, AS_OF, settings)),
        _model_and_context(build_features(changed, links, AS_OF, settings)),
    )


def test_an_earnings_gap_must_show_on_average_and_in_every_recent_month():
    # volatile pay: the declaration matches a recent month, not the 12-month mean
    frame = pd.DataFrame({"declared_monthly_earnings": [1000.0, 0.0],
                          "tax_monthly_earnings": [1600.0, 1600.0],
                          "tax_lowest_recent_monthly_earnings": [1000.0, 1500.0],
                          "window_months": [12.0, 12.0], "recent_months": [3.0, 3.0]})
    gap = FEATURES_BY_NAME["earnings_gap"].compute(frame)
    assert gap.tolist() == [0.0, 12 / 15 * 1400.0]  # 1,500 sustained - 0 declared - £100 tolerance, 12 months seen


@pytest.mark.parametrize("name, count_column", [
    ("undeclared_adults_at_address", "adults_moved_in_with_claimant"),
    ("undeclared_earning_adults", "other_earning_adults"),
    ("undeclared_adults_moved_in_later", "adults_moved_in_later_from_elsewhere"),
    ("undeclared_other_claimants", "other_claimants_at_address"),
])
def test_adults_beyond_those_declared_do_not_count_in_a_house_in_multiple_occupation(name, count_column):
    # the same two undeclared adults, in an ordinary home and in a house let room by room
    spec = FEATURES_BY_NAME[name]
    frame = pd.DataFrame({column: [1.0, 1.0] for column in spec.context})
    frame = frame.assign(**{count_column: [2.0, 2.0], "other_registered_adults": [2.0, 2.0],
                            "declared_occupants": [1.0, 1.0], "shared_house": [0.0, 1.0]})
    values = spec.compute(frame[list(spec.context)])
    assert values.iloc[0] == 2.0
    assert values.iloc[1] == 0.0


def test_capital_gap_is_the_pounds_beyond_declared_savings_and_the_tolerance():
    frame = pd.DataFrame({"implied_capital": [40_000.0, 40_000.0, 10_000.0, np.nan],
                          "declared_savings": [1_000.0, 1_000.0, 5_000.0, 0.0],
                          "capital_rules_apply": [1.0, 0.0, 1.0, 1.0],
                          "annual_savings_interest": 0.0, "interest_rate": 0.03})
    gap = FEATURES_BY_NAME["capital_gap"].compute(frame)
    # £40,000 - £1,000 declared - £6,000 tolerated; no capital test; within tolerance; no tax record
    assert gap.iloc[:3].tolist() == [33_000.0, 0.0, 0.0]
    assert np.isnan(gap.iloc[3])  # left to the build, which sets the neutral value


def test_other_claimants_at_an_address_count_against_a_single_person_discount_only():
    frame = pd.DataFrame({"other_claimants_at_address": [2.0, 2.0, 0.0], "living_alone_discount": [1.0, 0.0, 1.0]})
    assert FEATURES_BY_NAME["claimants_during_discount"].compute(frame).tolist() == [2.0, 0.0, 0.0]


def test_housing_cost_far_above_peers_starts_at_three_times_the_peer_median():
    frame = pd.DataFrame({"housing_cost": [900.0, 1200.0, 1200.0], "peer_housing_cost": [400.0, 300.0, np.nan],
                          "housing_peer_group": "2-bedroom homes in E06000001"})
    values = FEATURES_BY_NAME["housing_cost_far_above_peers"].compute(frame)
    assert values.iloc[0] == 0.0  # 2.25 times the median: high, but within what the home can explain
    assert values.iloc[1] == pytest.approx(np.log(1200 / 900))
    assert np.isnan(values.iloc[2])  # no peers: left to the build, which sets the neutral value
