"""Reasons in words: a feature's declared sentence filled with the subject's own values.

Every placeholder of a reason sentence is a context column declared in
:data:`features.definitions.CONTEXT`; its unit says how a person reads it: money as
"£1,450" (or "£1,450.50" when the pence matter), counts with their noun ("3 adults",
"1 adult"), months ("12 months"), dates ("3 March 2026"), rates ("3%"), flags
("yes"/"no"). A missing value reads "unknown". :func:`format_feature_value` writes a
feature's own value the same way, by the feature's unit.

Example
-------
>>> from features.definitions import FEATURES_BY_NAME
>>> render_reason(FEATURES_BY_NAME["earnings_gap"], {
...     "declared_monthly_earnings": 0.0, "tax_monthly_earnings": 1450.0, "window_months": 12,
...     "tax_lowest_recent_monthly_earnings": 1210.5, "recent_months": 3})
'Declared earnings £0 a month; tax records show £1,450 a month from employment and self-employment over the last 12 months of the claim, and at least £1,210.50 in each of the latest 3 months.'
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from features.definitions import CONTEXT, FeatureSpec, template_placeholders

UNKNOWN = "unknown"
UNKNOWN_CONTEXT_ERROR = "reason of feature {name!r}: context column {column!r} has no value in the row"


class ReasonError(KeyError):
    """A reason cannot be written: the row lacks a context column the sentence needs."""


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_money(value: float) -> str:
    """GBP for a person: whole pounds unless the pence matter.

    >>> format_money(1450), format_money(1450.5), format_money(-20.004)
    ('£1,450', '£1,450.50', '-£20')
    """
    pence = round(float(value) * 100)
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}" if rest == 0 else f"{sign}£{pounds:,}.{rest:02d}"


def format_count(value: float, noun: tuple[str, str] | None = None) -> str:
    """A whole count with its noun, singular for exactly one.

    >>> format_count(3, ("adult", "adults")), format_count(1, ("person", "people"))
    ('3 adults', '1 person')
    """
    count = int(round(float(value)))
    if noun is None:
        return f"{count:,}"
    return f"{count:,} {noun[0] if count == 1 else noun[1]}"


def format_months(value: float) -> str:
    """A number of months.

    >>> format_months(1), format_months(12)
    ('1 month', '12 months')
    """
    return format_count(value, ("month", "months"))


def format_date(value: dt.date | pd.Timestamp | str) -> str:
    """A date as written in a letter.

    >>> format_date(dt.date(2026, 3, 3))
    '3 March 2026'
    """
    day = pd.Timestamp(value)
    return f"{day.day} {day.strftime('%B')} {day.year}"


def format_percent(rate: float) -> str:
    """A rate given as a fraction.

    >>> format_percent(0.03), format_percent(0.025)
    ('3%', '2.5%')
    """
    percent = round(float(rate) * 100, 2)
    return f"{percent:g}%"


def format_flag(value: Any) -> str:
    """A yes/no value.

    >>> format_flag(1.0), format_flag(False)
    ('yes', 'no')
    """
    return "yes" if bool(value) else "no"


_FORMAT_BY_UNIT = {"gbp": format_money, "months": format_months, "percent": format_percent, "flag": format_flag,
                   "date": format_date}
"""How a value of each unit is written, for context columns and features alike (counts take their noun)."""


def format_context(column: str, value: Any) -> str:
    """One context value as a person reads it, by the column's declared unit."""
    if _missing(value):
        return UNKNOWN
    spec = CONTEXT[column]
    if spec.unit == "count":
        return format_count(value, spec.noun)
    if spec.unit in _FORMAT_BY_UNIT:
        return _FORMAT_BY_UNIT[spec.unit](value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def format_feature_value(spec: FeatureSpec, value: Any) -> str:
    """One feature value as a person reads it, by the feature's declared unit.

    Money as :func:`format_money`, whole counts as :func:`format_count`, log ratios
    and other fractions to two decimals.

    >>> from features.definitions import FEATURES_BY_NAME
    >>> [format_feature_value(FEATURES_BY_NAME[name], value) for name, value in (
    ...     ("capital_gap", 33000.0), ("earnings_log_ratio", 2.0999999), ("claims_elsewhere", 2.0))]
    ['£33,000', '2.10', '2']
    """
    if _missing(value):
        return UNKNOWN
    unit = "gbp" if spec.unit == "gbp_per_month" else spec.unit
    if unit == "count" and float(value).is_integer():
        return format_count(value)
    if unit in _FORMAT_BY_UNIT:
        return _FORMAT_BY_UNIT[unit](value)
    # counts can be weighted (an arrival the claimant's own registration does not attest counts half)
    return f"{float(value):,.2f}"


def render_reason(spec: FeatureSpec, context_row: Mapping[str, Any] | pd.Series) -> str:
    """The feature's reason sentence filled with one subject's context values.

    Parameters
    ----------
    spec : FeatureSpec
        The feature whose sentence is written.
    context_row : mapping or Series
        One row of the feature table (at least the spec's placeholders; ``subject_type``
        chooses the housing sentence when the spec has one).

    Raises
    ------
    ReasonError
        When the row lacks a placeholder's column.
    """
    subject_type = context_row.get("subject_type", "benefit_claim")
    template = spec.template(str(subject_type))
    values = {}
    for column in template_placeholders(template):
        if column not in context_row:
            raise ReasonError(UNKNOWN_CONTEXT_ERROR.format(name=spec.name, column=column))
        values[column] = format_context(column, context_row[column])
    return template.format(**values)
