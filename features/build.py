"""The feature table: one row per live subject, built across sources.

A *subject* is every benefit claim and every housing claim live on the as-of date.
For each, :func:`build_features` gathers context from the other sources — tax
records (by the NINOs of the subject's person), the electoral register and other
claims at the same address, other claims sharing a bank account, phone or e-mail,
the same person's claims elsewhere, and peers (same local authority, bedrooms and property type,
same benefit and household) — and then computes every model feature declared in
:mod:`features.definitions` from exactly the context columns it declares.

Everything is vectorised (factorised keys, ``bincount``, ``groupby`` and ``merge``);
nothing loops over rows. Protected characteristics (``equality_monitoring``) and
dates of birth are never read here: people are already linked in ``links``.

Neutral values: a feature that does not apply to a subject's type, or whose data is
missing (no NINO known, no peer group, no token), takes its declared neutral value
(0 for every current feature), so the model columns never hold NaN.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from configs.settings import Settings
from features.contract import Extract
from features.definitions import FEATURES, SUBJECT_TYPES, context_columns, feature_names
from features.linking import normalise_name, normalise_nino, normalise_postcode, normalise_uprn

logger = logging.getLogger(__name__)

KEY_COLUMNS: tuple[str, ...] = (
    "subject_ref",
    "subject_type",
    "person_key",
    "address_key",
    "bank_account_token",
    "phone_token",
    "email_token",
)
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
ARRIVAL_TOLERANCE = np.timedelta64(92, "D")
"""People registering up to this long before the claimant's arrival count as arriving with them."""
MAX_TOKEN_HOLDERS = 50
"""A bank account, phone or e-mail held by more people is counted without pairing its holders."""
LIVING_ALONE_SCHEME = "single_person_discount"
"""The housing scheme whose only condition is that no other adult lives at the address."""
SHARED_HOUSE = "hmo"
"""The address register's property type of a house in multiple occupation, whose rooms change hands often."""
STARTED_TOGETHER = np.timedelta64(31, "D")
"""Claims starting within this long of each other were made together."""

NO_TAX_RECORDS_ERROR = "cannot choose an as-of date: table tax_records has no rows in column period"
BAD_PERIOD_ERROR = "table tax_records, column period: {value!r} is not a YYYY-MM month"


class FeatureBuildError(ValueError):
    """The inputs cannot give a feature table."""


# --------------------------------------------------------------------------- dates


def _month_number(year: np.ndarray | int, month: np.ndarray | int) -> np.ndarray | int:
    """Months since year 0, so consecutive months differ by one."""
    return year * 12 + (month - 1)


def _period_months(period: pd.Series) -> np.ndarray:
    """Month numbers of a ``period`` column (``YYYY-MM`` strings or dates)."""
    codes, uniques = pd.factorize(period, sort=False)
    if len(uniques) == 0:
        return np.zeros(len(period), dtype=np.int64)
    if pd.api.types.is_datetime64_any_dtype(uniques.dtype):
        parsed = pd.DatetimeIndex(uniques)
    else:
        parsed = pd.to_datetime(pd.Index(uniques).astype(str), format="%Y-%m", errors="coerce")
        if parsed.isna().any():
            raise FeatureBuildError(BAD_PERIOD_ERROR.format(value=uniques[np.flatnonzero(parsed.isna())[0]]))
    numbers = _month_number(parsed.year.to_numpy(np.int64), parsed.month.to_numpy(np.int64))
    return np.asarray(numbers, dtype=np.int64)[codes]


def _date_months(dates: pd.Series) -> np.ndarray:
    values = pd.DatetimeIndex(dates)
    return np.asarray(_month_number(values.year.to_numpy(np.int64), values.month.to_numpy(np.int64)))


AS_OF_FAIR_SHARE = 0.1
"""The default as-of month is the latest holding at least this share of a typical (median) month's tax
records: a handful of rows dated later (a typo, a test row) must not move the date everyone is judged at."""


def resolve_as_of(tax_records: pd.DataFrame, as_of: dt.date | None = None) -> dt.date:
    """The run's as-of date: ``as_of`` if given, else the last day of the latest well-filled tax month.

    A month is well filled when it holds at least :data:`AS_OF_FAIR_SHARE` of the median month's
    records; later months holding fewer are named in a warning and otherwise ignored here.

    Parameters
    ----------
    tax_records : DataFrame
        With a ``period`` column (``YYYY-MM`` strings or dates).
    as_of : date, optional
        An explicit date wins.

    Examples
    --------
    >>> resolve_as_of(pd.DataFrame({"period": ["2025-11", "2026-02", "2025-12"]}))
    datetime.date(2026, 2, 28)
    >>> resolve_as_of(pd.DataFrame({"period": ["2026-01"] * 50 + ["2026-02"] * 40 + ["2099-12"]}))
    datetime.date(2026, 2, 28)
    """
    if as_of is not None:
        return pd.Timestamp(as_of).date()
    if len(tax_records) == 0:
        raise FeatureBuildError(NO_TAX_RECORDS_ERROR)
    months, counts = np.unique(_period_months(tax_records["period"]), return_counts=True)
    filled = counts >= AS_OF_FAIR_SHARE * np.median(counts)
    latest = int(months[filled].max())
    if latest != months.max():
        later = [f"{_month_text(month)} ({count:,} records)" for month, count in zip(months, counts, strict=True)
                 if month > latest]
        logger.warning("as-of date: the end of %s, the latest month holding at least %.0f%% of a typical month's "
                       "%s tax records; later months ignored for it: %s", _month_text(latest),
                       100 * AS_OF_FAIR_SHARE, f"{int(np.median(counts)):,}", ", ".join(later))
    year, month0 = divmod(latest, 12)
    month = month0 + 1
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _month_text(month_number: int) -> str:
    year, month0 = divmod(int(month_number), 12)
    return f"{year:04d}-{month0 + 1:02d}"


