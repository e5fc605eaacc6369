"""The command line: one-line errors, exit statuses, validate on a contract-shaped directory."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines import cli
from pipelines.cli import EXIT_USER_ERROR, format_training, main
from tests.features.contract_fixtures import clean_rows, write_contract_dir


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_validate_clean_directory_writes_no_rejects(tmp_path: Path, capsys) -> None:
    data = write_contract_dir(tmp_path / "extract")
    assert main(["validate", "--data", str(data), "--out", str(tmp_path / "out")]) == 0
    assert pd.read_csv(tmp_path / "out" / "rejects.csv").empty
    summary = json.loads((tmp_path / "out" / "run_summary.json").read_text())
    assert summary["tables"]["benefit_claims"]["rows_refused"] == 0
    assert "rejects:" in capsys.readouterr().out


def test_validate_refuses_the_bad_rows_and_names_them(tmp_path: Path, capsys) -> None:
    rows = clean_rows("benefit_claims")
    rows[1]["declared_savings"] = "-5"
    data = write_contract_dir(tmp_path / "extract", benefit_claims=rows)
    config = tmp_path / "lenient.yaml"
    config.write_text("contract:\n  max_reject_share: 0.5\n")
    code = main(["validate", "--data", str(data), "--out", str(tmp_path / "out"),
                 "--config", str(config)])
    assert code == 0
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert rejects[["table", "row", "column", "rule"]].values.tolist() == [
        ["benefit_claims", 2, "declared_savings", "min:0"]]


def test_too_many_rejects_stop_with_one_line_but_keep_the_rejects(tmp_path: Path, capsys) -> None:
    rows = clean_rows("benefit_claims")
    rows[0]["claim_start"] = "not a date"
    data = write_contract_dir(tmp_path / "extract", benefit_claims=rows)
    code = main(["validate", "--data", str(data), "--out", str(tmp_path / "out")])
    assert code == EXIT_USER_ERROR
    line = _error_line(capsys)
    assert "benefit_claims" in line and "claim_start" in line and "row 1" in line
    assert len(pd.read_csv(tmp_path / "out" / "rejects.csv")) == 1


def test_missing_table_is_one_line_naming_the_file(tmp_path: Path, capsys) -> None:
    data = write_contract_dir(tmp_path / "extract", omit=("tax_records",))
    assert main(["validate", "--data", str(data), "--out", str(tmp_path / "out")]) == EXIT_USER_ERROR
    assert "tax_records.csv" in _error_line(capsys)


def test_unknown_setting_is_one_line_naming_the_key(tmp_path: Path, capsys) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("capacity:\n  shares: 0.1\n")
    data = write_contract_dir(tmp_path / "extract")
    code = main(["validate", "--data", str(data), "--out", str(tmp_path / "o"), "--config", str(config)])
    assert code == EXIT_USER_ERROR
    assert "capacity.shares" in _error_line(capsys)


@pytest.mark.parametrize("argv", [
    ["score", "--data", "d", "--out", "o", "--capacity", "0"],
    ["score", "--data", "d", "--out", "o", "--capacity", "many"],
    ["train", "--data", "d", "--as-of", "2026-13-01"],
    ["generate", "--out", "d", "--people", "0", "--truth", "t.csv"],
    ["generate", "--out", "d", "--people", "10", "--truth", "t.csv", "--variant", "nope"],
])
def test_bad_arguments_exit_non_zero(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code != 0
    assert "error" in capsys.readouterr().err


def test_training_report_marks_past_investigations_as_a_biased_sample() -> None:
    figures = {"n_labelled": 60.0, "n_fraud": 7.0, "average_precision": 0.46,
               "n_labelled_flagged": 5.0, "precision_at_capacity": 0.4, "recall_at_capacity": 0.29}
    metrics = {f"investigation_outcomes.{name}": value for name, value in figures.items()}
    metrics["investigation_outcomes.recall_at_capacity.subletting"] = 0.5
    report = format_training({"model_name": "m", "version": "2", "alias": "challenger",
                              "n_subjects": 4308, "as_of": "2026-09-30", "metrics": metrics,
                              "extract": "extract: validated from the files (no cache)",
                              "outcomes": "outcome layer not fitted: 0 reviewed subjects (0 fraud) among the sources"})
    assert "version 2 as challenger (4,308 subjects" in report
    assert "\noutcome layer not fitted: 0 reviewed subjects" in report
    assert "past investigations (a small, biased sample): 60 labelled, 7 fraud" in report
    assert "of the 5 labelled subjects within capacity, precision 0.400" in report
    assert "subletting 0.50" in report and "truth file" not in report


def test_user_errors_inside_flows_are_logged_without_traceback() -> None:
    from models.registry import ModelNotFoundError

    def failed_run(error: Exception) -> logging.LogRecord:
        try:
            raise error
        except Exception:
            return logging.LogRecord("prefect.flow_runs", logging.ERROR, __file__, 1, "Encountered exception",
                                     None, sys.exc_info())

    logger = logging.getLogger("prefect.flow_runs")
    before = list(logger.filters)
    try:
        cli._log_user_errors_in_one_line()
        user_error, bug = failed_run(ModelNotFoundError("no version '99'")), failed_run(KeyError("bug"))
        assert logger.filter(user_error) and logger.filter(bug)  # both are still logged
        assert user_error.exc_info is None
        assert bug.exc_info is not None  # a bug keeps its traceback
    finally:
        logger.filters = before


def _generate(out: Path, truth: Path, *extra: str) -> int:
    return main(["generate", "--out", str(out), "--people", "30", "--seed", "1", "--truth", str(truth), *extra])


def test_generate_refuses_a_directory_it_did_not_write(tmp_path: Path, capsys) -> None:
    extract = write_contract_dir(tmp_path / "extract")
    before = {path.name: path.read_bytes() for path in extract.iterdir()}

    assert _generate(extract, tmp_path / "truth.csv") == EXIT_USER_ERROR
    line = _error_line(capsys)
    assert str(extract) in line and "--force" in line
    assert {path.name: path.read_bytes() for path in extract.iterdir()} == before

    # a world the generator wrote is rewritten without asking; --force overrides the refusal
    assert _generate(tmp_path / "world", tmp_path / "truth.csv") == 0
    assert _generate(tmp_path / "world", tmp_path / "truth.csv") == 0
    assert _generate(extract, tmp_path / "truth.csv", "--force") == 0
    assert {path.name: path.read_bytes() for path in extract.iterdir()} != before


@pytest.mark.parametrize(("out", "truth", "message"), [
    ("world", "truth.txt", "must end in .csv or .parquet"),
    ("world", "world/truth.csv", "must be outside the data directory"),
])
def test_generate_location_errors_are_one_line(tmp_path: Path, capsys, out, truth, message) -> None:
    assert _generate(tmp_path / out, tmp_path / truth) == EXIT_USER_ERROR
    assert message in _error_line(capsys)


def test_every_error_a_user_can_fix_is_one_line() -> None:
    from models.cases import RankingError
    from pipelines.errors import USER_ERRORS
    from synthetic.truth import TruthFormatError
    from synthetic.world import WorldLocationError

    assert {RankingError, TruthFormatError, WorldLocationError} <= set(USER_ERRORS)


@pytest.mark.parametrize("role", [None, "investigator", "admin"])
def test_a_decision_on_a_version_needs_a_panel_account_and_its_password(tmp_path, capsys, monkeypatch, role):
    """Any typed name was once accepted as a panel member."""
    import io

    from casework import commands
    from configs.settings import load_settings

    workspace = tmp_path / "workspace"
    engine = commands.case_store(load_settings(), workspace)
    commands.add_account(engine, "pat", "panel", "a long panel password")
    if role:
        commands.add_account(engine, "ivy", role, "a long other password")
    for name, password in (("pat", "wrong password"), ("ivy", "a long other password")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(password + "\n"))
        code = main(["approve", "--model-version", "1", "--by", name, "--note", "read it",
                     "--workspace", str(workspace)])
        assert code == EXIT_USER_ERROR
        assert f"{name} is not a panel account of the case store, or the password is wrong" in _error_line(capsys)
    assert commands.panel_member(engine, "pat", "a long panel password", "approve model version") == "pat"


def test_a_decision_reads_the_panel_accounts_of_the_configured_case_store(tmp_path, capsys, monkeypatch):
    import io

    from casework import commands
    from configs.settings import load_settings

    config = tmp_path / "store.yaml"
    config.write_text(f"case_store:\n  url: sqlite:///{tmp_path / 'team_store.db'}\n", encoding="utf-8")
    commands.add_account(commands.case_store(load_settings(config), tmp_path), "pat", "panel", "a long panel password")
    refused = "pat is not a panel account of the case store, or the password is wrong"
    for extra in ([], ["--config", str(config)]):
        monkeypatch.setattr(sys, "stdin", io.StringIO("a long panel password\n"))
        main(["approve", "--model-version", "1", "--by", "pat", "--note", "read it",
              "--workspace", str(tmp_path / "workspace"), *extra])
        # the workspace's own store has no such account; the configured one has, so only the version is unknown
        error = capsys.readouterr().err
        assert (refused in error) == (not extra) and "error:" in error
