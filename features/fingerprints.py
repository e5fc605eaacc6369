"""What a model version was made from: fingerprints of the input files and of the declared feature set.

A version is tagged with both (``data_fingerprint``, ``feature_set``), so an oversight
panel can tell whether two versions saw the same extract and the same features, and a
scoring run can say whether it scores the data its model was trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from features.contract import Extract, file_sha256
from features.definitions import FeatureSpec

FINGERPRINT_COLUMNS = ["table", "file", "bytes", "sha256", "rows"]
FEATURE_DEFINITION_COLUMNS = ["name", "label", "meaning", "unit", "suspicious", "applies_to", "neutral",
                              "context", "reason", "housing_reason"]


def extract_row_counts(extract: Extract) -> dict[str, int]:
    """Data rows read from each table of a validated extract (valid and refused)."""
    return {table: quality.rows_in for table, quality in extract.quality.items()}


def fingerprint_inputs(data_dir: str | Path, rows: Mapping[str, int],
                       digests: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The fingerprint of the file of each table in ``rows``.

    Parameters
    ----------
    data_dir : path
        A data directory in the contract (``<table>.csv`` or ``<table>.parquet``).
    rows : mapping
        Data rows read from each table (valid and refused), by table name
        (``extract_row_counts``); other files of ``data_dir`` are not inputs.
    digests : mapping, optional
        sha256 of files already digested this run, by file name (``Extract.digests``):
        those files are not read again.

    Returns
    -------
    DataFrame
        ``table``, ``file``, ``bytes``, ``sha256`` (of the file's bytes), ``rows``;
        one row per file, sorted by file name.
    """
    records = []
    for path in sorted(Path(data_dir).iterdir()):
        if path.suffix not in (".csv", ".parquet") or path.stem not in rows or not path.is_file():
            continue
        records.append({
            "table": path.stem, "file": path.name, "bytes": path.stat().st_size,
            "sha256": (digests or {}).get(path.name) or file_sha256(path), "rows": int(rows[path.stem]),
        })
    return pd.DataFrame.from_records(records, columns=FINGERPRINT_COLUMNS)


def data_fingerprint(fingerprints: pd.DataFrame) -> str:
    """One sha256 over the file fingerprints: equal iff every input file is byte-identical."""
    lines = sorted(f"{row.file} {row.sha256}" for row in fingerprints.itertuples(index=False))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def feature_definitions(specs: Sequence[FeatureSpec]) -> pd.DataFrame:
    """The declared features as a table, in model order: one row per feature.

    Columns ``name``, ``label`` (the name a person reads), ``meaning``, ``unit``,
    ``suspicious`` (the suspicious direction), ``applies_to``, ``neutral``, ``context``
    (the columns it reads, ``;``-separated), ``reason`` and ``housing_reason`` (the
    sentences an investigator reads).
    """
    return pd.DataFrame.from_records(
        [{
            "name": spec.name, "label": spec.label, "meaning": spec.meaning, "unit": spec.unit,
            "suspicious": spec.suspicious, "applies_to": spec.applies_to, "neutral": float(spec.neutral),
            "context": ";".join(spec.context),
            "reason": spec.reason, "housing_reason": spec.housing_reason or "",
        } for spec in specs],
        columns=FEATURE_DEFINITION_COLUMNS,
    )


def feature_set_hash(definitions: pd.DataFrame) -> str:
    """sha256 of the feature definitions: changes with any declared field or the order of features."""
    return hashlib.sha256(definitions.to_json(orient="records").encode()).hexdigest()
