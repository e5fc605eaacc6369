"""Holding a table to its declaration, row by row: the typed valid frame, the rejects, the quality.

A refused row yields one reject line per rule it breaks, with the 1-based data row number of the source
file (header excluded), the column, a short rule name and the offending text:

==================================  =======================================================
rule                                meaning
==================================  =======================================================
``required``                        empty (or blank) cell in a required column
``type:date``                       not a real ``YYYY-MM-DD`` date
``type:timestamp``                  not an ISO 8601 date-time
``type:period``                     not a ``YYYY-MM`` month
``type:decimal`` / ``type:int``     not a plain decimal / whole number
``type:bool``                       not ``true`` / ``false`` (any letter case)
``enum``                            not one of the declared values (exact spelling)
``min:0`` / ``min:1``               below the declared minimum
``pattern:nino`` (``AA999999A``)    ``^[A-Z]{2}[0-9]{6}[A-Z]$``
``pattern:la_code``                 ``^[EWSN][0-9]{8}$`` (e.g. ``E06000001``)
``pattern:uprn``                    digits only
``unique``                          a repeated key: the first occurrence is kept, later ones refused
``unique:subject_ref``              a ``housing_claim_id`` equal to a ``claim_id`` (see below)
``order:claim_end>=claim_start``    an end date before its start date (also ``end_date>=start_date``)
``text:control``                    a control character (NUL, tab, line break, …) in a text cell
``text:length``                     a text cell longer than ``TEXT_MAX_CHARACTERS`` (500)
``range:period``                    a tax ``period`` after the month the run is made in
==================================  =======================================================

A ``claim_id`` and a ``housing_claim_id`` are both a subject's ``subject_ref`` (scoring, equality
monitoring and investigation outcomes key subjects by it alone), so the two must differ. The benefit
claim keeps the reference and the housing claim is refused, whatever else either row breaks: benefit
claims come first in the contract (as the first of repeated keys is kept within a table), and a rule
that depends only on the two files' text gives the same answer on every run.

Typed valid frames: strings stay strings (leading zeros kept), dates, timestamps and periods are
``datetime64[ns]``, money ``float64``, counts ``int64``, flags ``bool``; each frame has a ``row``
column with the source row number. Tax ``period`` becomes the first day of its month (one column, so
windows are plain date comparisons). Timestamps with an offset are converted to UTC and stored without
a zone; timestamps without one are taken as they are. Patterns apply where the contract states them
(NINO in benefit_claims, ``la_code`` in housing_claims, UPRN digits in benefit_claims).

Why not pandera
---------------
pandera 0.35 was measured (and is therefore not a dependency) on a synthetic 12 M-row ``tax_records`` CSV read as strings, on
the 2-core machine, with the same rules except period parsing: lazy validation took 8.1 s on a clean
table and 28.2 s when 0.1 % of rows were bad (its failure cases are gathered row by row), with a
4.0 GB peak; re-run on the shared, loaded machine: 7.6 and 23.8 CPU-seconds. That is over the ~15 s
budget for all seven tables on its own, before dates are parsed or rejects are shaped. Here the same
rules are declared once, as data, and run as whole-column pyarrow / numpy kernels on two threads;
dates, periods and timestamps are parsed once per distinct text; keys are checked for repeats by
hashing their bytes (:mod:`features.contract.repeats`). Same machine and load: 12 M tax rows validate in
4-5.3 CPU-seconds clean and 7.3-8.4 with 0.1 % bad amounts plus 0.1 % repeated ids; all seven
tables at 1 M-people scale (17.9 M rows, CSV) are read and validated in 12-13.5 CPU-seconds with a
2.8 GB peak, on two threads.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.parsing import (
    PARSERS,
    Arrow,
    after_datetime_range,
    as_flags,
    as_large_text,
    is_blank,
)
from features.contract.reading import contract_columns
from features.contract.rejects import rejects_frame, rule_rejects
from features.contract.repeats import later_repeats
from features.contract.specs import (
    CONTROL_CHARACTERS,
    ENUM,
    FUTURE_PERIOD,
    PATTERNS,
    REQUIRED,
    TEXT_CONTROL,
    TEXT_LENGTH,
    TEXT_MAX_CHARACTERS,
    UNIQUE,
    UNIQUE_SUBJECT_REF,
    ColumnSpec,
    Kind,
    TableSpec,
    table_spec,
)

# Columns are checked in parallel: the arrow and numpy kernels release the GIL.
_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class TableQuality:
    """Data-quality figures of one table.

    ``completeness`` is the share of rows with a non-empty cell, per contract column, over all rows
    read; ``key_uniqueness`` is distinct / non-empty values of the key column (1.0 when all differ).
    """

    table: str
    source: str
    rows_in: int
    rows_valid: int
    rows_refused: int
    completeness: dict[str, float]
    key: str
    key_uniqueness: float
    missing_columns: tuple[str, ...] = ()
    """Optional contract columns the source's file lacks (read as empty)."""

    @property
    def validity(self) -> float:
        """Share of rows kept (1.0 for an empty table)."""
        return self.rows_valid / self.rows_in if self.rows_in else 1.0

    @property
    def refused_share(self) -> float:
        return self.rows_refused / self.rows_in if self.rows_in else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures, for run summaries."""
        return {
            "table": self.table,
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_valid": self.rows_valid,
            "rows_refused": self.rows_refused,
            "validity": self.validity,
            "completeness": dict(self.completeness),
            "key": self.key,
            "key_uniqueness": self.key_uniqueness,
            "missing_columns": list(self.missing_columns),
        }


@dataclass(frozen=True)
class _Column:
    """One column after parsing: typed values, emptiness, and which present values are usable."""

    raw: Arrow
    values: Arrow | np.ndarray
    empty: np.ndarray
    usable: np.ndarray


@dataclass(frozen=True)
class TableCheck:
    valid: pd.DataFrame
    rejects: pd.DataFrame
    quality: TableQuality


def validate_table(table: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold one table to the contract, row by row.

    Rules between tables (``unique:subject_ref``) need the other table: :func:`check_extract`
    applies them.

    Parameters
    ----------
    table : str
        One of :data:`TABLES`.
    raw : DataFrame
        The table as read (text or stored types), rows in file order; not modified. Extra columns
        are ignored. An integer index numbers the rows (0-based data row numbers, as
        :func:`features.contract.reading.read_source` gives them); any other, their positions.

    Returns
    -------
    valid : DataFrame
        The rows breaking no rule, typed (see the module docstring), with ``row`` = 1-based data row
        number in the source, then the contract columns.
    rejects : DataFrame
        ``table, row, column, rule, value``: one line per broken rule of each refused row.

    Raises
    ------
    MissingColumnError
        When a required column is absent from ``raw``.

    Examples
    --------
    >>> raw = pd.DataFrame({"uprn": ["0012", "0012"], "postcode": ["AB1 2CD", "AB1 2CD"],
    ...                     "la_code": ["E06000001"] * 2, "property_type": ["flat", "hut"],
    ...                     "bedrooms": ["2", "-1"]})
    >>> valid, rejects = validate_table("address_register", raw)
    >>> valid["uprn"].tolist(), valid["bedrooms"].tolist()
    (['0012'], [2])
    >>> rejects[["row", "column", "rule", "value"]].values.tolist()
    [[2, 'bedrooms', 'min:0', '-1'], [2, 'property_type', 'enum', 'hut'], [2, 'uprn', 'unique', '0012']]
    """
    check = check_table(table_spec(table), raw, source="")
    return check.valid, check.rejects


