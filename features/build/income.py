"""Income and capital from the tax records, per person, and the context of each subject's declared means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from configs.settings import Settings
from features.build.keys import _at, _distinct, _factorize, _is_in, _Keys, _pair, _positions
from features.build.months import _date_months, _period_months
from features.linking import normalise_nino

MONTHLY_INCOME_TYPES: tuple[str, ...] = ("paye_employment",)
"""Income reported for the month it is paid in (pay through PAYE)."""
PERIODIC_INCOME_TYPES: tuple[str, ...] = ("self_employment",)
"""Earnings reported for a quarter or a year: spread evenly over the months compared, as no one month shows it."""
EARNING_INCOME_TYPES: tuple[str, ...] = MONTHLY_INCOME_TYPES + PERIODIC_INCOME_TYPES
"""The income a claim declares as earnings."""
PROPERTY_INCOME_TYPE = "property"
"""Rental income: means of its own, not earnings a claimant declares as such, so it is a column of its own."""
SAVINGS_INCOME_TYPE = "savings_interest"
INTEREST_LOOKBACK_MONTHS = 12
CAPITAL_TESTED_BENEFITS: tuple[str, ...] = ("universal_credit", "pension_credit")
"""Benefits whose award depends on the claimant's capital; new-style jobseeker's and employment and
support allowance and carer's allowance have no capital test, so undeclared savings do not change them."""


@dataclass(frozen=True)


class _Income:
    """Per person code and month of the window: monthly and periodic income; savings interest over a year; any NINO."""

    monthly: np.ndarray
    periodic: np.ndarray
    property: np.ndarray
    annual_interest: np.ndarray
    has_nino: np.ndarray

def _person_income(tax_records: pd.DataFrame, keys: _Keys, as_of_month: int,
                   window: int) -> _Income:
    """Tax records summed per person (through every NINO on the person's claims) and month."""
    lookback = max(window, INTEREST_LOOKBACK_MONTHS)
    month = _period_months(tax_records["period"]) - (as_of_month - lookback + 1)
    in_scope = (month >= 0) & (month < lookback)
    monthly = in_scope & _is_in(tax_records["income_type"], MONTHLY_INCOME_TYPES)
    periodic = in_scope & _is_in(tax_records["income_type"], PERIODIC_INCOME_TYPES)
    rental = in_scope & _is_in(tax_records["income_type"], (PROPERTY_INCOME_TYPE,))
    interest = in_scope & _is_in(tax_records["income_type"], (SAVINGS_INCOME_TYPE,))

    claim_nino, ninos = _factorize(keys.claim_nino)
    tax_codes, tax_ninos = _factorize(tax_records["nino"])
    # distinct tax NINOs equal to a claim NINO need no normalising; the others are normalised once
    nino_of_tax = _positions(ninos, tax_ninos)
    unmatched = np.flatnonzero(nino_of_tax < 0)
    nino_of_tax[unmatched] = _positions(ninos, normalise_nino(tax_ninos.iloc[unmatched].reset_index(drop=True)))
    tax_nino = _at(nino_of_tax, tax_codes)

    amount = tax_records["amount"].to_numpy(np.float64)

    def by_nino_and_month(kind: np.ndarray) -> np.ndarray:
        rows = (tax_nino >= 0) & kind & (month >= lookback - window)
        return np.bincount(tax_nino[rows] * window + (month[rows] - (lookback - window)),
                           weights=amount[rows], minlength=len(ninos) * window).reshape(len(ninos), window)

    interest_rows = (tax_nino >= 0) & interest & (month >= lookback - INTEREST_LOOKBACK_MONTHS)
    interest_by_nino = np.bincount(tax_nino[interest_rows], weights=amount[interest_rows], minlength=len(ninos))

    pairs = _distinct(_pair(keys.claim_person, claim_nino, len(ninos)))
    pair_person, pair_nino = np.divmod(pairs, max(len(ninos), 1))

    def by_person(by_nino: np.ndarray) -> np.ndarray:
        per_person = np.zeros((keys.people, window))
        for column in range(window):
            per_person[:, column] = np.bincount(pair_person, weights=by_nino[pair_nino, column], minlength=keys.people)
        return per_person

    return _Income(
        monthly=by_person(by_nino_and_month(monthly)),
        periodic=by_person(by_nino_and_month(periodic)),
        property=by_person(by_nino_and_month(rental)),
        annual_interest=np.bincount(pair_person, weights=interest_by_nino[pair_nino], minlength=keys.people),
        has_nino=np.bincount(pair_person, minlength=keys.people) > 0,
    )

def _tax_context(subjects: pd.DataFrame, person: np.ndarray, income: _Income, first_month: int,
                 settings: Settings) -> pd.DataFrame:
    """Earnings over the claim's months of the window and its latest months; capital implied by interest.

    Periodic earnings (self-employment) count in every compared month at their mean over them;
    property income is kept apart, over the same months.
    """
    window = income.monthly.shape[1]
    recent = min(settings.features.recent_months, window)
    start_offset = np.clip(_date_months(subjects["start"]) - first_month, 0, window - 1)
    recent_offset = np.maximum(start_offset, window - recent)
    columns = np.arange(window)
    in_window = columns[None, :] >= start_offset[:, None]
    in_recent = columns[None, :] >= recent_offset[:, None]
    window_months = (window - start_offset).astype(np.float64)
    periodic_mean = (income.periodic[person] * in_window).sum(axis=1) / window_months
    property_mean = (income.property[person] * in_window).sum(axis=1) / window_months
    rows = income.monthly[person] + periodic_mean[:, None]
    recent_months = (window - recent_offset).astype(np.float64)
    known = income.has_nino[person]
    annual_interest = np.clip(income.annual_interest[person], 0.0, None)
    rate = settings.features.savings_interest_rate
    return pd.DataFrame(
        {
            "tax_monthly_earnings": np.where(known, (rows * in_window).sum(axis=1) / window_months, np.nan),
            "tax_lowest_recent_monthly_earnings": np.where(known, np.where(in_recent, rows, np.inf).min(axis=1), np.nan),
            "window_months": window_months,
            "recent_months": recent_months,
            "months_with_earnings": np.where(known, ((rows > 0) & in_window).sum(axis=1), np.nan),
            "tax_monthly_property_income": np.where(known, np.clip(property_mean, 0.0, None), np.nan),
            "annual_savings_interest": np.where(known, annual_interest, np.nan),
            "implied_capital": np.where(known, np.round(annual_interest / rate), np.nan),  # "about": to the pound
            "interest_rate": rate,
        },
        index=subjects.index,
    )
