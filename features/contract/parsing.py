"""Columns as pyarrow holds them, and the parsers from delivered text (or stored types) to typed values.

Every parser takes a raw column (an arrow array, chunked for large CSVs) and returns the typed
values and a mask of the present values that are not of the type; emptiness is judged apart
(:func:`is_blank`), so a parser's mask is only read where a cell is not empty.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.specs import Kind

Arrow = pa.Array | pa.ChunkedArray
"""A column as pyarrow holds it: large CSVs arrive in chunks."""

_DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"
_INT_TEXT = r"^-?[0-9]{1,18}$"
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PERIOD_TEXT = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_TIMESTAMP_TEXT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
# datetime64[ns] covers 1677-09-21 .. 2262-04-11; anything outside is refused rather than overflowing.
_EARLIEST = np.datetime64("1677-09-22", "us")
_LATEST = np.datetime64("2262-04-10", "us")
_LATEST_DAY = dt.date(2262, 4, 10)


def to_numpy(values: Arrow) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        return values.to_numpy()
    return values.to_numpy(zero_copy_only=False)


def as_flags(mask: Arrow) -> np.ndarray:
    """A boolean arrow result as numpy, null read as False."""
    return to_numpy(pc.fill_null(mask, False))


def is_blank(raw: Arrow) -> np.ndarray:
    """Null, NaN, or text that is empty or only white space."""
    if raw.null_count or pa.types.is_floating(raw.type):
        empty = to_numpy(raw.is_null(nan_is_null=True))
    else:
        empty = np.zeros(len(raw), dtype=bool)
    if is_text(raw.type):
        empty |= as_flags(pc.utf8_is_space(raw)) | as_flags(pc.equal(pc.binary_length(raw), 0))
    return empty


def is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def as_large_text(values: Arrow) -> pa.Array:
    """One contiguous large_string array of ``values``, for comparing keys across tables."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.large_string())


def _no_failures(raw: Arrow) -> np.ndarray:
    return np.zeros(len(raw), dtype=bool)


def _parse_string(raw: Arrow) -> tuple[Arrow, np.ndarray]:
    if not is_text(raw.type):
        raw = raw.cast(pa.string())
    return raw, _no_failures(raw)


def _parse_decimal(raw: Arrow) -> tuple[np.ndarray, np.ndarray]:
    if is_text(raw.type):
        ok = as_flags(pc.match_substring_regex(raw, _DECIMAL_TEXT)) | to_numpy(raw.is_null())
        numbers = _cast_where(raw, ok, pa.float64())
    elif (
        pa.types.is_integer(raw.type)
        or pa.types.is_floating(raw.type)
        or pa.types.is_decimal(raw.type)
    ):
        numbers = raw.cast(pa.float64())
    else:
        return np.full(len(raw), np.nan), np.ones(len(raw), dtype=bool)
    values = to_numpy(numbers).astype(np.float64, copy=False)
    return values, ~np.isfinite(values)


def _parse_int(raw: Arrow) -> tuple[np.ndarray, np.ndarray]:
    if is_text(raw.type):
        ok = as_flags(pc.match_substring_regex(raw, _INT_TEXT))
        numbers = _cast_where(raw, ok | to_numpy(raw.is_null()), pa.int64())
        return to_numpy(pc.fill_null(numbers, 0)), ~ok
    if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type):
        floats = to_numpy(raw.cast(pa.float64()))
        ok = np.isfinite(floats) & (np.abs(floats) < 2.0**53) & (floats == np.trunc(floats))
        return np.where(ok, floats, 0).astype(np.int64), ~ok
    return np.zeros(len(raw), dtype=np.int64), np.ones(len(raw), dtype=bool)


def _cast_where(texts: Arrow, ok: np.ndarray, kind: pa.DataType) -> Arrow:
    """Cast the texts marked ``ok`` to ``kind``, the others to null (no copy of clean text)."""
    if not ok.all():
        texts = pc.if_else(pa.array(ok), texts, pa.scalar(None, texts.type))
    return texts.cast(kind)


def _parse_bool(raw: Arrow) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_boolean(raw.type):
        return as_flags(raw), _no_failures(raw)
    if is_text(raw.type):
        lower = pc.utf8_lower(raw)
        ok = as_flags(pc.is_in(lower, value_set=pa.array(["true", "false"], lower.type)))
        return as_flags(pc.equal(lower, "true")), ~ok
    return np.zeros(len(raw), dtype=bool), np.ones(len(raw), dtype=bool)