def run_month(today: dt.date | None = None) -> dt.date:
    """The first day of the month a run is made in (UTC): no tax period may come after it."""
    today = today or dt.datetime.now(dt.UTC).date()
    return today.replace(day=1)


def _row_numbers(raw: pd.DataFrame) -> np.ndarray:
    """1-based data row numbers: ``raw``'s integer index (read with blank lines counted) plus one, else positions."""
    if pd.api.types.is_integer_dtype(raw.index.dtype):
        return raw.index.to_numpy(dtype=np.int64) + 1
    return np.arange(1, len(raw) + 1, dtype=np.int64)


def check_table(spec: TableSpec, raw: pd.DataFrame, source: str,
                taken_keys: Arrow | None = None, latest_period: dt.date | None = None) -> TableCheck:
    """Check one table; with ``taken_keys`` (the keys of ``spec.key_differs_from``), also refuse
    a key among them. A period after ``latest_period`` (default: :func:`run_month`) is refused."""
    return _checked(spec, raw, source, taken_keys, latest_period).check


@dataclass(frozen=True)
class _Checked:
    """A table's check, with the parsed columns and the repeats of its key it was made from."""

    check: TableCheck
    columns: dict[str, _Column]
    repeats: dict[str, np.ndarray]
    """Later usable occurrences of a value, in the key and in each unique column."""


