"""The explanation for one data subject: plain words, and nobody else's data."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from models.cases import CONTROL_NOTE
from oversight.subject import SubjectNotFoundError, explain_subject
from pipelines.cli import EXIT_USER_ERROR, main


def _cases(panel_world) -> pd.DataFrame:
    return pd.read_parquet(panel_world["run"] / "cases.parquet")


def test_a_flagged_subject_reads_its_reasons_and_no_other_subject(panel_world):
    cases = _cases(panel_world)
    # the flagged subject with most related claims: the hardest case for leaking others' data
    flagged = cases[cases["flagged"]]
    subject = flagged.loc[flagged["related"].str.len().idxmax()]
    assert subject["related"]
    text = explain_subject(panel_world["run"], subject["subject_ref"])
    assert "Yes: it was among the claims selected" in text
    assert "These reasons come from these records:" in text
    assert "a selection is not a finding of fraud" in text
    tokens = set(re.findall(r"[A-Za-z0-9_\-]+", text))
    others = set(cases["subject_ref"]) - {subject["subject_ref"]}
    assert not tokens & others
    assert subject["subject_ref"] in tokens


def test_every_flagged_subject_explanation_names_no_other_subject(panel_world):
    cases = _cases(panel_world)
    refs = set(cases["subject_ref"])
    for ref in cases.loc[cases["flagged"], "subject_ref"]:
        tokens = set(re.findall(r"[A-Za-z0-9_\-]+", explain_subject(panel_world["run"], ref)))
        assert tokens & refs == {ref}


def test_control_and_unselected_subjects_are_told_so_honestly(panel_world):
    cases = _cases(panel_world)
    control = cases.loc[cases["control"], "subject_ref"].iloc[0]
    text = explain_subject(panel_world["run"], control, appeals_route="write to the review team")
    assert CONTROL_NOTE[1:] in text and "Why it was selected" not in text
    assert "How to challenge a decision: write to the review team." in text
    unselected = cases.loc[~cases["work_list"], "subject_ref"].iloc[-1]
    assert "Was this claim selected? No." in explain_subject(panel_world["run"], unselected)


def test_an_unknown_subject_is_a_one_line_error(panel_world, capsys):
    with pytest.raises(SubjectNotFoundError, match="'NOPE' is not in the case list"):
        explain_subject(panel_world["run"], "NOPE")
    assert main(["explain-subject", "--ref", "NOPE", "--run", str(panel_world["run"])]) == EXIT_USER_ERROR
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
