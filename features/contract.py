"""The input data contract in code: table specs, reading, row-level validation, rejects, data quality.

Each of the seven tables of ``DATA_CONTRACT.md`` is declared once below as a :class:`TableSpec` of
:class:`ColumnSpec` (type, required, unique, enum values, minimum, pattern) plus cross-column order
rules. Everything else is derived from those declarations: the rules a row can break, the typed valid
frame and the rejects.

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
pandera 0.35 (installed) was measured on a synthetic 12 M-row ``tax_records`` CSV read as strings, on
the 2-core machine, with the same rules except period parsing: lazy validation took 8.1 s on a clean
table and 28.2 s when 0.1 % of rows were bad (its failure cases are gathered row by row), with a
4.0 GB peak; re-run on the shared, loaded machine: 7.6 and 23.8 CPU-seconds. That is over the ~15 s
budget for all seven tables on its own, before dates are parsed or rejects are shaped. Here the same
rules are declared once, as data, and run as whole-column pyarrow / numpy kernels on two threads;
dates, periods and timestamps are parsed once per distinct text; keys are checked for repeats by
hashing their bytes (see ``_maybe_repeated``). Same machine and load: 12 M tax rows validate in
4-5.3 CPU-seconds clean and 7.3-8.4 with 0.1 % bad amounts plus 0.1 % repeated ids; all seven
tables at 1 M-people scale (17.9 M rows, CSV) are read and validated in 12-13.5 CPU-seconds with a
2.8 GB peak, on two threads.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from features.csv_output import write_csv

if TYPE_CHECKING:
    from configs.settings import Settings

logger = logging.getLogger(__name__)

_Arrow = pa.Array | pa.ChunkedArray  # a column as pyarrow holds it: large CSVs arrive in chunks

MISSING_TABLE = "missing table {table}: no {table}.csv or {table}.parquet in {data_dir}"
AMBIGUOUS_TABLE = (
    "two files for table {table} in {data_dir}: keep either {table}.csv or {table}.parquet"
)
MISSING_COLUMN = "missing column {column} in table {table} ({source})"
UNREADABLE_TABLE = "cannot read table {table} from {path}: {problem}"
UNKNOWN_TABLE = "unknown table {table}: the contract has {known}"
TOO_MANY_REJECTS = (
    "too many rejects in {table}: {refused} of {rows} rows refused ({share:.1%}, limit {limit:.1%}); "
    "most often column {column} breaking rule {rule} ({count} rows), e.g. row {row}: {value!r}"
)

REQUIRED = "required"
ENUM = "enum"
UNIQUE = "unique"
UNIQUE_SUBJECT_REF = "unique:subject_ref"
REJECT_COLUMNS = ("table", "row", "column", "rule", "value")

PATTERNS: Mapping[str, str] = {
    "nino": r"^[A-Z]{2}[0-9]{6}[A-Z]$",
    "la_code": r"^[EWSN][0-9]{8}$",
    "uprn": r"^[0-9]+$",
}
_DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"
_INT_TEXT = r"^-?[0-9]{1,18}$"
_DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_PERIOD_TEXT = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_TIMESTAMP_TEXT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
# Columns are checked in parallel: the arrow and numpy kernels release the GIL.
_WORKERS = max(1, min(4, os.cpu_count() or 1))
# Fewer, larger CSV chunks: measured faster than the 1 MB default at 12 M rows.
_CSV_BLOCK_BYTES = 16 << 20
# datetime64[ns] covers 1677-09-21 .. 2262-04-11; anything outside is refused rather than overflowing.
_EARLIEST = np.datetime64("1677-09-22", "us")
_LATEST = np.datetime64("2262-04-10", "us")


class ContractError(ValueError):
    """An extract breaks the data contract as a whole (missing table or column, too many rejects)."""


class MissingTableError(ContractError):
    """A required table has no file in the data directory."""


class MissingColumnError(ContractError):
    """A table lacks a column the contract requires."""


class UnreadableTableError(ContractError):
    """A table file cannot be parsed at all (not CSV / parquet, not UTF-8, ragged rows)."""


class TooManyRejectsError(ContractError):
    """A table's refused rows pass ``settings.contract.max_reject_share``."""


