"""The input data contract in code (``DATA_CONTRACT.md``), one concept per module.

- :mod:`~features.contract.specs`: the seven tables declared once (columns, keys, rules, value lists);
- :mod:`~features.contract.reading`: a table's file read as delivered;
- :mod:`~features.contract.parsing` and :mod:`~features.contract.repeats`: typed values from text,
  and repeated keys, as whole-column kernels;
- :mod:`~features.contract.checks`: a table held to its declaration (valid frame, rejects, quality);
- :mod:`~features.contract.rejects`: the refused rows, one line per broken rule;
- :mod:`~features.contract.extract`: every table of a data directory, and the reject limit.

The names other packages use are importable from here.
"""

from features.contract.checks import TableQuality, run_month, validate_table
from features.contract.extract import (
    READ_FROM_CACHE,
    READ_FROM_FILES,
    Extract,
    TooManyRejectsError,
    check_extract,
    enforce_reject_limit,
    extract_summary,
)
from features.contract.reading import (
    DoubledColumnError,
    MissingColumnError,
    MissingTableError,
    UnreadableTableError,
    file_sha256,
    read_table,
    table_path,
)
from features.contract.rejects import REJECT_COLUMNS, reject_counts, write_rejects
from features.contract.specs import (
    APPLICATION_CHANNELS,
    BENEFIT_TYPES,
    CONTRACT,
    DISABILITY_ANSWERS,
    ENUM,
    EQUALITY_COLUMNS,
    ETHNICITY_GROUPS,
    FILE_ENCODING,
    FILE_FIELDS,
    FUTURE_PERIOD,
    INCOME_TYPES,
    NATIONALITY_GROUPS,
    OUTCOMES,
    PATTERNS,
    PROPERTY_TYPES,
    REQUIRED,
    SCHEMES,
    SEXES,
    TABLES,
    TEXT_CONTROL,
    TEXT_LENGTH,
    TEXT_MAX_CHARACTERS,
    UNIQUE,
    UNIQUE_SUBJECT_REF,
    ColumnSpec,
    ContractError,
    Kind,
    OrderRule,
    TableSpec,
    table_spec,
)

__all__ = [
    "APPLICATION_CHANNELS",
    "DISABILITY_ANSWERS",
    "ETHNICITY_GROUPS",
    "INCOME_TYPES",
    "NATIONALITY_GROUPS",
    "PROPERTY_TYPES",
    "SCHEMES",
    "SEXES",
    "BENEFIT_TYPES",
    "CONTRACT",
    "ENUM",
    "EQUALITY_COLUMNS",
    "OUTCOMES",
    "PATTERNS",
    "READ_FROM_CACHE",
    "READ_FROM_FILES",
    "REJECT_COLUMNS",
    "REQUIRED",
    "TABLES",
    "UNIQUE",
    "UNIQUE_SUBJECT_REF",
    "FILE_ENCODING",
    "FILE_FIELDS",
    "FUTURE_PERIOD",
    "TEXT_CONTROL",
    "TEXT_LENGTH",
    "TEXT_MAX_CHARACTERS",
    "ColumnSpec",
    "ContractError",
    "Extract",
    "Kind",
    "DoubledColumnError",
    "MissingColumnError",
    "MissingTableError",
    "OrderRule",
    "TableQuality",
    "TableSpec",
    "TooManyRejectsError",
    "UnreadableTableError",
    "check_extract",
    "enforce_reject_limit",
    "extract_summary",
    "file_sha256",
    "read_table",
    "reject_counts",
    "run_month",
    "table_path",
    "table_spec",
    "validate_table",
    "write_rejects",
]
