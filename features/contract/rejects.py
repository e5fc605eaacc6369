"""The rejects of a check: one line per rule a refused row breaks, written to ``rejects.csv``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.parsing import Arrow, is_text
from features.csv_output import write_csv

REJECT_COLUMNS = ("table", "row", "column", "rule", "value")


def rule_rejects(table: str, column: str, rule: str, mask: np.ndarray, raw: Arrow,
                 row_numbers: np.ndarray) -> pd.DataFrame:
    """The reject lines of the rows ``mask`` marks, numbered by ``row_numbers`` (1-based, one per row)."""
    rows = np.flatnonzero(mask)
    return pd.DataFrame(
        {
            "table": table,
            "row": row_numbers[rows],
            "column": column,
            "rule": rule,
            "value": _texts(raw.take(pa.array(rows))),
        }
    )


def _texts(values: Arrow) -> list[str]:
    """Values as the text a reader of the rejects sees ("" for an empty cell)."""
    try:
        text = values if is_text(values.type) else values.cast(pa.string())
        return pc.fill_null(text, "").to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return ["" if value is None else str(value) for value in values.to_pylist()]


def rejects_frame(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
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
    return write_csv(rejects_frame([rejects.loc[:, list(REJECT_COLUMNS)]]), path)


def reject_counts(rejects: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Number of reject lines per table and rule, for run summaries."""
    counts = rejects.groupby(["table", "rule"], sort=True).size()
    summary: dict[str, dict[str, int]] = {}
    for (table, rule), count in counts.items():
        summary.setdefault(str(table), {})[str(rule)] = int(count)
    return summary