class Kind(StrEnum):
    """The value types of the contract; the name is the suffix of the ``type:`` rule."""

    STRING = "string"
    DATE = "date"
    TIMESTAMP = "timestamp"
    PERIOD = "period"
    DECIMAL = "decimal"
    INT = "int"
    BOOL = "bool"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    Parameters
    ----------
    name : str
    kind : Kind
        Value type; text is parsed into it.
    required : bool
        An empty cell is refused (rule ``required``). The column itself must exist either way when
        required; an absent optional column is read as all-empty.
    unique : bool
        Later repeats of a value are refused (rule ``unique``).
    values : tuple of str
        Allowed values, exact spelling (rule ``enum``).
    minimum : int, optional
        Smallest allowed number (rule ``min:<minimum>``).
    pattern : str, optional
        Key of :data:`PATTERNS` the text must match (rule ``pattern:<key>``).
    """

    name: str
    kind: Kind = Kind.STRING
    required: bool = True
    unique: bool = False
    values: tuple[str, ...] = ()
    minimum: int | None = None
    pattern: str | None = None

    @property
    def rules(self) -> tuple[str, ...]:
        """Names of the rules a value of this column can break."""
        rules = [REQUIRED] if self.required else []
        if self.kind is not Kind.STRING:
            rules.append(f"type:{self.kind}")
        if self.values:
            rules.append(ENUM)
        if self.pattern is not None:
            rules.append(f"pattern:{self.pattern}")
        if self.minimum is not None:
            rules.append(f"min:{self.minimum}")
        if self.unique:
            rules.append(UNIQUE)
        return tuple(rules)

    @property
    def dtype(self) -> str:
        """The pandas dtype of this column in a valid frame."""
        if self.kind in (Kind.DATE, Kind.TIMESTAMP, Kind.PERIOD):
            return "datetime64[ns]"
        if self.kind is Kind.DECIMAL:
            return "float64"
        if self.kind is Kind.INT:
            return "int64" if self.required else "Int64"
        if self.kind is Kind.BOOL:
            return "bool" if self.required else "boolean"
        return "str"


@dataclass(frozen=True)
class OrderRule:
    """Within a row, the date in ``later`` (when given) is not before the date in ``earlier``."""

    later: str
    earlier: str

    @property
    def rule(self) -> str:
        return f"order:{self.later}>={self.earlier}"


@dataclass(frozen=True)
class TableSpec:
    """One contract table: its columns, its key and whether the extract must hold it.

    ``key_differs_from`` names an earlier table whose key values this table's key must not repeat
    (rule ``unique:subject_ref``).
    """

    name: str
    key: str
    columns: tuple[ColumnSpec, ...]
    orders: tuple[OrderRule, ...] = ()
    optional: bool = False
    key_differs_from: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def _money(name: str, *, required: bool = True, minimum: int | None = 0) -> ColumnSpec:
    return ColumnSpec(name, Kind.DECIMAL, required=required, minimum=minimum)


def _count(name: str, minimum: int) -> ColumnSpec:
    return ColumnSpec(name, Kind.INT, minimum=minimum)


def _enum(name: str, *values: str) -> ColumnSpec:
    return ColumnSpec(name, values=values)


def _date(name: str, *, required: bool = True) -> ColumnSpec:
    return ColumnSpec(name, Kind.DATE, required=required)


def _optional(name: str, *, pattern: str | None = None) -> ColumnSpec:
    return ColumnSpec(name, required=False, pattern=pattern)


BENEFIT_CLAIMS = TableSpec(
    name="benefit_claims",
    key="claim_id",
    columns=(
        ColumnSpec("claim_id", unique=True),
        _optional("nino", pattern="nino"),
        ColumnSpec("first_name"),
        ColumnSpec("surname"),
        _date("date_of_birth"),
        _optional("uprn", pattern="uprn"),
        ColumnSpec("postcode"),
        _enum(
            "benefit_type",
            "universal_credit",
            "pension_credit",
            "employment_support_allowance",
            "jobseekers_allowance",
            "carers_allowance",
        ),
        _date("claim_start"),
        _date("claim_end", required=False),
        _money("declared_monthly_earnings"),
        _money("declared_savings"),
        ColumnSpec("declared_partner", Kind.BOOL),
        _count("adults_in_household", minimum=1),
        _count("children_in_household", minimum=0),
        _money("monthly_housing_costs"),
        _money("monthly_award"),
        ColumnSpec("bank_account_token"),
        _optional("phone_token"),
        _optional("email_token"),
        _enum("application_channel", "online", "phone", "in_person"),
        ColumnSpec("submitted_at", Kind.TIMESTAMP),
    ),
    orders=(OrderRule("claim_end", "claim_start"),),
)

TAX_RECORDS = TableSpec(
    name="tax_records",
    key="record_id",
    columns=(
        ColumnSpec("record_id", unique=True),
        ColumnSpec("nino"),
        ColumnSpec("period", Kind.PERIOD),
        _enum("income_type", "paye_employment", "self_employment", "savings_interest", "property"),
        _optional("payer_ref"),
        _money("amount", minimum=None),  # negative amounts are corrections
    ),
)

HOUSING_CLAIMS = TableSpec(
    name="housing_claims",
    key="housing_claim_id",
    columns=(
        ColumnSpec("housing_claim_id", unique=True),
        ColumnSpec("la_code", pattern="la_code"),
        _enum(
            "scheme",
            "housing_benefit",
            "council_tax_reduction",
            "single_person_discount",
            "social_tenancy",
        ),
        _optional("nino"),
        ColumnSpec("first_name"),
        ColumnSpec("surname"),
        _date("date_of_birth"),
        ColumnSpec("uprn"),
        ColumnSpec("postcode"),
        _date("start_date"),
        _date("end_date", required=False),
        _money("monthly_rent", required=False),
        _count("occupants_declared", minimum=1),
        _optional("landlord_ref"),
        _money("monthly_award"),
    ),
    orders=(OrderRule("end_date", "start_date"),),
    key_differs_from="benefit_claims",
)

ADDRESS_REGISTER = TableSpec(
    name="address_register",
    key="uprn",
    columns=(
        ColumnSpec("uprn", unique=True),
        ColumnSpec("postcode"),
        ColumnSpec("la_code"),
        _enum("property_type", "flat", "terraced", "semi_detached", "detached", "hmo"),
        _count("bedrooms", minimum=0),
    ),
)

ELECTORAL_REGISTER = TableSpec(
    name="electoral_register",
    key="elector_id",
    columns=(
        ColumnSpec("elector_id", unique=True),
        ColumnSpec("uprn"),
        ColumnSpec("first_name"),
        ColumnSpec("surname"),
        _date("date_of_birth", required=False),
        _date("registered_from"),
    ),
)

EQUALITY_MONITORING = TableSpec(
    name="equality_monitoring",
    key="subject_ref",
    columns=(
        ColumnSpec("subject_ref"),
        _enum("sex", "female", "male", "other", "unknown"),
        _enum("ethnicity_group", "asian", "black", "mixed", "white", "other", "unknown"),
        _enum("disability", "yes", "no", "unknown"),
        _enum("nationality_group", "uk", "eu", "non_eu", "unknown"),
    ),
)

INVESTIGATION_OUTCOMES = TableSpec(
    name="investigation_outcomes",
    key="subject_ref",
    columns=(
        ColumnSpec("subject_ref"),
        _enum("outcome", "fraud", "error", "no_issue"),
        _date("closed_on"),
        _optional("typology"),
        # true when the case came from a scoring run's random control sample (an unbiased sample)
        ColumnSpec("control", Kind.BOOL, required=False),
    ),
    optional=True,
)

CONTRACT: Mapping[str, TableSpec] = {
    spec.name: spec
    for spec in (
        BENEFIT_CLAIMS,
        TAX_RECORDS,
        HOUSING_CLAIMS,
        ADDRESS_REGISTER,
        ELECTORAL_REGISTER,
        EQUALITY_MONITORING,
        INVESTIGATION_OUTCOMES,
    )
}
TABLES: tuple[str, ...] = tuple(CONTRACT)


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
        }


@dataclass(frozen=True, eq=False)
class Extract:
    """A validated extract: the valid rows of each table, every reject and the quality figures."""

    benefit_claims: pd.DataFrame
    tax_records: pd.DataFrame
    housing_claims: pd.DataFrame
    address_register: pd.DataFrame
    electoral_register: pd.DataFrame
    equality_monitoring: pd.DataFrame
    investigation_outcomes: pd.DataFrame
    rejects: pd.DataFrame
    quality: dict[str, TableQuality]

    def table(self, name: str) -> pd.DataFrame:
        """The valid frame of table ``name``."""
        return getattr(self, table_spec(name).name)


@dataclass(frozen=True)
class _Column:
    """One column after parsing: typed values, emptiness, and which present values are usable."""

    raw: _Arrow
    values: _Arrow | np.ndarray
    empty: np.ndarray
    usable: np.ndarray


@dataclass(frozen=True)
class _TableCheck:
    valid: pd.DataFrame
    rejects: pd.DataFrame
    quality: TableQuality


def table_spec(table: str) -> TableSpec:
    """The declaration of ``table``; :class:`ContractError` for a name outside the contract."""
    try:
        return CONTRACT[table]
    except KeyError:
        raise ContractError(UNKNOWN_TABLE.format(table=table, known=", ".join(TABLES))) from None


# --------------------------------------------------------------------------------------------- reading


def table_path(data_dir: str | Path, table: str) -> Path | None:
    """The file holding ``table`` in ``data_dir`` (``.csv`` or ``.parquet``), or None."""
    table_spec(table)
    data_dir = Path(data_dir)
    found = [
        path
        for path in (data_dir / f"{table}.csv", data_dir / f"{table}.parquet")
        if path.is_file()
    ]
    if len(found) > 1:
        raise ContractError(AMBIGUOUS_TABLE.format(table=table, data_dir=data_dir))
    return found[0] if found else None


def read_table(data_dir: str | Path, table: str) -> pd.DataFrame:
    """Read the contract columns of one table, as delivered.

    CSV cells are read as text (empty cell = null) so that leading zeros survive and a bad value can be
    reported as written; parquet columns keep their stored types. Extra columns are not read.

    Parameters
    ----------
    data_dir : str or Path
    table : str
        One of :data:`TABLES`.

    Returns
    -------
    DataFrame
        The contract columns present in the file, in contract order, rows in file order. For a missing
        optional table, an empty frame of text columns.

    Raises
    ------
    MissingTableError
        Naming the file looked for, when a required table has no file.
    MissingColumnError
        Naming table and column, when a required column is absent.
    UnreadableTableError
        When the file cannot be parsed.
    """
    raw, _ = _read(table_spec(table), Path(data_dir))
    return raw


def _read(spec: TableSpec, data_dir: Path) -> tuple[pd.DataFrame, Path | None]:
    path = table_path(data_dir, spec.name)
    if path is None:
        if spec.optional:
            empty = {name: pd.Series([], dtype="str") for name in spec.column_names}
            return pd.DataFrame(empty), None
        raise MissingTableError(MISSING_TABLE.format(table=spec.name, data_dir=data_dir))
    try:
        if path.suffix == ".csv":
            header = _csv_header(path)
            present = _contract_columns(spec, header, path)
            arrow = pa_csv.read_csv(
                path,
                read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
                convert_options=pa_csv.ConvertOptions(
                    include_columns=present,
                    # large_string converts to pandas' arrow-backed "str" without a copy
                    column_types={name: pa.large_string() for name in present},
                    null_values=[""],
                    strings_can_be_null=True,
                ),
            )
        else:
            present = _contract_columns(spec, pq.read_schema(path).names, path)
            arrow = pq.read_table(path, columns=present)
    except (pa.ArrowException, OSError, UnicodeDecodeError, csv.Error) as error:
        problem = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise UnreadableTableError(
            UNREADABLE_TABLE.format(table=spec.name, path=path, problem=problem)
        ) from error
    return arrow.to_pandas(), path


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _contract_columns(spec: TableSpec, header: Iterable[str], source: object) -> list[str]:
    """The contract columns found in ``header``, in contract order; raise on a missing required one."""
    found = set(header)
    for column in spec.columns:
        if column.required and column.name not in found:
            raise MissingColumnError(
                MISSING_COLUMN.format(column=column.name, table=spec.name, source=source)
            )
    absent = [column.name for column in spec.columns if column.name not in found]
    if absent:
        logger.warning("table %s has no optional column(s) %s: read as empty", spec.name, absent)
    return [name for name in spec.column_names if name in found]


# ------------------------------------------------------------------------------------------ validation


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
        are ignored.

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
    check = _check_table(table_spec(table), raw, source="")
    return check.valid, check.rejects


def _check_table(spec: TableSpec, raw: pd.DataFrame, source: str,
                 taken_keys: _Arrow | None = None) -> _TableCheck:
    """Check one table; with ``taken_keys`` (the keys of ``spec.key_differs_from``), also refuse
    a key among them."""
    _contract_columns(spec, raw.columns, source or "data frame")
    rows = len(raw)
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        checked = list(
            pool.map(
                lambda column: _check_column(column, _arrow_column(raw, column.name, rows)),
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
        clash = pc.is_in(_as_text(key.raw), value_set=_as_text(taken_keys))
        broken.append((spec.key, UNIQUE_SUBJECT_REF, key.usable & _flags(clash)))
    key_repeats = next(
        (mask for name, rule, mask in broken if name == spec.key and rule == UNIQUE),
        None,
    )
    if key_repeats is None:
        key_repeats = _later_repeats(key.values, key.usable)
    refused = np.zeros(rows, dtype=bool)
    for _, _, mask in broken:
        refused |= mask
    keep = np.flatnonzero(~refused) if refused.any() else np.arange(rows)
    valid = pd.DataFrame(
        {"row": keep.astype(np.int64) + 1}
        | {column.name: _typed(column, columns[column.name], keep) for column in spec.columns},
        copy=False,  # the arrays are fresh; consolidating them would copy every column
    )
    rejects = _rejects_frame(
        _reject_part(spec.name, name, rule, mask, columns[name].raw)
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
            name: float(1.0 - column.empty.mean()) if rows else 1.0
            for name, column in columns.items()
        },
        key=spec.key,
        key_uniqueness=_uniqueness(key, key_repeats),
    )
    return _TableCheck(valid=valid, rejects=rejects, quality=quality)


def _arrow_column(raw: pd.DataFrame, name: str, rows: int) -> _Arrow:
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


def _check_column(column: ColumnSpec, raw: _Arrow) -> tuple[_Column, list[tuple[str, np.ndarray]]]:
    empty = _empty(raw)
    values, wrong_type = _PARSERS[column.kind](raw)
    wrong_type &= ~empty
    usable = ~empty & ~wrong_type
    failures: list[tuple[str, np.ndarray]] = []
    if column.required:
        failures.append((REQUIRED, empty))
    if column.kind is not Kind.STRING:
        failures.append((f"type:{column.kind}", wrong_type))
    if column.values:
        allowed = pc.is_in(values, value_set=pa.array(column.values, values.type))
        failures.append((ENUM, usable & ~_flags(allowed)))
    if column.pattern is not None:
        matches = pc.match_substring_regex(values, PATTERNS[column.pattern])
        failures.append((f"pattern:{column.pattern}", usable & ~_flags(matches)))
    if column.minimum is not None:
        failures.append((f"min:{column.minimum}", usable & (values < column.minimum)))
    if column.unique:
        failures.append((UNIQUE, _later_repeats(values, usable)))
    return _Column(raw=raw, values=values, empty=empty, usable=usable), failures


def _numpy(values: _Arrow) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        return values.to_numpy()
    return values.to_numpy(zero_copy_only=False)


def _flags(mask: _Arrow) -> np.ndarray:
    """A boolean arrow result as numpy, null read as False."""
    return _numpy(pc.fill_null(mask, False))


def _empty(raw: _Arrow) -> np.ndarray:
    """Null, NaN, or text that is empty or only white space."""
    if raw.null_count or pa.types.is_floating(raw.type):
        empty = _numpy(raw.is_null(nan_is_null=True))
    else:
        empty = np.zeros(len(raw), dtype=bool)
    if _is_text(raw.type):
        empty |= _flags(pc.utf8_is_space(raw)) | _flags(pc.equal(pc.binary_length(raw), 0))
    return empty


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _as_text(values: _Arrow) -> pa.Array:
    """One contiguous large_string array of ``values``, for comparing keys across tables."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.large_string())


