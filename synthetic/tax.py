"""Income the tax authority knows about: one row per person, month and income item."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from synthetic.constants import LAST_TAX_MONTH, SELF_EMPLOYMENT_VOLATILITY, TAX_MONTHS

PAYE, SELF_EMPLOYMENT, SAVINGS_INTEREST, PROPERTY = range(4)  # positions in features.contract.INCOME_TYPES
BANKS = np.array([f"BANK{number:03d}" for number in range(40)], dtype=object)
PAYE_LETTERS = np.array(list("ABCDEFGHJKLMNPRSTWXZ"), dtype=object)


def tax_periods() -> np.ndarray:
    """The ``YYYY-MM`` labels of the world's tax months, oldest first."""
    last = np.datetime64(LAST_TAX_MONTH, "M")
    return np.arange(last - TAX_MONTHS + 1, last + 1).astype(str).astype(object)


EMPLOYERS = 40_000
"""Employers in the world; a payer code below this is an employer, above it a bank."""


def employer_refs(employer: np.ndarray) -> np.ndarray:
    """Employer PAYE references like ``475/KD28614`` from employer numbers."""
    office = (100 + employer % 900).astype(str).astype(object)
    letters = PAYE_LETTERS[(employer // 7) % 20] + PAYE_LETTERS[(employer // 131) % 20]
    digits = pd.Series((employer * 7919) % 100_000).astype(str).str.zfill(5).to_numpy(dtype=object)
    return office + "/" + letters + digits


@functools.cache
def payer_refs() -> np.ndarray:
    """Reference of every payer code: employers' PAYE references, then banks."""
    return np.concatenate([employer_refs(np.arange(EMPLOYERS)), BANKS])


def month_factor(volatility: np.ndarray | float, size: int, rng: np.random.Generator) -> np.ndarray:
    """One month's pay or profit relative to its usual level: log-normal with mean one.

    The mean of one keeps a month's figure (what a claimant declares) centred on
    the average the tax records show over many months.
    """
    volatility = np.broadcast_to(np.asarray(volatility, dtype=float), (size,))
    return rng.lognormal(-volatility**2 / 2, volatility)


def _monthly(person: np.ndarray, first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand each person's month range ``first..last`` (inclusive) into (person, month) rows."""
    span = np.maximum(last - first + 1, 0)
    rows = np.repeat(np.arange(len(person)), span)
    start = np.concatenate([[0], np.cumsum(span)[:-1]])
    month = first[rows] + (np.arange(len(rows)) - start[rows])
    return person[rows], month


def make_tax_records(people: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly income items of every person with a NINO over the world's tax months.

    PAYE pay varies month to month (a little for most, a lot for volatile
    jobs, with occasional bonuses and rare corrections), self-employment
    income swings more, savings interest follows capital and the bank's
    rate and payment rhythm, and landlords receive property income.

    Parameters
    ----------
    people : pandas.DataFrame
        People of a chunk with their means.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    pandas.DataFrame
        Columns person, month, income_type, payer (code into ``payer_refs()``,
        -1 for none), amount.
    """
    last = TAX_MONTHS - 1
    has_nino = people["nino"].notna().to_numpy()
    everyone = np.arange(len(people))

    worker = np.flatnonzero(has_nino & people["employed"].to_numpy())
    p_person, p_month = _monthly(worker, people["job_start_month"].to_numpy()[worker],
                                 people["job_end_month"].to_numpy()[worker])
    n = len(p_person)
    base = people["paye_monthly"].to_numpy()[p_person]
    bonus = np.where(rng.random(n) < 0.04, rng.uniform(1.3, 2.0, n), 1.0)
    paye = base * month_factor(people["pay_volatility"].to_numpy()[p_person], n, rng) * bonus
    second = people["second_employer"].to_numpy()[p_person]
    moved_job = (second >= 0) & (p_month >= people["job_change_month"].to_numpy()[p_person])
    employer = np.where(moved_job, second, people["employer"].to_numpy()[p_person])
    correction = rng.random(n) < 0.002

    trader = np.flatnonzero(has_nino & (people["se_monthly"].to_numpy() > 0))
    s_person, s_month = _monthly(trader, np.zeros(len(trader), np.int64), np.full(len(trader), last))
    se = people["se_monthly"].to_numpy()[s_person] * month_factor(SELF_EMPLOYMENT_VOLATILITY, len(s_person), rng)

    capital = people["capital"].to_numpy() + people["disregarded_capital"].to_numpy()
    saver = np.flatnonzero(has_nino & (capital >= 500))
    i_person, i_month = _monthly(saver, people["capital_from_month"].to_numpy()[saver],
                                 people["capital_until_month"].to_numpy()[saver])
    every = people["interest_every"].to_numpy()[i_person]
    paid = (i_month % every) == every - 1
    i_person, i_month, every = i_person[paid], i_month[paid], every[paid]
    interest = (capital[i_person] * people["interest_rate"].to_numpy()[i_person]
                / 12 * every * rng.uniform(0.97, 1.03, len(i_person)))

    landlord = everyone[has_nino & (people["property_monthly"].to_numpy() > 0)]
    r_person, r_month = _monthly(landlord, np.zeros(len(landlord), np.int64), np.full(len(landlord), last))
    rent = people["property_monthly"].to_numpy()[r_person] * rng.uniform(0.9, 1.1, len(r_person))

    return pd.DataFrame({
        "person": np.concatenate([p_person, p_person[correction], s_person, i_person, r_person]),
        "month": np.concatenate([p_month, p_month[correction], s_month, i_month, r_month]),
        "income_type": np.concatenate([
            np.full(n + correction.sum(), PAYE), np.full(len(s_person), SELF_EMPLOYMENT),
            np.full(len(i_person), SAVINGS_INTEREST), np.full(len(r_person), PROPERTY)]),
        "payer": np.concatenate([
            employer, employer[correction], np.full(len(s_person), -1),
            EMPLOYERS + people["bank"].to_numpy()[i_person], np.full(len(r_person), -1)]),
        "amount": np.round(np.concatenate([
            paye, -rng.uniform(10, 200, correction.sum()), se, interest, rent]), 2),
    })
