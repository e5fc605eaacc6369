"""CSV injection: text from the inputs reaches every CSV written, and a spreadsheet must not run it."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from features.contract import write_rejects
from features.csv_output import INERT_PREFIX, write_csv
from models.cases import case_table, draw_control_sample, rank_subjects, write_case_list

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@IMPORTXML(x)", "\tTAB", "\rCR"]
HARMLESS = ["Smith", "-50.00", "+44", "1e5", "", "O'Brien = honest"]


def _cells(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def test_formulas_are_written_inert_and_other_text_as_it_is(tmp_path):
    frame = pd.DataFrame({"text": FORMULAS + HARMLESS, "number": range(len(FORMULAS) + len(HARMLESS))})
    path = write_csv(frame, tmp_path / "out.csv")
    assert _cells(path, "text") == [INERT_PREFIX + text for text in FORMULAS] + HARMLESS
    assert _cells(path, "number") == [str(n) for n in frame["number"]]
    assert frame["text"].tolist() == FORMULAS + HARMLESS  # the caller's frame is untouched


def test_rejects_and_case_lists_are_written_inert(tmp_path):
    rejects = pd.DataFrame({"table": "benefit_claims", "row": range(1, len(FORMULAS) + 1), "column": "surname",
                            "rule": "required", "value": FORMULAS})
    assert _cells(write_rejects(rejects, tmp_path / "rejects.csv"), "value") == [INERT_PREFIX + f for f in FORMULAS]

    refs = [f"=HYPERLINK(\"http://x\",\"{i}\")" for i in range(3)]
    ranked = draw_control_sample(rank_subjects(refs, ["benefit_claim"] * 3, [0.3, 0.2, 0.1], capacity=1), 1.0, 0)
    reasons = pd.Series(["@cmd reason"], index=[refs[0]])
    cases = case_table(ranked, reasons, pd.Series([], dtype="str"), "1")
    cases_csv, cases_parquet = write_case_list(cases, tmp_path)
    assert all(ref.startswith(INERT_PREFIX + "=") for ref in _cells(cases_csv, "subject_ref"))
    assert _cells(cases_csv, "reasons")[0] == INERT_PREFIX + "@cmd reason"
    # parquet keeps the text as it came: it is not opened by spreadsheet programs
    assert pd.read_parquet(cases_parquet)["subject_ref"].tolist()[0] in refs