def _later_repeats(values: _Arrow, usable: np.ndarray) -> np.ndarray:
    """True for every usable occurrence of a text after its first usable occurrence."""
    everything = bool(usable.all())
    rows = np.arange(len(values)) if everything else np.flatnonzero(usable)
    texts = values if everything else values.take(pa.array(rows))
    candidates = _maybe_repeated(texts)
    repeats = np.zeros(len(values), dtype=bool)
    if candidates.any():
        # Exact comparison, on the few texts sharing a hash with another (all when none was hashed).
        maybe = pd.Series(texts.filter(pa.array(candidates)).to_pandas())
        repeats[rows[candidates]] = maybe.duplicated(keep="first").to_numpy()
    return repeats


def _maybe_repeated(texts: _Arrow) -> np.ndarray:
    """False for texts certainly unique in ``texts``; True where a text may repeat.

    Arrow and pandas hash tables take 4-15 s on 12 M distinct keys (random memory access per string);
    here each text, padded to one byte width, is hashed from 8-byte windows of the data buffer and the
    hashes are sorted (12 M uint64: under 1 s). Equal texts have equal hashes, so texts with a hash of
    their own are unique; the rest are compared exactly by the caller.
    """
    if len(texts) < 2 or texts.null_count:
        return np.ones(len(texts), dtype=bool)
    texts = texts.cast(pa.large_string())
    lengths = _numpy(pc.binary_length(texts))
    width = max(int(lengths.max()), 8)
    if (lengths != width).any():
        texts = pc.utf8_rpad(texts, width=width, padding=" ")
        if not pc.all(pc.equal(pc.binary_length(texts), width)).as_py():
            return np.ones(len(texts), dtype=bool)  # multi-byte characters: no fixed width
    chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
    hashes = np.concatenate([_window_hashes(chunk, width) for chunk in chunks if len(chunk)])
    hashes = hashes * np.uint64(0x9E3779B97F4A7C15) ^ lengths.astype(np.uint64)  # not the padding
    ordered = np.sort(hashes)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(shared) == 0:
        return np.zeros(len(texts), dtype=bool)
    return np.isin(hashes, shared)


