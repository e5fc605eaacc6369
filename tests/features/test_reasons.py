"""Reasons in words: formatting for people and every declared sentence rendered."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from configs.settings import load_settings
from features.build import build_features
from features.definitions import FEATURES, FEATURES_BY_NAME
from features.reasons import (
    ReasonError,
    format_context,
    format_count,
    format_date,
    format_money,
    format_months,
    format_percent,
    render_reason,
)
from tests.features.test_build import AS_OF, hand_world


@pytest.mark.parametrize(
    ("value", "text"),
    [(1450, "£1,450"), (1450.5, "£1,450.50"), (1450.004, "£1,450"), (0.0, "£0"), (0.07, "£0.07"),
     (1_234_567.891, "£1,234,567.89"), (-20.0, "-£20"), (np.float64(99.999), "£100")],
)
def test_money(value, text):
    assert format_money(value) == text


def test_counts_months_dates_rates():
    assert format_count(3, ("adult", "adults")) == "3 adults"
    assert format_count(1.0, ("adult", "adults")) == "1 adult"
    assert format_count(0, ("other person", "other people")) == "0 other people"
    assert format_count(1200) == "1,200"
    assert format_months(1) == "1 month"
    assert format_months(12.0) == "12 months"
    assert format_date(dt.date(2026, 3, 3)) == "3 March 2026"
    assert format_date(pd.Timestamp("2023-06-01")) == "1 June 2023"
    assert format_percent(0.03) == "3%"


def test_missing_values_read_unknown():
    assert format_context("tax_monthly_earnings", np.nan) == "unknown"
    assert format_context("registered_elsewhere_from", pd.NaT) == "unknown"
    assert format_context("claims_elsewhere_refs", None) == "unknown"


def test_earnings_reason_states_own_values_and_the_norm():
    row = {"declared_monthly_earnings": 0.0, "tax_monthly_earnings": 1450.0, "window_months": 12.0,
           "tax_lowest_recent_monthly_earnings": 1512.3, "recent_months": 3.0}
    assert render_reason(FEATURES_BY_NAME["earnings_gap"], row) == (
        "Declared earnings £0 a month; tax records show £1,450 a month from employment and "
        "self-employment over the last 12 months of the claim, and at least £1,512.30 in each of the latest 3 months."
    )


def test_housing_subjects_read_their_own_sentence():
    row = {"subject_type": "housing_claim", "housing_cost": 900.0, "peer_housing_cost": 612.5,
           "housing_peer_group": "2-bedroom rented homes in E06000001"}
    assert render_reason(FEATURES_BY_NAME["housing_cost_ratio"], row) == (
        "Rent of £900 a month against a median of £612.50 for 2-bedroom rented homes in E06000001."
    )


def test_missing_context_column_is_an_error_naming_it():
    with pytest.raises(ReasonError, match="'tax_monthly_earnings'"):
        render_reason(FEATURES_BY_NAME["earnings_gap"], {"declared_monthly_earnings": 0.0, "window_months": 12})


def test_every_reason_renders_from_a_built_table():
    extract, links = hand_world()
    table = build_features(extract, links, AS_OF, load_settings(features={"min_peer_group": 3}))
    table = table.set_index("subject_ref", drop=False)
    for spec in FEATURES:
        for _, row in table.loc[table[spec.name] > spec.neutral].iterrows():
            sentence = render_reason(spec, row)
            assert "{" not in sentence and "nan" not in sentence, sentence
    partner = render_reason(FEATURES_BY_NAME["possible_undeclared_partner"], table.loc["B03"])
    assert partner == ("The claim is made without a partner, yet the address has 1 other adult sharing "
                       "the claimant's surname, bank account, phone or e-mail.")
    moved = render_reason(FEATURES_BY_NAME["registered_elsewhere"], table.loc["H04"])
    assert moved == ("The claimant's latest electoral registration is at UPRN U30 (from 1 June 2023), "
                     "not at the claimed address.")
    spd = render_reason(FEATURES_BY_NAME["undeclared_adults_at_address"], table.loc["H03"])
    assert spd == ("2 other adults registered to vote at the address when the claimant arrived (1 January 2020); "
                   "the claim declares 1 person living there, the claimant included.")
    ring = render_reason(FEATURES_BY_NAME["people_sharing_several_details"], table.loc["B05"])
    assert ring == ("Benefit claims of 1 other person at other addresses in the last 12 months share two or more of "
                    "this claim's bank account, phone number and e-mail address.")