# --------------------------------------------------------------------------- keys


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer codes (-1 = missing) and the distinct values, in order of first appearance."""
    codes, uniques = pd.factorize(values.astype("str"))
    return codes.astype(np.int64), pd.Series(uniques, dtype="str")


def _codes(*columns: pd.Series) -> tuple[list[np.ndarray], int]:
    """Integer codes shared by equal values across ``columns`` (-1 = missing), and the number of values."""
    joined = pd.concat([column.astype("str").reset_index(drop=True) for column in columns], ignore_index=True)
    codes, uniques = _factorize(joined)
    return np.split(codes, np.cumsum([len(column) for column in columns])[:-1]), len(uniques)


def _at(values: np.ndarray, codes: np.ndarray, missing: Any = -1) -> np.ndarray:
    """``values[codes]`` with ``missing`` where a code is -1."""
    if len(values) == 0:
        return np.full(len(codes), missing)
    return np.where(codes >= 0, values[np.maximum(codes, 0)], missing)


def _first_rows(codes: np.ndarray, count: int) -> np.ndarray:
    """For each code 0..count-1, the first row holding it (-1 when none)."""
    first = np.full(count, -1, dtype=np.int64)
    rows = np.flatnonzero(codes >= 0)[::-1]
    first[codes[rows]] = rows  # written last to first, so the first row wins
    return first


def _positions(keys: pd.Series, targets: pd.Series) -> np.ndarray:
    """For each target, the position of the first equal value in ``keys``; -1 when absent or missing."""
    (key_codes, target_codes), count = _codes(keys, targets)
    return _at(_first_rows(key_codes, count), target_codes)


def _take(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """``values`` at ``positions`` (fresh index); missing where a position is -1."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(_at(values.to_numpy(np.float64), positions, np.nan))
    return pd.Series(values.astype("str").array.take(positions, allow_fill=True))


def _recode(codes: np.ndarray, distinct: pd.Series, function: Any) -> tuple[np.ndarray, pd.Series]:
    """Apply ``function`` to each distinct value once; codes of equal results are merged.

    String normalisation costs per value, so it runs on the distinct values, not the rows.
    """
    result_codes, results = _factorize(function(distinct))
    return _at(result_codes, codes), results


def _is_in(values: pd.Series, options: tuple[str, ...]) -> np.ndarray:
    """Whether each value is one of ``options`` (an Arrow kernel: no Python call per row)."""
    array = pa.array(values.astype("str").array)
    found = pc.is_in(array, value_set=pa.array(options).cast(array.type))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False).astype(bool)


def _pair(first: np.ndarray, second: np.ndarray, second_count: int) -> np.ndarray:
    """One int64 key per (first, second) code pair; -1 where either is missing."""
    return np.where((first >= 0) & (second >= 0), first * np.int64(max(second_count, 1)) + second, -1)


def _alone_where_missing(keys: np.ndarray) -> np.ndarray:
    """``keys`` with each missing (-1) one made distinct: a row with no key shares it with none."""
    return np.where(keys >= 0, keys, -1 - np.arange(len(keys)))


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct non-missing keys (hash based: faster than sorting here)."""
    unique = pd.unique(keys)
    return unique[unique >= 0]


def _distinct_count(first: np.ndarray, second: np.ndarray, second_count: int, first_count: int) -> np.ndarray:
    """For each code ``0..first_count-1`` of ``first``, how many distinct codes of ``second`` it is paired with."""
    return np.bincount(_distinct(_pair(first, second, second_count)) // max(second_count, 1), minlength=first_count)


TOKEN_COLUMNS: tuple[str, ...] = ("bank_account_token", "phone_token", "email_token")


@dataclass(frozen=True)
class _Keys:
    """Integer codes of people, addresses, surnames and tokens, shared across tables (-1 = missing).

    ``claim_*`` arrays are aligned with the rows of :func:`_claims`, ``elector_*`` with the current
    electors; ``person_keys`` / ``address_keys`` give the string key of each code. People, addresses
    and NINOs (``claim_nino``, normalised) are those of ``links``: linking defines them once.
    """

    claim_person: np.ndarray
    elector_person: np.ndarray
    person_keys: pd.Series
    claim_address: np.ndarray
    elector_address: np.ndarray
    address_keys: pd.Series
    claim_surname: np.ndarray
    elector_surname: np.ndarray
    claim_register_row: np.ndarray
    claim_tokens: dict[str, np.ndarray]
    claim_nino: pd.Series

    @property
    def people(self) -> int:
        return len(self.person_keys)

    @property
    def addresses(self) -> int:
        return len(self.address_keys)


def _link_rows(links: pd.DataFrame, records: list[tuple[str, pd.Series]]) -> list[np.ndarray]:
    """For each table's records, the row of ``links`` that holds each (-1 for a record it does not hold)."""
    link_table = links["table"].astype("str").to_numpy()
    rows = []
    for table, refs in records:
        in_table = np.flatnonzero(link_table == table)
        rows.append(_at(in_table, _positions(links["record_ref"].iloc[in_table], refs)))
    return rows


