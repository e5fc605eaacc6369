"""Reading a contract table from its file (CSV or Parquet) as delivered, before any check."""

from __future__ import annotations

import csv
import difflib
import hashlib
import logging
import re
from collections.abc import Collection, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from features.contract.rejects import REJECT_COLUMNS
from features.contract.specs import FILE_ENCODING, FILE_FIELDS, ContractError, TableSpec, table_spec

logger = logging.getLogger(__name__)

MISSING_TABLE = "missing table {table}: no {table}.csv or {table}.parquet in {data_dir}"
AMBIGUOUS_TABLE = (
    "two files for table {table} in {data_dir}: keep either {table}.csv or {table}.parquet"
)
MISSING_COLUMN = "missing column {column} in table {table} ({source}){hint}"
MISSING_LIVE_COLUMN = (
    "missing column {column} in table {table} ({source}){hint}: it says which claims have ended, so without "
    "it every claim would be scored as live; if the source has no such column, say so in the configuration "
    "(contract: {{absent_columns: {{{table}: [{column}]}}}})"
)
DOUBLED_COLUMN = "table {table} ({source}) names column {column} {times} times in its header: keep one"
UNREADABLE_TABLE = "cannot read table {table} from {path}: {problem}"
NESTED_COLUMN = (
    "cannot read table {table} from {path}: column {column} holds {kind} values; the contract takes one "
    "text, number, date or true/false value per cell"
)

# Fewer, larger CSV chunks: measured faster than the 1 MB default at 12 M rows.
_CSV_BLOCK_BYTES = 16 << 20


class MissingTableError(ContractError):
    """A required table has no file in the data directory."""


class MissingColumnError(ContractError):
    """A table lacks a column the contract requires."""


class DoubledColumnError(ContractError):
    """A table's header names a column more than once."""


class UnreadableTableError(ContractError):
    """A table file cannot be parsed at all (not CSV / parquet, not UTF-8, ragged rows)."""


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


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in blocks (a file of any size in little memory)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    raw, _, _, _ = read_source(table_spec(table), Path(data_dir))
    return raw.reset_index(drop=True)


def read_source(spec: TableSpec, data_dir: Path,
                absent: Collection[str] = ()) -> tuple[pd.DataFrame, Path | None, list[str], pd.DataFrame]:
    """The table's contract columns as delivered, its file, the optional columns its file lacks, and the
    rows the file itself spoils (reject lines: bytes that are not UTF-8, a row of the wrong number of fields).

    A CSV file Arrow cannot read whole is read again row by row: each spoiled row is refused with
    its row number and the rest is kept, so one bad byte or a ragged row never refuses a table.

    ``absent`` names columns the configuration says the source does not deliver: a column that says
    which claims have ended may be missing only when named there. The frame's index is each row's
    0-based data row number in the file: blank lines, which hold no row, still count, so the rows
    after one keep their numbers.
    """
    path = table_path(data_dir, spec.name)
    if path is None:
        if spec.optional:
            empty = {name: pd.Series([], dtype="str") for name in spec.column_names}
            return pd.DataFrame(empty), None, [], _no_faults()
        raise MissingTableError(MISSING_TABLE.format(table=spec.name, data_dir=data_dir))
    try:
        header = _csv_header(path) if path.suffix == ".csv" else pq.read_schema(path).names
        present = contract_columns(spec, header, path)
        missing = missing_optional_columns(spec, header, path, absent)
        if path.suffix == ".csv":
            try:
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
            except (pa.ArrowInvalid, UnicodeDecodeError):
                frame, faults = _read_csv_row_by_row(spec, path, header, present)
                return frame, path, missing, faults
        else:
            arrow = pq.read_table(path, columns=present)
            _refuse_nested_columns(spec, arrow.schema, path)
    except (pa.ArrowException, OSError, UnicodeDecodeError, csv.Error) as error:
        problem = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise UnreadableTableError(
            UNREADABLE_TABLE.format(table=spec.name, path=path, problem=problem)
        ) from error
    frame = arrow.to_pandas()
    if path.suffix == ".csv":
        numbers = _csv_row_numbers(path, len(frame))
        if numbers is not None:
            frame.index = numbers
    return frame, path, missing, _no_faults()


def _no_faults() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype="int64" if name == "row" else "str") for name in REJECT_COLUMNS})


