"""The sign-off gate: only a version approved, on its unchanged report, by someone other than its trainer scores."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from oversight.signoff import (
    APPROVED,
    REJECTED,
    SignOffError,
    _append_line,
    check_may_score,
    decide,
    read_log,
)
from tests.conftest import PANEL_MEMBER, TRAINER


def test_a_new_version_is_not_approved_and_cannot_score(panel_world):
    refusal = panel_world["unapproved_score"]
    assert isinstance(refusal, SignOffError)
    message = str(refusal)
    assert "version 1 has not been approved" in message
    assert "counterfraud approve --model-version 1 --by ACCOUNT --note TEXT" in message
    assert "\n" not in message
    assert not (panel_world["root"] / "refused" / "cases.csv").exists()


def test_the_trainer_cannot_approve_their_own_version(panel_world):
    refusal = panel_world["trainer_approves"]
    assert isinstance(refusal, SignOffError)
    assert f"{TRAINER.upper()} trained model" in str(refusal) and "cannot approve it" in str(refusal)


def test_a_report_changed_since_it_was_logged_cannot_be_approved(panel_world, panel_settings):
    refusal = panel_world["changed_report_approved"]
    assert isinstance(refusal, SignOffError)
    assert "has changed since it was logged" in str(refusal)
    tags = MlflowClient().get_model_version(panel_settings.registry.model_name, "2").tags
    assert "signoff.decision" not in tags


def test_a_rejected_version_cannot_score(panel_world):
    refusal = panel_world["rejected_score"]
    assert isinstance(refusal, SignOffError)
    assert f"version 1 was rejected by {PANEL_MEMBER}" in str(refusal) and "(not yet)" in str(refusal)


def test_approval_with_promote_moves_champion_and_the_champion_scores(panel_world, panel_settings):
    assert panel_world["champion"] == "1"
    approval = panel_world["approval"]
    assert approval["decision"] == APPROVED and approval["promoted"] is True
    assert approval["report_sha256"] == panel_world["first"]["report_sha256"]
    tags = MlflowClient().get_model_version(panel_settings.registry.model_name, "1").tags
    assert {key: tags[f"signoff.{key}"] for key in ("decision", "by", "note", "report_sha256", "at")} == {
        key: approval[key] for key in ("decision", "by", "note", "report_sha256", "at")}
    assert panel_world["summary"]["model"] == {"name": panel_settings.registry.model_name, "version": "1",
                                               "reference": "champion"}


def test_the_panel_signs_off_in_the_app_on_the_report_page_with_its_digest(panel_world):
    page = panel_world["signoff_page"]
    assert page.status_code == 200
    assert f'<code id="digest">{panel_world["first"]["report_sha256"]}</code>' in page.text
    report = panel_world["report_page"]
    assert report.status_code == 200 and "<html" in report.text[:300]
    assert "script-src" not in report.headers["content-security-policy"]  # no scripts run in the report
    refused = panel_world["other_digest_post"]
    assert refused.status_code == 409 and "not the one this page showed" in refused.text
    done = panel_world["app_rejection"]
    assert done.status_code == 303 and "/panel/signoff?version=1" in done.headers["location"]
    rejection = panel_world["rejection"]
    assert (rejection["decision"], rejection["by"], rejection["note"]) == (REJECTED, PANEL_MEMBER, "not yet")
    assert {(PANEL_MEMBER, "sign-off"), (PANEL_MEMBER, "sign-off refused"),
            (PANEL_MEMBER, "read report")} <= set(panel_world["access_log"])


def test_every_decision_is_appended_to_the_log(panel_world):
    entries = read_log(panel_world["log"])
    assert [(entry["version"], entry["decision"]) for entry in entries] == [("1", REJECTED), ("1", APPROVED)]
    lines = panel_world["log"].read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == entries


def test_check_may_score_reads_the_latest_decision(tmp_path):
    entry = {"model": "m", "version": "4", "decision": APPROVED, "by": "Sam", "at": "2026-12-02T10:00:00+00:00",
             "note": "read it", "report_sha256": "ab" * 32, "promoted": False}
    log = tmp_path / "signoff_log.jsonl"
    log.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    complete = {f"signoff.{name}": entry[name] for name in ("decision", "by", "at", "note", "report_sha256")}
    check_may_score("m", "4", complete, log)
    with pytest.raises(SignOffError, match="version 4 has not been approved"):
        check_may_score("m", "4", {"trained_by": "someone"}, log)
    with pytest.raises(SignOffError, match="rejected by Sam"):
        check_may_score("m", "4", {"signoff.decision": REJECTED, "signoff.by": "Sam", "signoff.at": "t",
                                   "signoff.note": "n"}, log)


def test_an_approval_cut_short_or_not_in_the_log_does_not_score(tmp_path):
    """A kill between the tags once left a decision with no approver, and it scored."""
    log = tmp_path / "signoff_log.jsonl"
    with pytest.raises(SignOffError, match=r"is incomplete .*\(no by, at, note, report_sha256 recorded\)"):
        check_may_score("m", "4", {"signoff.decision": APPROVED}, log)
    typed = {"signoff.decision": APPROVED, "signoff.by": "Sam", "signoff.at": "t", "signoff.note": "n",
             "signoff.report_sha256": "cd" * 32}
    with pytest.raises(SignOffError, match="no line of the log records this decision"):
        check_may_score("m", "4", typed, log)


def test_a_log_line_torn_by_a_kill_is_skipped_and_the_next_decision_gets_a_line_of_its_own(tmp_path):
    """A kill while writing the log once left a line that made every later read of the log fail."""
    log = tmp_path / "signoff_log.jsonl"
    log.write_text(json.dumps({"model": "m", "version": "4", "decision": REJECTED}) + "\n"
                   + '{"model": "m", "version": "4", "deci', encoding="utf-8")
    assert [entry["decision"] for entry in read_log(log)] == [REJECTED]
    _append_line(log, {"model": "m", "version": "5", "decision": APPROVED})
    assert [(entry["version"], entry["decision"]) for entry in read_log(log)] == [("4", REJECTED), ("5", APPROVED)]


@pytest.mark.parametrize("disguised", ["Trainer\u200b", "  TRAINER ", "Tr\u00adainer", "\uff34rainer", "trainer\u00a0"])
def test_names_are_compared_as_people_read_them(disguised):
    from oversight.signoff import _same_person

    assert _same_person(disguised, "Trainer")
    assert not _same_person("Trainer Two", "Trainer")


def test_a_decision_needs_a_name_and_a_note(tmp_path):
    with pytest.raises(SignOffError, match="--note must not be empty"):
        decide(model_name="m", version="1", decision=APPROVED, by="Sam", note="  ", log_path=tmp_path / "log")
    assert not (tmp_path / "log").exists()