def _window_hashes(texts: pa.LargeStringArray, width: int) -> np.ndarray:
    """Hash of each text of ``width`` bytes, read as 8-byte words straight from the data buffer."""
    offsets = np.frombuffer(
        texts.buffers()[1], np.int64, count=len(texts) + 1, offset=8 * texts.offset
    )
    hashes = np.zeros(len(texts), dtype=np.uint64)
    for start in (*range(0, width - 8, 8), width - 8):
        window = np.ndarray(
            (len(texts),),
            dtype="<u8",
            buffer=texts.buffers()[2],
            offset=int(offsets[0]) + start,
            strides=(width,),
        )
        hashes = hashes * np.uint64(0x9E3779B97F4A7C15) ^ window
    return hashes


def _uniqueness(key: _Column, repeats: np.ndarray) -> float:
    present = int(key.usable.sum())
    return 1.0 - int(repeats.sum()) / present if present else 1.0


# Parsers: raw arrow (chunked) array -> (typed values, wrong_type mask). Wrong-type is only read where not empty.


def _no_failures(raw: _Arrow) -> np.ndarray:
    return np.zeros(len(raw), dtype=bool)


def _parse_string(raw: _Arrow) -> tuple[_Arrow, np.ndarray]:
    if not _is_text(raw.type):
        raw = raw.cast(pa.string())
    return raw, _no_failures(raw)


