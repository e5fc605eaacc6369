"""The ``validate`` command: the contract check alone, no linking, no model.

Kept apart from the Prefect flows so that checking an extract on the ``local`` engine needs no
workspace and starts no orchestration server; on ``dask`` it runs as a Prefect flow
(:mod:`pipelines.partitioned_check`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from configs.settings import Settings
from features.contract import (
    Extract,
    TableChecker,
    check_extract,
    check_table,
    enforce_reject_limit,
    extract_summary,
    write_rejects,
)
from pipelines.engine import DASK

REJECTS_FILE = "rejects.csv"
SUMMARY_FILE = "run_summary.json"


def format_tables(summary: dict[str, Any]) -> list[str]:
    """Rows in, valid and refused per input table, then refused rows per table and rule."""
    lines = [f"{'input table':<24} {'rows in':>12} {'valid':>12} {'refused':>12}"]
    for table, counts in summary["tables"].items():
        lines.append(f"{table:<24} {counts['rows_in']:>12,} {counts['rows_valid']:>12,} "
                     f"{counts['rows_refused']:>12,}")
    for table, counts in summary["tables"].items():
        if counts.get("missing_columns"):
            lines.append(f"  {table} has no column {', '.join(counts['missing_columns'])}: read as empty")
    total = sum(count for rules in summary["rejects"].values() for count in rules.values())
    lines += ["", f"rejects: {total:,}"]
    for table, rules in summary["rejects"].items():
        for rule, count in rules.items():
            lines.append(f"  {table:<24} {rule:<34} {count:>10,}")
    return lines


def write_validation(extract: Extract, data_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write the rejects of a checked extract (``rejects.csv``) and its summary (``run_summary.json``).

    Every run writes them before the reject limit is enforced, so a stopped run still leaves
    every refused row, with its reason, for the data owner. An earlier run's summary is removed
    first and each file is written beside its place and renamed into it, so a run stopped
    part-way never leaves a summary beside partial rejects.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / SUMMARY_FILE).unlink(missing_ok=True)
    rejects_path = out / REJECTS_FILE
    partial_rejects = write_rejects(extract.rejects, out / f".{REJECTS_FILE}.partial")
    partial_rejects.replace(rejects_path)
    summary = {"data_dir": str(data_dir), **extract_summary(extract),
               "rejects_file": str(rejects_path)}
    partial_summary = out / f".{SUMMARY_FILE}.partial"
    partial_summary.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    partial_summary.replace(out / SUMMARY_FILE)
    return summary


def run_validation(data_dir: str | Path, out_dir: str | Path, settings: Settings) -> dict[str, Any]:
    """:func:`validate_extract` on the configured ``orchestration.engine``: in this process, or
    by partitions on Dask (the same files written, byte for byte)."""
    if settings.orchestration.engine == DASK:
        from pipelines.partitioned_check import validate_on_dask

        return validate_on_dask(data_dir, out_dir, settings)
    return validate_extract(data_dir, out_dir, settings)


def validate_extract(data_dir: str | Path, out_dir: str | Path, settings: Settings,
                     check: TableChecker = check_table) -> dict[str, Any]:
    """Check every table against the contract (each by ``check``); write ``rejects.csv`` and
    ``run_summary.json`` (:func:`write_validation`), then stop if a table refuses too many rows."""
    extract = check_extract(data_dir, settings.contract.absent_columns, check=check)
    summary = write_validation(extract, data_dir, out_dir)
    enforce_reject_limit(extract, settings.contract.max_reject_share)
    return summary