def _person_codes(links: pd.DataFrame, link_rows: list[np.ndarray],
                  records: list[tuple[str, pd.Series]]) -> tuple[list[np.ndarray], pd.Series]:
    """Person codes of each table's records from ``links``; an unlinked record is a person of its own."""
    link_codes, person_keys = _factorize(links["person_key"])
    codes_per_table, unlinked = [], []
    count = len(person_keys)
    for rows, (table, refs) in zip(link_rows, records, strict=True):
        codes = _at(link_codes, rows)
        missing = np.flatnonzero(codes < 0)
        codes[missing] = count + np.arange(len(missing))
        count += len(missing)
        unlinked.append(table + ":" + refs.iloc[missing].astype("str"))
        codes_per_table.append(codes)
    return codes_per_table, pd.concat([person_keys, *unlinked], ignore_index=True).astype("str")


def _linked(links: pd.DataFrame, column: str, link_rows: list[np.ndarray]) -> list[pd.Series]:
    """``column`` of ``links`` for each table's records (missing for a record ``links`` does not hold)."""
    values = links[column].astype("str")
    return [_take(values, rows) for rows in link_rows]


def _encode(extract: Extract, links: pd.DataFrame, electors: pd.DataFrame) -> _Keys:
    """Codes of the keys of every claim (benefit claims, then housing claims) and current elector."""
    benefit, housing, register = extract.benefit_claims, extract.housing_claims, extract.address_register
    records = [("benefit_claims", benefit["claim_id"]), ("housing_claims", housing["housing_claim_id"]),
               ("electoral_register", electors["elector_id"])]
    link_rows = _link_rows(links, records)  # looked up once for the people, addresses and NINOs
    (benefit_person, housing_person, elector_person), person_keys = _person_codes(links, link_rows, records)

    # addresses and NINOs as linking defined them; address register rows keyed by their UPRN alike
    benefit_address, housing_address, elector_address = _linked(links, "address_key", link_rows)
    address_codes, address_keys = _factorize(
        pd.concat([benefit_address, housing_address, elector_address, normalise_uprn(register["uprn"])],
                  ignore_index=True)
    )
    claims_count = len(benefit) + len(housing)
    claim_address, elector_address, register_address = np.split(
        address_codes, [claims_count, claims_count + len(electors)]
    )
    benefit_nino, housing_nino, _ = _linked(links, "nino", link_rows)

    surname_codes, surnames = _factorize(
        pd.concat([benefit["surname"], housing["surname"], electors["surname"]], ignore_index=True)
    )
    surname_codes, _ = _recode(surname_codes, surnames, normalise_name)

    no_token = pd.Series(np.nan, index=housing.index, dtype="str")
    tokens = {
        token: _factorize(pd.concat([benefit[token], no_token], ignore_index=True))[0] for token in TOKEN_COLUMNS
    }
    return _Keys(
        claim_person=np.concatenate([benefit_person, housing_person]),
        elector_person=elector_person,
        person_keys=person_keys,
        claim_address=claim_address,
        elector_address=elector_address,
        address_keys=address_keys,
        claim_surname=surname_codes[:claims_count],
        elector_surname=surname_codes[claims_count:],
        claim_register_row=_at(_first_rows(register_address, len(address_keys)), claim_address),
        claim_tokens=tokens,
        claim_nino=pd.concat([benefit_nino, housing_nino], ignore_index=True),
    )


# --------------------------------------------------------------------------- claims


def _readable(codes: pd.Series) -> pd.Series:
    """An enum code as words: ``universal_credit`` → ``universal credit``."""
    return codes.astype("str").str.replace("_", " ", regex=False)


def _claims(extract: Extract, keys: _Keys) -> pd.DataFrame:
    """Benefit and housing claims in one frame with shared column names (benefit claims first)."""
    benefit, housing, register = extract.benefit_claims, extract.housing_claims, extract.address_register
    benefit_count = len(benefit)
    benefit_row = keys.claim_register_row[:benefit_count]
    # a claim without a UPRN takes the local authority of its postcode in the address register
    register_postcodes = _recode(*_factorize(register["postcode"]), normalise_postcode)
    benefit_postcodes = _recode(*_factorize(benefit["postcode"]), normalise_postcode)
    postcode_row = _at(
        _first_rows(register_postcodes[0], len(register_postcodes[1])),
        _at(_positions(register_postcodes[1], benefit_postcodes[1]), benefit_postcodes[0]),
    )
    benefit_la = _take(register["la_code"], benefit_row).fillna(_take(register["la_code"], postcode_row))
    no_value = pd.Series(np.nan, index=housing.index, dtype="str")

    benefit_frame = pd.DataFrame(
        {
            "subject_ref": benefit["claim_id"].astype("str"),
            "subject_type": "benefit_claim",
            "bank_account_token": benefit["bank_account_token"].astype("str"),
            "phone_token": benefit["phone_token"].astype("str"),
            "email_token": benefit["email_token"].astype("str"),
            "kind": benefit["benefit_type"].astype("str"),
            "start": pd.to_datetime(benefit["claim_start"]),
            "end": pd.to_datetime(benefit["claim_end"]),
            "la_code": benefit_la.set_axis(benefit.index),
            "bedrooms": _take(register["bedrooms"], benefit_row).set_axis(benefit.index),
            "property_type": _take(register["property_type"], benefit_row).set_axis(benefit.index),
            "declared_monthly_earnings": benefit["declared_monthly_earnings"].astype("float64"),
            "declared_savings": benefit["declared_savings"].astype("float64"),
            "declared_partner": benefit["declared_partner"].astype("float64"),
            "capital_rules_apply": _is_in(benefit["benefit_type"], CAPITAL_TESTED_BENEFITS).astype("float64"),
            "living_alone_discount": 0.0,
            "declared_adults": benefit["adults_in_household"].astype("float64"),
            "declared_occupants": np.nan,
            "declared_household": (benefit["adults_in_household"] + benefit["children_in_household"]).astype("float64"),
            "housing_cost": benefit["monthly_housing_costs"].astype("float64"),
        }
    )
    housing_frame = pd.DataFrame(
        {
            "subject_ref": housing["housing_claim_id"].astype("str"),
            "subject_type": "housing_claim",
            "bank_account_token": no_value,
            "phone_token": no_value,
            "email_token": no_value,
            "kind": housing["scheme"].astype("str"),
            "start": pd.to_datetime(housing["start_date"]),
            "end": pd.to_datetime(housing["end_date"]),
            "la_code": housing["la_code"].astype("str"),
            "bedrooms": _take(register["bedrooms"], keys.claim_register_row[benefit_count:]).set_axis(housing.index),
            "property_type": _take(register["property_type"], keys.claim_register_row[benefit_count:]).set_axis(housing.index),
            "declared_monthly_earnings": np.nan,
            "declared_savings": np.nan,
            "declared_partner": np.nan,
            "capital_rules_apply": np.nan,
            "living_alone_discount": _is_in(housing["scheme"], (LIVING_ALONE_SCHEME,)).astype("float64"),
            "declared_adults": housing["occupants_declared"].astype("float64"),
            "declared_occupants": housing["occupants_declared"].astype("float64"),
            "declared_household": housing["occupants_declared"].astype("float64"),
            "housing_cost": housing["monthly_rent"].astype("float64"),
        }
    )
    return pd.concat([benefit_frame, housing_frame], ignore_index=True)


