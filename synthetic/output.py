"""Column layout of the contract tables and the writers that append chunks to files.

CSV follows the data contract: UTF-8 with a header, ISO dates, ``true``/``false``,
empty cell for null, money with two decimals, ISO 8601 timestamps. Parquet holds
the same columns typed (money as float64, dates as date32, timestamps in seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

STRING, DATE, MONEY, INT, BOOL, TIMESTAMP = "string", "date", "money", "int", "bool", "timestamp"

TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "benefit_claims": (
        ("claim_id", STRING), ("nino", STRING), ("first_name", STRING), ("surname", STRING),
        ("date_of_birth", DATE), ("uprn", STRING), ("postcode", STRING), ("benefit_type", STRING),
        ("claim_start", DATE), ("claim_end", DATE), ("declared_monthly_earnings", MONEY),
        ("declared_savings", MONEY), ("declared_partner", BOOL), ("adults_in_household", INT),
        ("children_in_household", INT), ("monthly_housing_costs", MONEY), ("monthly_award", MONEY),
        ("bank_account_token", STRING), ("phone_token", STRING), ("email_token", STRING),
        ("application_channel", STRING), ("submitted_at", TIMESTAMP),
    ),
    "tax_records": (
        ("record_id", STRING), ("nino", STRING), ("period", STRING), ("income_type", STRING),
        ("payer_ref", STRING), ("amount", MONEY),
    ),
    "housing_claims": (
        ("housing_claim_id", STRING), ("la_code", STRING), ("scheme", STRING), ("nino", STRING),
        ("first_name", STRING), ("surname", STRING), ("date_of_birth", DATE), ("uprn", STRING),
        ("postcode", STRING), ("start_date", DATE), ("end_date", DATE), ("monthly_rent", MONEY),
        ("occupants_declared", INT), ("landlord_ref", STRING), ("monthly_award", MONEY),
    ),
    "address_register": (
        ("uprn", STRING), ("postcode", STRING), ("la_code", STRING), ("property_type", STRING),
        ("bedrooms", INT),
    ),
    "electoral_register": (
        ("elector_id", STRING), ("uprn", STRING), ("first_name", STRING), ("surname", STRING),
        ("date_of_birth", DATE), ("registered_from", DATE),
    ),
    "equality_monitoring": (
        ("subject_ref", STRING), ("sex", STRING), ("ethnicity_group", STRING), ("disability", STRING),
        ("nationality_group", STRING),
    ),
    "investigation_outcomes": (
        ("subject_ref", STRING), ("outcome", STRING), ("closed_on", DATE), ("typology", STRING),
        ("control", BOOL),
    ),
}
"""Every contract table's columns in order, with their kind."""

TRUTH_COLUMNS = (("table", STRING), ("record_ref", STRING), ("person_id", STRING), ("typology", STRING))
"""Columns of the ground-truth file."""

FORMATS = ("csv", "parquet")

_PARQUET_TYPES = {STRING: pa.string(), DATE: pa.date32(), MONEY: pa.float64(), INT: pa.int64(),
                  BOOL: pa.bool_(), TIMESTAMP: pa.timestamp("s")}
_CSV_TYPES = _PARQUET_TYPES | {MONEY: pa.decimal128(14, 2), TIMESTAMP: pa.string()}


def arrow_table(columns: tuple[tuple[str, str], ...], values: dict[str, np.ndarray]) -> pa.Table:
    """A typed Arrow table of the given columns (NaN / NaT / None become null).

    Parameters
    ----------
    columns : tuple of (name, kind)
        Column layout (see ``TABLE_COLUMNS``).
    values : dict of str to numpy.ndarray or pyarrow.Array
        One array per column name (Arrow arrays are taken as they are).

    Returns
    -------
    pyarrow.Table
        Columns in the parquet types; money rounded to pence.
    """
    arrays = []
    for name, kind in columns:
        data = values[name]
        if isinstance(data, pa.Array):
            arrays.append(data)
            continue
        if kind == MONEY:
            data = np.round(np.asarray(data, dtype=float), 2)
        elif kind == DATE:
            data = np.asarray(data).astype("datetime64[D]")
        elif kind == TIMESTAMP:
            data = np.asarray(data).astype("datetime64[s]")
        arrays.append(pa.array(data, type=_PARQUET_TYPES[kind], from_pandas=True))
    return pa.Table.from_arrays(arrays, names=[name for name, _ in columns])


def _for_csv(table: pa.Table, columns: tuple[tuple[str, str], ...]) -> pa.Table:
    """Money as two-decimal decimals and timestamps as ``YYYY-MM-DDTHH:MM:SS`` text."""
    arrays = []
    for (_, kind), column in zip(columns, table.columns, strict=True):
        if kind == MONEY:
            column = pc.cast(column, _CSV_TYPES[MONEY], safe=False)
        elif kind == TIMESTAMP:
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=[name for name, _ in columns])


class TableSink:
    """Appends chunks of one table to a CSV or parquet file.

    Parameters
    ----------
    path : pathlib.Path
        File to write (replaced).
    columns : tuple of (name, kind)
        Column layout.
    file_format : {"csv", "parquet"}
        Output format.
    """

    def __init__(self, path: Path, columns: tuple[tuple[str, str], ...], file_format: str) -> None:
        self.path = path
        self.columns = columns
        self.file_format = file_format
        self.rows = 0
        kinds = _CSV_TYPES if file_format == "csv" else _PARQUET_TYPES
        schema = pa.schema([(name, kinds[kind]) for name, kind in columns])
        if file_format == "csv":
            # Arrow quotes header names; the contract's files have a plain header.
            self._file = path.open("wb")
            self._file.write((",".join(schema.names) + "\n").encode())
            options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
            self._writer = pa_csv.CSVWriter(self._file, schema, write_options=options)
        else:
            self._file = None
            self._writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        """Append a chunk (an ``arrow_table`` of this sink's columns)."""
        if self.file_format == "csv":
            table = _for_csv(table, self.columns)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file."""
        self._writer.close()
        if self._file is not None:
            self._file.close()