def _parse_decimal(raw: _Arrow) -> tuple[np.ndarray, np.ndarray]:
    if _is_text(raw.type):
        ok = _flags(pc.match_substring_regex(raw, _DECIMAL_TEXT)) | _numpy(raw.is_null())
        numbers = _cast_where(raw, ok, pa.float64())
    elif (
        pa.types.is_integer(raw.type)
        or pa.types.is_floating(raw.type)
        or pa.types.is_decimal(raw.type)
    ):
        numbers = raw.cast(pa.float64())
    else:
        return np.full(len(raw), np.nan), np.ones(len(raw), dtype=bool)
    values = _numpy(numbers).astype(np.float64, copy=False)
    return values, ~np.isfinite(values)


def _parse_int(raw: _Arrow) -> tuple[np.ndarray, np.ndarray]:
    if _is_text(raw.type):
        ok = _flags(pc.match_substring_regex(raw, _INT_TEXT))
        numbers = _cast_where(raw, ok | _numpy(raw.is_null()), pa.int64())
        return _numpy(pc.fill_null(numbers, 0)), ~ok
    if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type):
        floats = _numpy(raw.cast(pa.float64()))
        ok = np.isfinite(floats) & (np.abs(floats) < 2.0**53) & (floats == np.trunc(floats))
        return np.where(ok, floats, 0).astype(np.int64), ~ok
    return np.zeros(len(raw), dtype=np.int64), np.ones(len(raw), dtype=bool)


