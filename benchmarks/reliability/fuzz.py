"""Corrupted rows: extracts of rows each breaking one rule of the contract, checked against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RowFaults:
    seeds: int
    corrupted: int
    clean: int
    refused_right: int
    corrupted_accepted: int
    clean_refused: int
    tracebacks: int


def row_faults(root: Path, seeds: int, bad_rows_per_table: int) -> RowFaults:
    """Extracts of corrupted rows (one per seed) checked against the contract."""
    from features.contract import CONTRACT, check_extract
    from tests.features.corrupted_rows import (
        GOOD_ROWS_PER_TABLE,
        LONGEST_GOOD_TEXT,
        NASTY,
        bad_extract,
    )

    good_rows = max(GOOD_ROWS_PER_TABLE, bad_rows_per_table // 20)
    corrupted = right = accepted = refused_clean = tracebacks = 0
    for seed in range(seeds):
        directory = root / f"faults_{seed}"
        directory.mkdir(exist_ok=True)  # a workdir used again: the extract is written afresh
        expected = bad_extract(directory, [*NASTY, LONGEST_GOOD_TEXT], seed, good_rows, bad_rows_per_table)
        corrupted += len(expected)
        try:
            extract = check_extract(directory)
        except Exception:  # noqa: BLE001 - a traceback is the figure counted here
            tracebacks += 1
            continue
        found = set(extract.rejects[["table", "row", "column", "rule"]].itertuples(index=False, name=None))
        right += len(found & expected)
        refused_rows = {(table, row) for table, row, _, _ in found}
        accepted += len({(table, row) for table, row, _, _ in expected} - refused_rows)
        refused_clean += len(refused_rows - {(table, row) for table, row, _, _ in expected})
    return RowFaults(seeds=seeds, corrupted=corrupted, clean=seeds * good_rows * len(CONTRACT), refused_right=right,
                     corrupted_accepted=accepted, clean_refused=refused_clean, tracebacks=tracebacks)
