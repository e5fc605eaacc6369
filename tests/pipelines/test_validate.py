"""The validate command's files and report: staged writes and a readable summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from features.contract import check_extract
from pipelines.validate import REJECTS_FILE, SUMMARY_FILE, format_tables, write_validation
from tests.features.contract_fixtures import write_contract_dir


def test_a_failed_write_leaves_no_earlier_summary_beside_the_rejects(tmp_path: Path) -> None:
    extract = check_extract(write_contract_dir(tmp_path / "extract"))
    out = tmp_path / "out"
    out.mkdir()
    (out / SUMMARY_FILE).write_text(json.dumps({"status": "complete"}), encoding="utf-8")
    (out / REJECTS_FILE).mkdir()  # the rejects cannot be put in place, as when a run is stopped
    with pytest.raises(OSError):
        write_validation(extract, tmp_path / "extract", out)
    assert not (out / SUMMARY_FILE).exists()


def test_a_completed_write_leaves_only_the_rejects_and_the_summary(tmp_path: Path) -> None:
    extract = check_extract(write_contract_dir(tmp_path / "extract"))
    out = tmp_path / "out"
    summary = write_validation(extract, tmp_path / "extract", out)
    assert sorted(path.name for path in out.iterdir()) == sorted([REJECTS_FILE, SUMMARY_FILE])
    assert json.loads((out / SUMMARY_FILE).read_text(encoding="utf-8"))["rejects_file"] == summary[
        "rejects_file"]


def test_the_summary_keeps_long_names_apart() -> None:
    summary = {
        "tables": {"investigation_outcomes_of_last_year": {"rows_in": 1, "rows_valid": 0,
                                                            "rows_refused": 1}},
        "rejects": {"investigation_outcomes_of_last_year": {"enum:investigation_outcome_code_x": 1}},
    }
    lines = format_tables(summary)
    assert "investigation_outcomes_of_last_yearenum" not in "\n".join(lines)
    assert any("investigation_outcomes_of_last_year enum:investigation_outcome_code_x" in line
               for line in lines)