def _in_datetime_range(stamps: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``datetime64[ns]`` values and whether each was a date that fits (NaT where not)."""
    stamps = stamps.astype("datetime64[us]")
    ok = (stamps.notna() & (stamps >= _EARLIEST) & (stamps <= _LATEST)).to_numpy()
    return stamps.where(ok).astype("datetime64[ns]").to_numpy(), ok


def _parse_date_texts(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    shaped = texts.where(texts.str.fullmatch(_DATE_TEXT).fillna(False).astype(bool))
    return _in_datetime_range(pd.to_datetime(shaped, format="%Y-%m-%d", errors="coerce"))


def _parse_period_texts(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    shaped = texts.where(texts.str.fullmatch(_PERIOD_TEXT).fillna(False).astype(bool))
    return _in_datetime_range(pd.to_datetime(shaped + "-01", format="%Y-%m-%d", errors="coerce"))


def _parse_timestamp_texts(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    shaped = texts.where(texts.str.fullmatch(_TIMESTAMP_TEXT).fillna(False).astype(bool))
    stamps = pd.to_datetime(shaped, format="ISO8601", errors="coerce", utc=True)
    return _in_datetime_range(stamps.dt.tz_convert(None))


_TEXT_PARSERS = {
    Kind.DATE: _parse_date_texts,
    Kind.PERIOD: _parse_period_texts,
    Kind.TIMESTAMP: _parse_timestamp_texts,
}


def _parse_temporal(kind: Kind, raw: Arrow) -> tuple[np.ndarray, np.ndarray]:
    if is_text(raw.type):
        # Dates repeat a lot (12 M tax rows hold a few dozen periods): parse each distinct text once.
        encoded = pc.dictionary_encode(raw)
        if isinstance(encoded, pa.ChunkedArray):  # chunks share one dictionary; indices are small
            encoded = encoded.combine_chunks()
        distinct = pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        if len(distinct) == 0:
            return np.full(len(raw), np.datetime64("NaT", "ns")), _no_failures(raw)
        parsed, ok = _TEXT_PARSERS[kind](distinct)
        codes = to_numpy(pc.fill_null(encoded.indices, 0))
        values = parsed[codes]
        if encoded.null_count:
            values[as_flags(encoded.is_null())] = np.datetime64("NaT", "ns")
        return values, ~ok[codes]
    if kind is not Kind.PERIOD and (pa.types.is_date(raw.type) or pa.types.is_timestamp(raw.type)):
        values, ok = _in_datetime_range(pd.Series(to_numpy(raw)))
        return values, ~ok
    return np.full(len(raw), np.datetime64("NaT", "ns")), np.ones(len(raw), dtype=bool)


def _is_date_after_range(text: str | None) -> bool:
    try:
        return text is not None and re.match(_DATE_TEXT, text) is not None and dt.date.fromisoformat(text) > _LATEST_DAY
    except ValueError:
        return False


def after_datetime_range(raw: Arrow) -> np.ndarray:
    """Real dates after the last day ``datetime64[ns]`` holds (2262-04-10), e.g. the open-ended 9999-12-31.

    Their parsers mark them as not of the type; an end date among them means "not ended".
    """
    if is_text(raw.type):
        later = [text for text in pc.unique(raw).to_pylist() if _is_date_after_range(text)]
        return as_flags(pc.is_in(raw, value_set=pa.array(later, raw.type)))
    if pa.types.is_date(raw.type) or pa.types.is_timestamp(raw.type):
        days = raw.cast(pa.date32())
    else:
        return np.zeros(len(raw), dtype=bool)
    return as_flags(pc.greater(days, pa.scalar(_LATEST_DAY, pa.date32())))


PARSERS = {
    Kind.STRING: _parse_string,
    Kind.DECIMAL: _parse_decimal,
    Kind.INT: _parse_int,
    Kind.BOOL: _parse_bool,
    Kind.DATE: lambda raw: _parse_temporal(Kind.DATE, raw),
    Kind.PERIOD: lambda raw: _parse_temporal(Kind.PERIOD, raw),
    Kind.TIMESTAMP: lambda raw: _parse_temporal(Kind.TIMESTAMP, raw),
}