def _cast_where(texts: _Arrow, ok: np.ndarray, kind: pa.DataType) -> _Arrow:
    """Cast the texts marked ``ok`` to ``kind``, the others to null (no copy of clean text)."""
    if not ok.all():
        texts = pc.if_else(pa.array(ok), texts, pa.scalar(None, texts.type))
    return texts.cast(kind)


def _parse_bool(raw: _Arrow) -> tuple[np.ndarray, np.ndarray]:
    if pa.types.is_boolean(raw.type):
        return _flags(raw), _no_failures(raw)
    if _is_text(raw.type):
        lower = pc.utf8_lower(raw)
        ok = _flags(pc.is_in(lower, value_set=pa.array(["true", "false"], lower.type)))
        return _flags(pc.equal(lower, "true")), ~ok
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


def _parse_temporal(kind: Kind, raw: _Arrow) -> tuple[np.ndarray, np.ndarray]:
    if _is_text(raw.type):
        # Dates repeat a lot (12 M tax rows hold a few dozen periods): parse each distinct text once.
        encoded = pc.dictionary_encode(raw)
        if isinstance(encoded, pa.ChunkedArray):  # chunks share one dictionary; indices are small
            encoded = encoded.combine_chunks()
        distinct = pd.Series(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        if len(distinct) == 0:
            return np.full(len(raw), np.datetime64("NaT", "ns")), _no_failures(raw)
        parsed, ok = _TEXT_PARSERS[kind](distinct)
        codes = _numpy(pc.fill_null(encoded.indices, 0))
        values = parsed[codes]
        if encoded.null_count:
            values[_flags(encoded.is_null())] = np.datetime64("NaT", "ns")
        return values, ~ok[codes]
    if kind is not Kind.PERIOD and (pa.types.is_date(raw.type) or pa.types.is_timestamp(raw.type)):
        values, ok = _in_datetime_range(pd.Series(_numpy(raw)))
        return values, ~ok
    return np.full(len(raw), np.datetime64("NaT", "ns")), np.ones(len(raw), dtype=bool)


_PARSERS = {
    Kind.STRING: _parse_string,
    Kind.DECIMAL: _parse_decimal,
    Kind.INT: _parse_int,
    Kind.BOOL: _parse_bool,
    Kind.DATE: lambda raw: _parse_temporal(Kind.DATE, raw),
    Kind.PERIOD: lambda raw: _parse_temporal(Kind.PERIOD, raw),
    Kind.TIMESTAMP: lambda raw: _parse_temporal(Kind.TIMESTAMP, raw),
}


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


def _reject_part(table: str, column: str, rule: str, mask: np.ndarray, raw: _Arrow) -> pd.DataFrame:
    rows = np.flatnonzero(mask)
    return pd.DataFrame(
        {
            "table": table,
            "row": rows.astype(np.int64) + 1,
            "column": column,
            "rule": rule,
            "value": _texts(raw.take(pa.array(rows))),
        }
    )


def _texts(values: _Arrow) -> list[str]:
    """Values as the text a reader of the rejects sees ("" for an empty cell)."""
    try:
        text = values if _is_text(values.type) else values.cast(pa.string())
        return pc.fill_null(text, "").to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return ["" if value is None else str(value) for value in values.to_pylist()]


def _rejects_frame(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Rejects, sorted by table, row, column and rule."""
    frames = [part for part in parts if len(part)]
    if not frames:
        return pd.DataFrame(
            {
                name: pd.Series([], dtype="int64" if name == "row" else "str")
                for name in REJECT_COLUMNS
            }
        )
    rejects = pd.concat(frames, ignore_index=True)
    rejects = rejects.astype({"table": "str", "column": "str", "rule": "str", "value": "str"})
    return rejects.sort_values(list(REJECT_COLUMNS[:4]), kind="stable", ignore_index=True)


def write_rejects(rejects: pd.DataFrame, path: str | Path) -> Path:
    """Write ``rejects.csv``: ``table, row, column, rule, value`` sorted by table, row, column.

    The parent folder is created when missing; an empty rejects frame writes the header alone.
    Refused values are written inert for spreadsheets (:func:`features.csv_output.write_csv`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv(_rejects_frame([rejects.loc[:, list(REJECT_COLUMNS)]]), path)


def reject_counts(rejects: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Number of reject lines per table and rule, for run summaries."""
    counts = rejects.groupby(["table", "rule"], sort=True).size()
    summary: dict[str, dict[str, int]] = {}
    for (table, rule), count in counts.items():
        summary.setdefault(str(table), {})[str(rule)] = int(count)
    return summary


def extract_summary(extract: Extract) -> dict[str, Any]:
    """Per table: rows in, valid and refused, completeness, validity and key uniqueness; rejects per rule."""
    return {
        "tables": {name: quality.as_dict() for name, quality in extract.quality.items()},
        "rejects": reject_counts(extract.rejects),
    }


# --------------------------------------------------------------------------------------------- extract


def check_extract(data_dir: str | Path) -> Extract:
    """Read and validate every contract table of ``data_dir``, without the reject limit.

    For the ``validate`` command, which reports rejects whatever their share; scoring and training
    use :func:`load_extract`.
    """
    data_dir = Path(data_dir)
    frames: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    quality: dict[str, TableQuality] = {}
    # only the keys a later table is compared with are kept
    compared = {spec.key_differs_from for spec in CONTRACT.values()}
    keys: dict[str, _Arrow] = {}
    for spec in CONTRACT.values():
        started = time.perf_counter()
        raw, path = _read(spec, data_dir)
        if spec.name in compared:
            keys[spec.name] = _arrow_column(raw, spec.key, len(raw))
        taken = keys[spec.key_differs_from] if spec.key_differs_from else None
        check = _check_table(spec, raw, source="" if path is None else str(path), taken_keys=taken)
        frames[spec.name] = check.valid
        rejects.append(check.rejects)
        quality[spec.name] = check.quality
        logger.info(
            "%s: %d rows, %d valid, %d refused (%.1f s)",
            spec.name,
            check.quality.rows_in,
            check.quality.rows_valid,
            check.quality.rows_refused,
            time.perf_counter() - started,
        )
    return Extract(**frames, rejects=_rejects_frame(rejects), quality=quality)


def enforce_reject_limit(extract: Extract, max_reject_share: float) -> None:
    """Raise :class:`TooManyRejectsError` for the first table (contract order) refusing too many rows.

    The message names the table, the column and rule with most rejects, and its first row and value.
    """
    for table, quality in extract.quality.items():
        if quality.refused_share <= max_reject_share:
            continue
        rejects = extract.rejects[extract.rejects["table"] == table]
        counts = rejects.groupby(["column", "rule"]).size().reset_index(name="count")
        worst = counts.sort_values(
            ["count", "column", "rule"], ascending=[False, True, True], kind="stable"
        ).iloc[0]
        example = rejects[
            (rejects["column"] == worst["column"]) & (rejects["rule"] == worst["rule"])
        ].iloc[0]
        raise TooManyRejectsError(
            TOO_MANY_REJECTS.format(
                table=table,
                refused=quality.rows_refused,
                rows=quality.rows_in,
                share=quality.refused_share,
                limit=max_reject_share,
                column=worst["column"],
                rule=worst["rule"],
                count=int(worst["count"]),
                row=int(example["row"]),
                value=str(example["value"]),
            )
        )


def load_extract(data_dir: str | Path, settings: Settings) -> Extract:
    """Read and validate every contract table; stop when a table refuses too many rows.

    Parameters
    ----------
    data_dir : str or Path
        Holds ``<table>.csv`` or ``<table>.parquet`` per table; never modified.
    settings : Settings
        ``settings.contract.max_reject_share`` is the largest share of refused rows a table may have.

    Returns
    -------
    Extract
        Valid typed frames (``investigation_outcomes`` empty when absent), rejects and quality.

    Raises
    ------
    MissingTableError, MissingColumnError, UnreadableTableError, TooManyRejectsError
        All :class:`ContractError`, with one-line messages.
    """
    extract = check_extract(data_dir)
    enforce_reject_limit(extract, settings.contract.max_reject_share)
    return extract