def _checked(spec: TableSpec, raw: pd.DataFrame, source: str, taken_keys: Arrow | None,
             latest_period: dt.date | None) -> _Checked:
    contract_columns(spec, raw.columns, source or "data frame")
    rows = len(raw)
    latest = np.datetime64(latest_period or run_month(), "ns")
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        checked = list(
            pool.map(
                lambda column: _check_column(column, arrow_column(raw, column.name, rows), latest),
                spec.columns,
            )
        )
    columns: dict[str, _Column] = {}
    broken: list[tuple[str, str, np.ndarray]] = []
    for column, (parsed, failures) in zip(spec.columns, checked, strict=True):
        columns[column.name] = parsed
        broken.extend((column.name, rule, mask) for rule, mask in failures)
    for order in spec.orders:
        later, earlier = columns[order.later], columns[order.earlier]
        mask = later.usable & earlier.usable & (later.values < earlier.values)
        broken.append((order.later, order.rule, mask))

    key = columns[spec.key]
    if taken_keys is not None:
        clash = pc.is_in(as_large_text(key.raw), value_set=as_large_text(taken_keys))
        broken.append((spec.key, UNIQUE_SUBJECT_REF, key.usable & as_flags(clash)))
    repeats = {name: mask for name, rule, mask in broken if rule == UNIQUE}
    key_repeats = repeats[spec.key] if spec.key in repeats else later_repeats(key.values, key.usable)
    refused = np.zeros(rows, dtype=bool)
    for _, _, mask in broken:
        refused |= mask
    keep = np.flatnonzero(~refused) if refused.any() else np.arange(rows)
    row_numbers = _row_numbers(raw)
    valid = pd.DataFrame(
        {"row": row_numbers[keep]}
        | {column.name: _typed(column, columns[column.name], keep) for column in spec.columns},
        copy=False,  # the arrays are fresh; consolidating them would copy every column
    )
    rejects = rejects_frame(
        rule_rejects(spec.name, name, rule, mask, columns[name].raw, row_numbers)
        for name, rule, mask in broken
        if mask.any()
    )
    quality = TableQuality(
        table=spec.name,
        source=source,
        rows_in=rows,
        rows_valid=len(keep),
        rows_refused=rows - len(keep),
        completeness={
            name: _completeness(int(column.empty.sum()), rows) for name, column in columns.items()
        },
        key=spec.key,
        key_uniqueness=_uniqueness(int(key.usable.sum()), int(key_repeats.sum())),
    )
    return _Checked(TableCheck(valid=valid, rejects=rejects, quality=quality), columns,
                    repeats | {spec.key: key_repeats})


# ------------------------------------------------------------------------------------------ partitions
@dataclass(frozen=True)
class FirstOccurrences:
    """The usable values of a column that are not repeated within a partition, and their row numbers.

    Repeats are looked for in text columns only (:func:`~features.contract.repeats.later_repeats`),
    whose parsed values are their cells as written: the values are also the text of a reject.
    """

    rows: np.ndarray
    """1-based data row numbers."""
    values: Arrow