def _read_csv_row_by_row(spec: TableSpec, path: Path, header: list[str],
                         present: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of a CSV file Arrow refused as a whole, and reject lines for the rows that spoil it.

    Undecodable bytes are kept as escapes while reading, so the row holding them can be found and
    refused (``file:encoding``); a row of more or fewer fields than the header is refused too
    (``file:fields``). Row numbers count data rows from 1, blank lines included, as elsewhere.
    """
    positions = [header.index(name) for name in present]
    kept: list[list[str | None]] = []
    numbers: list[int] = []
    faults: list[tuple[int, str, str]] = []
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)  # the header
        for number, row in enumerate(reader):
            if not row:
                continue
            text = ",".join(row)
            if any("\udc80" <= character <= "\udcff" for character in text):
                faults.append((number + 1, FILE_ENCODING, text.encode("utf-8", "surrogateescape")
                               .decode("utf-8", "replace")[:200]))
            elif len(row) != len(header):
                faults.append((number + 1, FILE_FIELDS, f"{len(row)} fields, the header has {len(header)}: {text[:160]}"))
            else:
                kept.append([row[position] or None for position in positions])
                numbers.append(number)
    if faults:
        logger.warning("table %s: %d rows of %s could not be read as they stand: refused, the rest read", spec.name,
                       len(faults), path)
    else:  # Arrow's reader refuses some files Python's reads whole (a NUL at a field's end)
        logger.info("table %s: %s read row by row, every row as it stands", spec.name, path)
    frame = pd.DataFrame(kept, columns=present, index=np.array(numbers, dtype=np.int64), dtype="str")
    return frame, pd.DataFrame(
        {"table": spec.name, "row": np.array([fault[0] for fault in faults], dtype=np.int64), "column": "",
         "rule": [fault[1] for fault in faults], "value": [fault[2] for fault in faults]})


def _csv_row_numbers(path: Path, rows: int) -> np.ndarray | None:
    """0-based data row numbers of the file's ``rows`` rows, blank lines counted; ``None`` when no
    blank line comes between rows (the numbers are then the rows' positions)."""
    if not _holds_blank_line(path):
        return None
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)  # the header
        numbers = np.fromiter((number for number, row in enumerate(reader) if row), dtype=np.int64)
    if len(numbers) != rows or numbers[-1] == rows - 1:  # read otherwise than Arrow did, or blanks only at the end
        return None
    return numbers


def _holds_blank_line(path: Path) -> bool:
    """Whether the file holds an empty line (a fast byte scan: most files hold none)."""
    blank = re.compile(rb"\n\r?\n")
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CSV_BLOCK_BYTES):
            if blank.search(tail + chunk):
                return True
            tail = chunk[-2:]
    return False


def _refuse_nested_columns(spec: TableSpec, schema: pa.Schema, path: Path) -> None:
    """Raise :class:`UnreadableTableError` naming a parquet column of lists, structs or maps."""
    for field in schema:
        if pa.types.is_nested(field.type):
            raise UnreadableTableError(NESTED_COLUMN.format(table=spec.name, path=path, column=field.name,
                                                            kind=field.type))


def _csv_header(path: Path) -> list[str]:
    # a bad byte further down is a fault of its row (read_source), not of the header
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return next(csv.reader(handle), [])


def _did_you_mean(column: str, header: Iterable[str], spec: TableSpec) -> str:
    """`` (did you mean X?)`` for a header column outside the contract that resembles ``column``."""
    strangers = [name for name in header if name not in spec.column_names]
    close = difflib.get_close_matches(column, strangers, n=1, cutoff=0.6)
    if not close:
        close = [name for name in strangers if column in name or name in column][:1]
    return f" (the header has {close[0]}: did you mean {column}?)" if close else ""


def contract_columns(spec: TableSpec, header: Iterable[str], source: object) -> list[str]:
    """The contract columns found in ``header``, in contract order.

    Raises :class:`DoubledColumnError` for a column named twice and :class:`MissingColumnError` for a
    missing required one.
    """
    header = [str(name) for name in header]
    counts = {name: header.count(name) for name in dict.fromkeys(header)}
    for name, times in counts.items():
        if times > 1:
            raise DoubledColumnError(DOUBLED_COLUMN.format(table=spec.name, source=source, column=name,
                                                           times=times))
    for column in spec.columns:
        if column.required and column.name not in counts:
            raise MissingColumnError(MISSING_COLUMN.format(
                column=column.name, table=spec.name, source=source, hint=_did_you_mean(column.name, header, spec)))
    return [name for name in spec.column_names if name in counts]


def missing_optional_columns(spec: TableSpec, header: Iterable[str], source: object,
                             absent: Collection[str] = ()) -> list[str]:
    """The optional contract columns ``header`` lacks; a lacking column that says which claims have
    ended stops the run (:class:`MissingColumnError`) unless ``absent`` names it."""
    header = [str(name) for name in header]
    missing = [column for column in spec.columns if not column.required and column.name not in header]
    for column in missing:
        if column.ends_claims and column.name not in absent:
            raise MissingColumnError(MISSING_LIVE_COLUMN.format(
                column=column.name, table=spec.name, source=source, hint=_did_you_mean(column.name, header, spec)))
    for column in missing:
        logger.warning("table %s has no optional column %s%s: read as empty", spec.name, column.name,
                       _did_you_mean(column.name, header, spec))
    return [column.name for column in missing]
