"""The rerun benchmark's table: each run against the raw baseline, and whether the runs' outputs agree."""

from __future__ import annotations

from benchmarks.extract_cache import format_rows


def _row(run: str, wall: float, cases: bytes | None, extract: str = "") -> dict:
    return {"run": run, "wall_s": wall, "peak_mb": 1234.0, "validate_s": None if cases is None else 0.5,
            "flow_s": None if cases is None else 9.0, "extract": extract, "cases": cases,
            "rejects": None if cases is None else b"table,row\n"}


def test_each_run_is_set_against_the_raw_baseline_and_differing_outputs_are_called_out() -> None:
    rows = [_row("first", 30.0, b"a", "extract: validated from the files"), _row("rerun", 24.0, b"a"),
            _row("raw baseline", 12.0, None)]
    table = format_rows(rows)
    assert "| first | 30.0 | 2.50× | 1,234 | 0.5 | 9.0 | extract: validated from the files |" in table
    assert "| rerun | 24.0 | 2.00× |" in table and "| raw baseline | 12.0 | 1.00× | 1,234 |  |  |  |" in table
    assert table.endswith("byte-identical across the scoring runs: yes")
    assert format_rows([rows[0], _row("rerun", 24.0, b"b"), rows[2]]).endswith("scoring runs: NO")
