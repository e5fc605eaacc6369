"""The casework verbs of the command line, run through ``pipelines.cli.main``."""

from __future__ import annotations

import io
import sqlite3

import pytest

from pipelines.cli import EXIT_USER_ERROR, main


def _run(capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdin", io.StringIO(stdin))
        status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out.strip(), err.strip()


@pytest.mark.slow
def test_casework_verbs_import_add_export_and_verify(scored, tmp_path, capsys):
    workspace = str(tmp_path / "workspace")
    status, out, _ = _run(capsys, "cases", "import", "--run", str(scored["first"]), "--workspace", workspace)
    assert status == 0 and out.startswith("run ") and "new cases" in out
    status, out, _ = _run(capsys, "cases", "import", "--run", str(scored["first"]), "--workspace", workspace)
    assert status == 0 and out.endswith("was already in the case store: nothing changed")

    status, out, _ = _run(capsys, "users", "add", "ivy", "--role", "investigator", "--workspace", workspace,
                          stdin="a long enough password\n")
    assert (status, out) == (0, "account ivy added with role investigator")
    status, _, err = _run(capsys, "users", "add", "ivy", "--role", "investigator", "--workspace", workspace,
                          stdin="a long enough password\n")
    assert (status, err) == (EXIT_USER_ERROR, "counterfraud users: error: account 'ivy' already exists")
    status, _, err = _run(capsys, "users", "add", "ian", "--role", "panel", "--workspace", workspace,
                          stdin="short\n")
    assert status == EXIT_USER_ERROR and err.endswith("a password needs at least 12 characters")

    status, out, _ = _run(capsys, "outcomes", "export", "--out", str(tmp_path / "out"), "--workspace", workspace)
    assert status == 0 and out.startswith("0 closed cases")
    assert (tmp_path / "out" / "investigation_outcomes.csv").read_text().startswith(
        "subject_ref,outcome,closed_on,typology,control")

    status, out, _ = _run(capsys, "audit", "verify", "--workspace", workspace)
    assert (status, out) == (0, "access log intact: 3 entries, hash chain verified")
    with sqlite3.connect(tmp_path / "workspace" / "cases.db") as connection:
        connection.execute("UPDATE access_log SET actor = 'someone else' WHERE seq = 2")
    status, _, err = _run(capsys, "audit", "verify", "--workspace", workspace)
    assert status == EXIT_USER_ERROR
    assert err.startswith("counterfraud audit: error: access log tampered with: entry 2 (") and "was edited" in err

    status, _, err = _run(capsys, "cases", "import", "--run", str(tmp_path), "--workspace", workspace)
    assert status == EXIT_USER_ERROR and "no run_summary.json in" in err