@dataclass(frozen=True)
class PartitionCheck:
    """One partition of a table held to the contract, and what judging the whole table needs of it.

    A partition's rows are checked as in the whole table except for repeats: a key repeated in
    another partition is found by :func:`merge_partition_checks`, from :attr:`firsts`.
    """

    check: TableCheck
    empty_cells: dict[str, int]
    """Empty cells per contract column."""
    usable_keys: int
    key_repeats: int
    """Usable keys repeating one of the partition's earlier rows."""
    firsts: dict[str, FirstOccurrences]
    """By column: the key and every column whose values must be unique."""


def repeat_checked_columns(spec: TableSpec) -> tuple[str, ...]:
    """The columns whose repeats are judged on the whole table: those declared unique, and the key."""
    return tuple(dict.fromkeys([*(column.name for column in spec.columns if column.unique), spec.key]))


def check_partition(spec: TableSpec, raw: pd.DataFrame, source: str, taken_keys: Arrow | None = None,
                    latest_period: dt.date | None = None) -> PartitionCheck:
    """Check consecutive rows of a table as :func:`check_table` checks a whole one.

    ``raw`` is a slice of the table as read, keeping its index (the rows' data row numbers in the file).
    ``taken_keys`` are all the keys of ``spec.key_differs_from``, not a partition of them.
    """
    checked = _checked(spec, raw, source, taken_keys, latest_period)
    row_numbers = _row_numbers(raw)
    firsts = {}
    for name in repeat_checked_columns(spec):
        column = checked.columns[name]
        first = np.flatnonzero(column.usable & ~checked.repeats[name])
        firsts[name] = FirstOccurrences(rows=row_numbers[first], values=column.values.take(pa.array(first)))
    return PartitionCheck(
        check=checked.check,
        empty_cells={name: int(column.empty.sum()) for name, column in checked.columns.items()},
        usable_keys=int(checked.columns[spec.key].usable.sum()),
        key_repeats=int(checked.repeats[spec.key].sum()),
        firsts=firsts,
    )


def merge_partition_checks(spec: TableSpec, parts: list[PartitionCheck], source: str) -> TableCheck:
    """The check of a whole table from the checks of its partitions, in row order.

    A value of a unique column that an earlier partition holds is refused (``unique``), as in
    :func:`check_table` the first usable occurrence is kept; nothing else is checked again. The
    quality figures are those of the whole table. The pass over repeats holds those columns' first
    values per partition alone: one short text and one row number per row at most.
    """
    rejects = [part.check.rejects for part in parts]
    refused_rows = []
    unique = {column.name for column in spec.columns if column.unique}
    key_repeats = sum(part.key_repeats for part in parts)
    for name in repeat_checked_columns(spec):
        firsts = [part.firsts[name] for part in parts]
        row_numbers = np.concatenate([first.rows for first in firsts])
        values = pa.chunked_array([as_large_text(first.values) for first in firsts], type=pa.large_string())
        repeats = later_repeats(values, np.ones(len(values), dtype=bool))
        if name == spec.key:
            key_repeats += int(repeats.sum())
        if repeats.any() and name in unique:
            rejects.append(rule_rejects(spec.name, name, UNIQUE, repeats, values, row_numbers))
            refused_rows.append(row_numbers[repeats])
    valid = pd.concat([part.check.valid for part in parts], ignore_index=True)
    if refused_rows:
        valid = valid[~valid["row"].isin(np.concatenate(refused_rows))].reset_index(drop=True)
    rows = sum(part.check.quality.rows_in for part in parts)
    quality = TableQuality(
        table=spec.name,
        source=source,
        rows_in=rows,
        rows_valid=len(valid),
        rows_refused=rows - len(valid),
        completeness={name: _completeness(sum(part.empty_cells[name] for part in parts), rows)
                      for name in spec.column_names},
        key=spec.key,
        key_uniqueness=_uniqueness(sum(part.usable_keys for part in parts), key_repeats),
    )
    return TableCheck(valid=valid, rejects=rejects_frame(rejects), quality=quality)