def _live(claims: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Claims started on or before ``as_of`` and not ended by then."""
    return ((claims["start"] <= as_of) & (claims["end"].isna() | (claims["end"] > as_of))).to_numpy()


def _latest_registrations(electors: pd.DataFrame, elector_person: np.ndarray) -> np.ndarray:
    """Rows of each person's latest registration (ties on the date: the larger elector_id), in row order.

    The register has no end dates: a person registered at a new address has left the old one.
    """
    elector_rank = np.empty(len(electors), dtype=np.int64)
    elector_rank[electors["elector_id"].argsort().to_numpy()] = np.arange(len(electors))
    order = np.lexsort((elector_rank, electors["registered_from"].to_numpy("datetime64[ns]"), elector_person))
    ordered_person = elector_person[order]
    last = order[np.r_[ordered_person[1:] != ordered_person[:-1], True]] if len(order) else order
    return np.sort(last)


def _registered_electors(extract: Extract, as_of: pd.Timestamp) -> pd.DataFrame:
    """Electors registered on or before the as-of date."""
    register = extract.electoral_register
    current = register.loc[pd.to_datetime(register["registered_from"]) <= as_of]
    return pd.DataFrame(
        {
            "elector_id": current["elector_id"].astype("str"),
            "uprn": current["uprn"].astype("str"),
            "surname": current["surname"].astype("str"),
            "registered_from": pd.to_datetime(current["registered_from"]).to_numpy("datetime64[ns]"),
        }
    )


# --------------------------------------------------------------------------- tax


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


# --------------------------------------------------------------------------- address


@dataclass(frozen=True)
class _Subjects:
    """Key codes of the subjects (live claims, in table order)."""

    person: np.ndarray
    address: np.ndarray
    surname: np.ndarray
    tokens: dict[str, np.ndarray]


def _arrival(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame, keys: _Keys) -> np.ndarray:
    """When each claimant arrived at the claimed address: the claim start, or their own registration there when earlier."""
    registered_from = electors["registered_from"].to_numpy("datetime64[ns]")
    latest = np.full(keys.people, -1, dtype=np.int64)
    latest[keys.elector_person] = np.arange(len(electors))  # one (latest) registration per person
    own = _at(latest, subject.person)
    own_here = (own >= 0) & (_at(keys.elector_address, own) == subject.address) & (subject.address >= 0)
    own_from = _at(registered_from, np.where(own_here, own, -1), np.datetime64("NaT", "ns"))
    start = subjects["start"].to_numpy("datetime64[ns]")
    return np.where(own_here & (own_from < start), own_from, start)


def _registered_at_arrival(subjects: pd.DataFrame, arrival: np.ndarray) -> np.ndarray:
    """Whether the arrival is the claimant's own registration at the address (earlier than the claim start)."""
    return arrival < subjects["start"].to_numpy("datetime64[ns]")


def _address_context(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame, keys: _Keys,
                     earning: np.ndarray, moved_from_elsewhere: np.ndarray, arrival: np.ndarray) -> pd.DataFrame:
    """Who else is registered, and who of them earns, at each subject's address since the claimant arrived;
    and who else holds a live claim there.

    The register keeps stale entries (earlier occupants who never re-registered, adult
    children long gone), so only people whose latest registration at the address dates
    from the claimant's arrival (less :data:`ARRIVAL_TOLERANCE`) count as living there now.
    The arrival is the claim start, or the claimant's own registration at the address when earlier.
    Those registering within the tolerance either side of the arrival moved in with the
    claimant (a household registers over a few weeks); the others moved in later, and of those,
    the ones registered before at another address (``moved_from_elsewhere``, per person) came
    from another home, unlike a child of the household coming of age.
    """
    index = subjects.index
    registered_from = electors["registered_from"].to_numpy("datetime64[ns]")
    asking = pd.DataFrame({"row": np.arange(len(index)), "address": subject.address, "person": subject.person,
                           "since": arrival - ARRIVAL_TOLERANCE})
    asking = asking.loc[subject.address >= 0]
    residents = pd.DataFrame({"address": keys.elector_address, "other": keys.elector_person,
                              "registered_from": registered_from})
    pairs = asking.merge(residents.loc[residents["address"] >= 0], on="address")
    pairs = pairs.loc[(pairs["other"] != pairs["person"]) & (pairs["registered_from"] >= pairs["since"])]
    rows = pairs["row"].to_numpy(np.int64)
    later = (pairs["registered_from"] > pairs["since"] + 2 * ARRIVAL_TOLERANCE).to_numpy()

    def per_subject(weights: np.ndarray) -> np.ndarray:
        return np.bincount(rows, weights=weights.astype(np.float64), minlength=len(index))

    # people with live claims at each address (the subjects are the live claims), the claimant aside
    claimants_here = _at(_distinct_count(subject.address, subject.person, keys.people, keys.addresses),
                         subject.address, 1)

    return pd.DataFrame(
        {
            "claimant_arrival": arrival,
            "claimant_registered_at_arrival": _registered_at_arrival(subjects, arrival).astype(np.float64),
            "other_registered_adults": per_subject(np.ones(len(rows))),
            "adults_moved_in_with_claimant": per_subject(~later),
            "adults_moved_in_later": per_subject(later),
            "adults_moved_in_later_from_elsewhere": per_subject(later & moved_from_elsewhere[pairs["other"].to_numpy(np.int64)]),
            "other_earning_adults": per_subject(earning[pairs["other"].to_numpy(np.int64)]),
            "other_claimants_at_address": (claimants_here - 1).astype(np.float64),
            "shared_house": (subjects["property_type"] == SHARED_HOUSE).to_numpy(np.float64),
        },
        index=index,
    )


def _possible_partners(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame, keys: _Keys,
                       arrival: np.ndarray) -> pd.Series:
    """Other people at a benefit claim's address sharing its surname, or a token on a live claim there.

    Registrations from before the claimant's arrival (less :data:`ARRIVAL_TOLERANCE`) are
    stale entries of earlier occupants, not partners; live claims at the address always count.
    """
    named = pd.DataFrame(
        {
            "address": np.concatenate([keys.elector_address, subject.address]),
            "surname": np.concatenate([keys.elector_surname, subject.surname]),
            "other": np.concatenate([keys.elector_person, subject.person]),
            "since": np.concatenate([electors["registered_from"].to_numpy("datetime64[ns]"),
                                     np.full(len(subject.person), np.datetime64("NaT", "ns"))]),
        }
    )
    named = named.loc[(named["address"] >= 0) & (named["surname"] >= 0)].drop_duplicates()
    asking = pd.DataFrame(
        {"row": np.arange(len(subjects)), "address": subject.address, "surname": subject.surname,
         "person": subject.person, "arrival": arrival - ARRIVAL_TOLERANCE}
    ).loc[(subjects["subject_type"] == "benefit_claim").to_numpy() & (subject.address >= 0)]
    by_name = asking.merge(named, on=["address", "surname"])
    by_name = by_name.loc[by_name["since"].isna() | (by_name["since"] >= by_name["arrival"])]
    matches = [by_name[["row", "person", "other"]]]
    for token in TOKEN_COLUMNS:
        holders = pd.DataFrame({"address": subject.address, "token": subject.tokens[token], "other": subject.person})
        holders = holders.loc[(holders["token"] >= 0) & (holders["address"] >= 0)].drop_duplicates()
        asking_token = asking.assign(token=subject.tokens[token][asking["row"].to_numpy()])
        matches.append(asking_token.merge(holders, on=["address", "token"])[["row", "person", "other"]])
    pairs = pd.concat(matches)
    pairs = pairs.loc[pairs["person"] != pairs["other"]]
    counts = _distinct_count(pairs["row"].to_numpy(np.int64), pairs["other"].to_numpy(np.int64), keys.people,
                             len(subjects)).astype(np.float64)
    return pd.Series(counts, index=subjects.index, name="possible_partners")


def _sharing_context(subject: _Subjects, keys: _Keys, recent: np.ndarray, claim_start: np.ndarray,
                     subject_start: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Other people, claiming from other addresses, whose recent benefit claims share a subject's details.

    People at the subject's own address (a household sharing an account or a phone) do not count.
    A phone or e-mail shared by more than ``MAX_TOKEN_HOLDERS`` people is counted without that
    exclusion, so a very common token cannot multiply pairs. Besides the counts per kind of detail
    (bank account; phone or e-mail), it counts the people sharing two or more of the three details:
    one shared detail has honest causes (an appointee's account, a support worker's phone), several
    at once rarely do; and the people sharing any detail whose claim started within
    ``STARTED_TOGETHER`` of the subject's (``claim_start`` of every claim, ``subject_start``
    of the subjects): an appointee or a support worker takes claimants on one at a time, a group
    making claims together does not.
    """
    holders = pd.DataFrame({"person": keys.claim_person[recent], "address": keys.claim_address[recent],
                            "start": claim_start[recent]})
    asking = pd.DataFrame({"row": np.arange(len(index)), "person": subject.person, "address": subject.address,
                           "start": subject_start})
    pairs, together, crowded = {}, {}, {}
    for token in ("bank_account_token", "phone_token", "email_token"):
        codes = keys.claim_tokens[token]
        held = holders.assign(token=codes[recent]).loc[lambda frame: frame["token"] >= 0].drop_duplicates()
        people_per_token = _distinct_count(held["token"].to_numpy(), held["person"].to_numpy(), keys.people,
                                           codes.max(initial=-1) + 1)
        subject_people = _at(people_per_token, subject.tokens[token], 0)
        crowded[token] = np.where(subject_people > MAX_TOKEN_HOLDERS, subject_people - 1, 0)
        small = held.loc[people_per_token[held["token"].to_numpy()] <= MAX_TOKEN_HOLDERS]
        found = (
            asking.assign(token=subject.tokens[token]).loc[lambda frame: frame["token"] >= 0]
            .merge(small, on="token", suffixes=("", "_other"))
            .loc[lambda frame: (frame["person"] != frame["person_other"]) & (frame["address"] != frame["address_other"])]
        )
        pairs[token] = _distinct(_pair(found["row"].to_numpy(np.int64), found["person_other"].to_numpy(np.int64),
                                       keys.people))
        close = found.loc[(found["start"] - found["start_other"]).abs() <= STARTED_TOGETHER]
        together[token] = _distinct(_pair(close["row"].to_numpy(np.int64), close["person_other"].to_numpy(np.int64),
                                          keys.people))

    def others(kinds: list[np.ndarray], at_least: int = 1) -> np.ndarray:
        """Per subject, the other people found in at least ``at_least`` of the pair sets ``kinds``."""
        every, times = np.unique(np.concatenate(kinds), return_counts=True)
        return np.bincount(every[times >= at_least] // max(keys.people, 1), minlength=len(index)).astype(np.float64)

    contact = [pairs["phone_token"], pairs["email_token"]]
    return pd.DataFrame(
        {
            "others_sharing_bank_account": np.maximum(others([pairs["bank_account_token"]]),
                                                      crowded["bank_account_token"]),
            "others_sharing_contact": np.maximum(others(contact),
                                                 np.maximum(crowded["phone_token"], crowded["email_token"])),
            "others_sharing_several_details": others([pairs["bank_account_token"], *contact], at_least=2),
            "others_sharing_started_together": others(list(together.values())),
        },
        index=index,
    )


def _claims_at_other_addresses(keyed: pd.DataFrame, asking: np.ndarray, same_kind: bool) -> pd.DataFrame:
    """Pairs of an ``asking`` row of ``keyed`` (``row``, ``person``, ``kind``, ``address``, ``ref``) and a claim
    of the same person, of the same kind or of another kind, at another address; by row, then other ref."""
    on = ["person", "kind"] if same_kind else ["person"]
    pairs = keyed.loc[asking].merge(keyed, on=on, suffixes=("", "_other"))
    elsewhere = pairs["address"] != pairs["address_other"]
    if not same_kind:
        elsewhere &= pairs["kind"] != pairs["kind_other"]
    return pairs.loc[elsewhere].sort_values(["row", "ref_other"])


def _first_refs(pairs: pd.DataFrame, index: pd.Index) -> pd.Series:
    """Per subject row, the first three other references of ``pairs`` joined by commas (missing if none)."""
    refs = pd.Series(np.nan, index=index, dtype="str")
    if len(pairs):
        first = pairs.loc[pairs.groupby("row").cumcount().to_numpy() < 3]
        joined = first.groupby("row")["ref_other"].agg(", ".join)
        refs.iloc[joined.index.to_numpy()] = joined.to_numpy()
    return refs


def _elsewhere_context(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame,
                       keys: _Keys, registered_homes: np.ndarray) -> pd.DataFrame:
    """The same person's live claims at other addresses, of the same kind and of other kinds, and a latest
    registration elsewhere.

    The same benefit or scheme for two homes at once is the plainest anomaly; a claim of another kind
    giving another address (a tenant's benefit claim made from where they really live) is two sources
    disagreeing about where the person lives, which the detector weighs by how rare it is in the extract.
    Of those other claims it also counts the ones at an address where the person has never
    registered to vote (``registered_homes``: distinct person-address pair keys of every
    registration up to the as-of date): two people who share a name and date of birth each
    live where they claim, a second claim for a home one does not live in does not.
    """
    person, address = subject.person, subject.address
    kind, kinds = _factorize(subjects["subject_type"] + ":" + subjects["kind"].fillna(""))
    claimant = pd.factorize(_pair(person, kind, len(kinds)))[0]
    per_claimant = np.bincount(claimant)[claimant]
    place_codes, _ = pd.factorize(_alone_where_missing(_pair(claimant, address, keys.addresses)))
    per_place = np.bincount(place_codes)[place_codes]
    elsewhere = (per_claimant - per_place).astype(np.float64)
    per_person = np.bincount(person, minlength=keys.people)[person]
    person_place, _ = pd.factorize(_alone_where_missing(_pair(person, address, keys.addresses)))
    any_elsewhere = (per_person - np.bincount(person_place)[person_place]).astype(np.float64)

    keyed = pd.DataFrame({"row": np.arange(len(subjects)), "person": person, "kind": kind, "address": address,
                          "ref": subjects["subject_ref"].to_numpy()})
    same_kind = _claims_at_other_addresses(keyed, elsewhere > 0, same_kind=True)
    other_kind = _claims_at_other_addresses(keyed, any_elsewhere > elsewhere, same_kind=False)
    other_home = _pair(person[same_kind["row_other"].to_numpy()], same_kind["address_other"].to_numpy(), keys.addresses)
    unregistered = same_kind.loc[~np.isin(other_home, registered_homes), "row"].to_numpy()

    latest = np.full(keys.people, -1, dtype=np.int64)
    latest[keys.elector_person] = np.arange(len(electors))  # one (latest) registration per person
    registered_from = electors["registered_from"].to_numpy("datetime64[ns]")
    latest_of_subject = _at(latest, person)
    moved = (latest_of_subject >= 0) & (_at(keys.elector_address, latest_of_subject) != address)
    shown = np.where(moved, latest_of_subject, -1)
    return pd.DataFrame(
        {
            "claims_elsewhere": elsewhere,
            "any_claims_elsewhere": any_elsewhere,
            "claims_elsewhere_refs": _first_refs(same_kind, subjects.index),
            "claims_elsewhere_unregistered": np.bincount(unregistered, minlength=len(subjects)).astype(np.float64),
            "other_kind_claims_elsewhere": any_elsewhere - elsewhere,
            "other_kind_claims_elsewhere_refs": _first_refs(other_kind, subjects.index),
            "registered_elsewhere": moved.astype(np.float64),
            "registered_elsewhere_address": ("UPRN " + _take(electors["uprn"], shown)).to_numpy(),
            "registered_elsewhere_from": _at(registered_from, shown, np.datetime64("NaT", "ns")),
        },
        index=subjects.index,
    )


# --------------------------------------------------------------------------- peers


def _groups(frame: pd.DataFrame, columns: list[str], describe: Any) -> tuple[np.ndarray, pd.Series]:
    """Group code of each row (-1 where a key is missing) and the words naming each group.

    ``columns`` are integer codes (-1 = missing); ``describe`` names a group from its first row.
    """
    key = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for column in columns:
        codes = frame[column].to_numpy(np.int64)
        missing |= codes < 0
        key = key * (codes.max(initial=0) + 1) + np.maximum(codes, 0)
    group, _ = pd.factorize(np.where(missing, -1, key))
    group = np.where(missing, -1, group).astype(np.int64)
    first = _first_rows(group, group.max(initial=-1) + 1)
    return group, describe(frame.iloc[first].reset_index(drop=True)).astype("str")


def _peer_median(values: pd.Series, levels: list[tuple[np.ndarray, pd.Series]],
                 min_peers: int) -> tuple[pd.Series, pd.Series]:
    """Median of the positive ``values`` over the first peer level with at least ``min_peers`` of them.

    Returns the median and the words naming the peer group, per row (missing where no level qualifies).
    """
    positive = values.where(values > 0).to_numpy(np.float64)
    median = np.full(len(values), np.nan)
    chosen = np.full(len(values), -1)
    for level, (codes, names) in enumerate(levels):
        stats = pd.Series(positive).groupby(codes).agg(["median", "count"])
        stats = stats.loc[(stats.index >= 0) & (stats["count"] >= min_peers), "median"]
        group_median = np.full(len(names), np.nan)
        group_median[stats.index.to_numpy(np.int64)] = stats.to_numpy()
        found = _at(group_median, codes, np.nan)
        take = np.isnan(median) & ~np.isnan(found)
        median = np.where(take, found, median)
        chosen = np.where(take, level, chosen)
    label = pd.Series(np.nan, index=values.index, dtype="str")
    for level, (codes, names) in enumerate(levels):
        rows = np.flatnonzero(chosen == level)
        label.iloc[rows] = names.array.take(codes[rows])
    return pd.Series(median, index=values.index), label


def _homes(frame: pd.DataFrame) -> pd.Series:
    """``homes`` for a benefit claim, ``homes on housing benefit`` etc. for a housing claim (rents differ by scheme)."""
    on_scheme = "homes on " + _readable(frame["kind"])
    return on_scheme.where(frame["subject_type"] == "housing_claim", "homes").astype("str")


def _bedrooms(frame: pd.DataFrame) -> pd.Series:
    return frame["bedrooms"].astype("int64").astype("str") + "-bedroom "


def _property_words(frame: pd.DataFrame) -> pd.Series:
    """`` (flat)``, `` (semi detached)``: the property type after the homes."""
    return " (" + _readable(frame["property_type"]) + ")"


def _other_source_context(subjects: pd.DataFrame, subject: _Subjects, keys: _Keys) -> pd.DataFrame:
    """For each claim, what the other source's live claims of the same person for the same home record.

    A benefit claim and a housing claim about one home are two sources for its housing cost and its
    household: a benefit claim is compared with the rent and occupants of the person's housing claims
    there, a housing claim with the housing costs and the adults and children of the person's benefit
    claims there. The highest of several is kept (a rent can be recorded under more than one scheme).
    """
    housing = (subjects["subject_type"] == "housing_claim").to_numpy()
    home = _pair(subject.person, subject.address, keys.addresses)

    def other_source(column: str) -> np.ndarray:
        values = subjects[column].to_numpy(np.float64)
        found = np.full(len(subjects), np.nan)
        for source in (housing, ~housing):
            recorded = source & (values > 0) & (home >= 0)
            highest = pd.Series(values[recorded]).groupby(home[recorded]).max()
            looked_up = pd.Series(home).map(highest).to_numpy(np.float64)
            found = np.where(~source & (home >= 0), looked_up, found)
        return found

    return pd.DataFrame(
        {"other_source_housing_cost": other_source("housing_cost"),
         "other_source_household": other_source("declared_household")},
        index=subjects.index,
    )


def _peer_context(subjects: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Median housing cost of live claims in the same local authority, bedrooms and property type.

    Rents differ by property type as much as by size (a room in a house in multiple
    occupation against a detached house), so the property type sharpens the cost norm.
    """
    frame = subjects[["subject_type", "la_code", "bedrooms", "property_type", "kind"]]
    housing = (frame["subject_type"] == "housing_claim").to_numpy()
    la = _factorize(frame["la_code"])[0]
    frame = frame.assign(
        type_code=housing.astype(np.int64),
        la_group=la,
        bedroom_group=frame["bedrooms"].fillna(-1).to_numpy(np.int64),
        property_group=_factorize(frame["property_type"])[0],
        # a social rent is set below the market rent, so a housing claim's rent is compared within its scheme
        scheme_group=np.where(housing, _factorize(frame["kind"])[0], 0),
    )
    min_peers = settings.features.min_peer_group
    housing_median, housing_label = _peer_median(
        subjects["housing_cost"],
        [
            _groups(frame, ["type_code", "scheme_group", "la_group", "bedroom_group", "property_group"],
                    lambda first: _bedrooms(first) + _homes(first) + _property_words(first) + " in " + first["la_code"]),
            _groups(frame, ["type_code", "scheme_group", "la_group", "bedroom_group"],
                    lambda first: _bedrooms(first) + _homes(first) + " in " + first["la_code"]),
            _groups(frame, ["type_code", "scheme_group", "la_group"],
                    lambda first: _homes(first) + " in " + first["la_code"]),
            _groups(frame, ["type_code", "scheme_group", "bedroom_group"],
                    lambda first: _bedrooms(first) + _homes(first) + " nationally"),
            _groups(frame, ["type_code", "scheme_group"], lambda first: "all " + _homes(first)),
        ],
        min_peers,
    )
    return pd.DataFrame(
        {
            "peer_housing_cost": housing_median,
            "housing_peer_group": housing_label,
        },
        index=subjects.index,
    )


# --------------------------------------------------------------------------- table


def build_features(extract: Extract, links: pd.DataFrame, as_of: dt.date, settings: Settings) -> pd.DataFrame:
    """One row per live subject: keys, model features (float64, no NaN), then context.

    Parameters
    ----------
    extract : features.contract.Extract
        The validated tables (``benefit_claims``, ``tax_records``, ``housing_claims``,
        ``address_register``, ``electoral_register``); ``equality_monitoring`` is never read.
    links : DataFrame
        ``table``, ``record_ref``, ``person_key`` for benefit claims, housing claims and electors.
    as_of : date
        Claims live on this date are the subjects (see :func:`resolve_as_of`).
    settings : Settings
        ``settings.features`` gives the windows, the interest rate and the peer group size.

    Returns
    -------
    DataFrame
        Columns :data:`KEY_COLUMNS`, then ``feature_names()``, then ``context_columns()``;
        sorted by ``subject_ref`` (then type), fresh index.
    """
    as_of_ts = pd.Timestamp(as_of)
    as_of_month = int(_month_number(as_of_ts.year, as_of_ts.month))
    window = settings.features.earnings_window_months
    first_month = as_of_month - window + 1
    window_start = pd.Timestamp(as_of_ts.year, as_of_ts.month, 1) - pd.DateOffset(months=window - 1)

    electors = _registered_electors(extract, as_of_ts)
    keys = _encode(extract, links, electors)
    registered_homes = _distinct(_pair(keys.elector_person, keys.elector_address, keys.addresses))
    # people registered at two or more addresses up to the as-of date came to their latest one from elsewhere
    moved_from_elsewhere = np.bincount(registered_homes // max(keys.addresses, 1), minlength=keys.people) > 1
    current = _latest_registrations(electors, keys.elector_person)
    electors = electors.iloc[current].reset_index(drop=True)
    keys = replace(keys, elector_person=keys.elector_person[current], elector_address=keys.elector_address[current],
                   elector_surname=keys.elector_surname[current])
    claims = _claims(extract, keys)

    live = np.flatnonzero(_live(claims, as_of_ts))
    # benefit claims come first in ``claims``, so a stable sort keeps ties in a fixed order
    rows = live[claims["subject_ref"].iloc[live].argsort(kind="stable").to_numpy()]
    subjects = claims.iloc[rows].reset_index(drop=True)
    subjects["person_key"] = _take(keys.person_keys, keys.claim_person[rows])
    subjects["address_key"] = _take(keys.address_keys, keys.claim_address[rows])
    subject = _Subjects(
        person=keys.claim_person[rows], address=keys.claim_address[rows], surname=keys.claim_surname[rows],
        tokens={token: codes[rows] for token, codes in keys.claim_tokens.items()},
    )
    recent = (
        (claims["subject_type"] == "benefit_claim")
        & (claims["start"] <= as_of_ts)
        & (claims["end"].isna() | (claims["end"] >= window_start))
    ).to_numpy()

    income = _person_income(extract.tax_records, keys, as_of_month, window)
    recent_months = min(settings.features.recent_months, window)
    # earning now: pay in the latest months, or periodic income reported for the window
    earning = (income.monthly[:, window - recent_months:].sum(axis=1) > 0) | (income.periodic.sum(axis=1) > 0)

    arrival = _arrival(subjects, subject, electors, keys)
    context = pd.concat(
        [
            subjects,
            _tax_context(subjects, subject.person, income, first_month, settings),
            _address_context(subjects, subject, electors, keys, earning, moved_from_elsewhere, arrival),
            _possible_partners(subjects, subject, electors, keys, arrival),
            _sharing_context(subject, keys, recent, claims["start"].to_numpy("datetime64[ns]"),
                             subjects["start"].to_numpy("datetime64[ns]"), subjects.index),
            _elsewhere_context(subjects, subject, electors, keys, registered_homes),
            _other_source_context(subjects, subject, keys),
            _peer_context(subjects, settings),
        ],
        axis=1,
    )

    model = {}
    subject_type = context["subject_type"].to_numpy(dtype=object)
    for spec in FEATURES:
        values = spec.compute(context[list(spec.context)]).astype("float64")
        applies = np.isin(subject_type, [kind for kind in SUBJECT_TYPES if spec.applies(kind)])
        values = values.where(applies & np.isfinite(values), spec.neutral)
        model[spec.name] = values.to_numpy(np.float64)
    table = pd.concat(
        [context[list(KEY_COLUMNS)], pd.DataFrame(model, index=context.index), context[list(context_columns())]], axis=1
    )
    logger.info("built %d features for %d live subjects as of %s", len(feature_names()), len(table), as_of_ts.date())
    return table
