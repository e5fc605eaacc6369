"""The explanation for one data subject, from the case store: plain words, and nobody else's data."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from casework.commands import case_store
from configs.settings import SettingsError, load_settings
from models.cases import CONTROL_NOTE
from oversight.atrs import TO_BE_COMPLETED
from oversight.subject import explain_subject
from pipelines.cli import EXIT_USER_ERROR, main

APPEALS = "write to the review team, 1 High Street"


def _cases(panel_world) -> pd.DataFrame:
    return pd.read_parquet(panel_world["run"] / "cases.parquet")


def _settings(panel_world):
    settings = panel_world["settings"]
    return settings.model_copy(update={"oversight": settings.oversight.model_copy(
        update={"appeals_route": APPEALS})})


def _explain(panel_world, ref: str) -> str:
    settings = _settings(panel_world)
    return explain_subject(case_store(settings, panel_world["workspace"].root), ref, settings)


def test_a_flagged_subject_reads_its_runs_case_reasons_records_and_nobody_else(panel_world):
    cases = _cases(panel_world)
    # the flagged subject with most related claims: the hardest case for leaking others' data
    flagged = cases[cases["flagged"]]
    subject = flagged.loc[flagged["related"].str.len().idxmax()]
    assert subject["related"]
    text = _explain(panel_world, subject["subject_ref"])
    assert "Was this claim selected? Yes, by these scoring runs:" in text
    assert "selected for a person to review" in text
    assert "is open, waiting for an investigator to take it." in text
    assert "Why it was selected" in text and "Sources these reasons come from:" in text
    assert "a selection is not a finding of fraud" in text
    assert f"deleted {panel_world['settings'].retention.days} days after the run" in text
    assert f"How to challenge a decision: {APPEALS}." in text
    assert "Questions about this explanation or the tool: counter-fraud@example.org." in text
    assert TO_BE_COMPLETED not in text
    tokens = set(re.findall(r"[A-Za-z0-9_\-]+", text))
    others = set(cases["subject_ref"]) - {subject["subject_ref"]}
    assert not tokens & others
    assert subject["subject_ref"] in tokens


def test_only_the_records_the_reasons_rest_on_are_listed(panel_world):
    cases = _cases(panel_world)
    texts = [_explain(panel_world, ref) for ref in cases.loc[cases["flagged"], "subject_ref"]]
    # a subject flagged on household reasons alone is not shown its tax records, one flagged on earnings is
    with_tax = [text for text in texts if "tax records, income by month" in text]
    assert with_tax and len(with_tax) < len(texts)
    assert all("your tax records" in text.split("Sources the model reads")[0] for text in with_tax)


def test_every_flagged_subject_explanation_names_no_other_subject(panel_world):
    cases = _cases(panel_world)
    refs = set(cases["subject_ref"])
    for ref in cases.loc[cases["flagged"], "subject_ref"]:
        tokens = set(re.findall(r"[A-Za-z0-9_\-]+", _explain(panel_world, ref)))
        assert tokens & refs == {ref}


def test_a_control_subject_is_told_it_was_drawn_at_random_and_an_unselected_one_no(panel_world):
    cases = _cases(panel_world)
    control = cases.loc[cases["control"], "subject_ref"].iloc[0]
    text = _explain(panel_world, control)
    assert "drawn at random for a quality check, not because anything about it looked unusual" in text
    assert CONTROL_NOTE not in text and "nothing unusual was found" not in text
    assert "Why it was selected" not in text
    unselected = cases.loc[~cases["work_list"], "subject_ref"].iloc[-1]
    assert "Was this claim selected? No." in _explain(panel_world, unselected)


def test_the_command_refuses_while_the_appeals_route_or_contact_is_unset(panel_world, tmp_path, capsys):
    ref = _cases(panel_world)["subject_ref"].iloc[0]
    workspace = str(panel_world["workspace"].root)
    with pytest.raises(SettingsError, match=r"oversight\.appeals_route and oversight\.contact"):
        explain_subject(case_store(load_settings(), workspace), ref, load_settings())
    config = tmp_path / "oversight.yaml"
    config.write_text("oversight:\n  contact: counter-fraud@example.org\n", encoding="utf-8")
    assert main(["explain-subject", "--ref", ref, "--workspace", workspace, "--config", str(config)]) == EXIT_USER_ERROR
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "oversight.appeals_route" in error[0] and "oversight.contact" not in error[0]
    config.write_text(f"oversight:\n  contact: counter-fraud@example.org\n  appeals_route: {APPEALS}\n",
                      encoding="utf-8")
    out = tmp_path / "explanation.txt"
    assert main(["explain-subject", "--ref", ref, "--workspace", workspace, "--config", str(config),
                 "--out", str(out)]) == 0
    assert f"How to challenge a decision: {APPEALS}." in out.read_text(encoding="utf-8")


def test_every_context_column_but_the_assumed_rate_names_its_sources():
    from features.definitions import CONTEXT

    assert [name for name, spec in CONTEXT.items() if not spec.sources] == ["interest_rate"]
