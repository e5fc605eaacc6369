"""CSV files a spreadsheet opens safely: text that would run as a formula is written inert.

A cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
spreadsheet programs as a formula (CSV injection: ``=cmd|' /C calc'!A0``). Input text reaches
the CSVs this project writes (rejects carry the refused value, case lists carry reasons and
references), so every CSV is written by :func:`write_csv`, which prefixes such text with a
single quote, as OWASP advises. Plain numbers (``-50.00``, ``+44``) are left alone: a spreadsheet
reads them as numbers, not formulas. Only text columns change; the frame passed in does not.

Lines end in CRLF, as RFC 4180 has it: Python's CSV writer quotes a cell holding a line
break only when that character is part of the line terminator, so with ``\n`` alone a
carriage return inside a cell would be written bare and split the row for most readers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
INERT_PREFIX = "'"
CSV_LINE_END = "\r\n"
_FORMULA_PATTERN = "[" + re.escape("".join(FORMULA_START)) + "]"
_PLAIN_NUMBER = r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"


def inert_text(values: pd.Series) -> pd.Series:
    """``values`` with every text that a spreadsheet would run as a formula prefixed by ``'``.

    Examples
    --------
    >>> inert_text(pd.Series(["=1+1", "-50.00", "@SUM(A1)", "Smith"])).tolist()
    ["'=1+1", '-50.00', "'@SUM(A1)", 'Smith']
    """
    text = values.astype("str") if values.dtype != object else values
    present = values.notna().to_numpy()
    formula = present & text.str.match(_FORMULA_PATTERN).fillna(False).to_numpy(dtype=bool)
    if not formula.any():
        return values
    formula &= ~text.str.fullmatch(_PLAIN_NUMBER).fillna(False).to_numpy(dtype=bool)
    return values.where(~formula, INERT_PREFIX + text.astype(object))


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` as CSV without its index, its text made inert (:func:`inert_text`)."""
    path = Path(path)
    text_columns = [name for name in frame.columns
                    if pd.api.types.is_object_dtype(frame[name]) or pd.api.types.is_string_dtype(frame[name])]
    safe = frame.assign(**{name: inert_text(frame[name]) for name in text_columns}) if text_columns else frame
    safe.to_csv(path, index=False, lineterminator=CSV_LINE_END)
    return path