def arrow_column(raw: pd.DataFrame, name: str, rows: int) -> Arrow:
    """Column ``name`` of ``raw`` as arrow, without copying text (all-null text when absent)."""
    if name not in raw.columns:
        return pa.nulls(rows, pa.string())
    series = raw[name]
    try:
        values = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed Python objects: compare them as the text they would have been written as.
        values = pa.array([None if pd.isna(v) else str(v) for v in series], pa.string())
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_null(values.type):
        values = values.cast(pa.string())
    return values


def _check_column(column: ColumnSpec, raw: Arrow,
                  latest_period: np.datetime64) -> tuple[_Column, list[tuple[str, np.ndarray]]]:
    empty = is_blank(raw)
    values, wrong_type = PARSERS[column.kind](raw)
    if column.ends_claims:  # an end after 2262-04-10 (9999-12-31 above all) is read as not ended (NaT)
        wrong_type &= ~after_datetime_range(raw)
    wrong_type &= ~empty
    usable = ~empty & ~wrong_type
    failures: list[tuple[str, np.ndarray]] = []
    if column.required:
        failures.append((REQUIRED, empty))
    if column.kind is not Kind.STRING:
        failures.append((f"type:{column.kind}", wrong_type))
    if column.checks_control_characters:
        controls = pc.match_substring_regex(values, CONTROL_CHARACTERS)
        failures.append((TEXT_CONTROL, ~empty & as_flags(controls)))
        failures.append((TEXT_LENGTH, ~empty & as_flags(pc.greater(pc.utf8_length(values), TEXT_MAX_CHARACTERS))))
    if column.kind is Kind.PERIOD:
        failures.append((FUTURE_PERIOD, usable & (values > latest_period)))
    if column.values:
        allowed = pc.is_in(values, value_set=pa.array(column.values, values.type))
        failures.append((ENUM, usable & ~as_flags(allowed)))
    if column.pattern is not None:
        matches = pc.match_substring_regex(values, PATTERNS[column.pattern])
        failures.append((f"pattern:{column.pattern}", usable & ~as_flags(matches)))
    if column.minimum is not None:
        failures.append((f"min:{column.minimum}", usable & (values < column.minimum)))
    if column.unique:
        failures.append((UNIQUE, later_repeats(values, usable)))
    return _Column(raw=raw, values=values, empty=empty, usable=usable), failures
def _completeness(empty_cells: int, rows: int) -> float:
    return float(1.0 - empty_cells / rows) if rows else 1.0


def _uniqueness(usable_keys: int, repeats: int) -> float:
    return 1.0 - repeats / usable_keys if usable_keys else 1.0


# Parsers: raw arrow (chunked) array -> (typed values, wrong_type mask). Wrong-type is only read where not empty.
def _typed(
    column: ColumnSpec, parsed: _Column, keep: np.ndarray
) -> pd.Series | pd.api.extensions.ExtensionArray | np.ndarray:
    """The kept values of one column in its valid-frame dtype."""
    empty = parsed.empty[keep]
    everything = len(keep) == len(parsed.empty)
    if column.kind is Kind.STRING:
        values = parsed.values if everything else parsed.values.take(pa.array(keep))
        if empty.any():  # blank text counts as empty
            values = pc.if_else(pa.array(empty), pa.scalar(None, values.type), values)
        return values.to_pandas()
    # Zero-copy views of arrow buffers are read-only; the caller owns the frame and may edit it.
    values = np.require(parsed.values if everything else parsed.values[keep], requirements="W")
    if column.kind is Kind.INT and not column.required:
        return pd.arrays.IntegerArray(values, empty)
    if column.kind is Kind.BOOL and not column.required:
        return pd.arrays.BooleanArray(values, empty)
    return values


# --------------------------------------------------------------------------------------------- rejects
