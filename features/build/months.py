"""Tax months and the as-of date of a build, and the error a build raises."""

from __future__ import annotations

import calendar
import datetime as dt
import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

NO_TAX_RECORDS_ERROR = "cannot choose an as-of date: table tax_records has no rows in column period"
BAD_PERIOD_ERROR = "table tax_records, column period: {value!r} is not a YYYY-MM month"

class FeatureBuildError(ValueError):
    """The inputs cannot give a feature table."""


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
