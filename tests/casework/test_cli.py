"""The casework verbs of the command line, run through ``pipelines.cli.main``."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casework.store import now
from pipelines.cli import EXIT_USER_ERROR, main
from tests.casework.conftest import POSTGRES_ADMIN, temporary_postgres

PROJECT = Path(__file__).resolve().parents[2]


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


# ------------------------------------------------------------------ two imports of one run at once

CONCURRENT_IMPORTS = 2
LOCK_WAIT_SECONDS = 180


def _import_commands(run_dir, workspace, config) -> list[subprocess.Popen]:
    """``counterfraud cases import`` of ``run_dir``, started ``CONCURRENT_IMPORTS`` times at once."""
    argv = [sys.executable, "-m", "pipelines.cli", "cases", "import", "--run", str(run_dir),
            "--workspace", str(workspace), "--config", str(config)]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return [subprocess.Popen(argv, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(CONCURRENT_IMPORTS)]


def _wait_until_blocked(admin, database: str, commands: list[subprocess.Popen]) -> None:
    """Return once every command waits on a lock of ``database`` (the one the test holds)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                        (database,)).fetchone()[0] < len(commands):
        assert all(command.poll() is None for command in commands), [c.communicate() for c in commands]
        assert time.monotonic() < deadline, "the imports never reached the store"
        time.sleep(0.1)


def _finished(commands: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    return [(command.wait(timeout=LOCK_WAIT_SECONDS), *command.communicate()) for command in commands]


@pytest.mark.slow
@pytest.mark.parametrize("fresh", [False, True], ids=["migrated store", "fresh store"])
def test_two_imports_of_one_run_at_once_import_it_once(scored, tmp_path, fresh):
    """Both checked that the run was not imported yet, then both wrote it: an IntegrityError; on a fresh
    store, both created the schema."""
    import psycopg
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from casework.store import Case, Run, open_store

    with temporary_postgres("imports") as url:
        database = url.rsplit("/", 1)[1]
        config = tmp_path / "store.yaml"
        config.write_text(f"case_store:\n  url: {url}\n", encoding="utf-8")
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as holder, \
                psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            # the test holds what both imports need next, until both wait for it: then they race
            if fresh:
                holder.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            else:
                open_store(url).dispose()
                holder.commit()
                holder.execute("LOCK TABLE runs IN EXCLUSIVE MODE")
            commands = _import_commands(scored["second"], tmp_path / "workspace", config)
            try:
                _wait_until_blocked(admin, database, commands)
            finally:
                holder.rollback()
            finished = _finished(commands)
        for status, _, err in finished:
            assert status == 0 and "Traceback" not in err, err
        outs = sorted(out.strip().split(":")[0].split(" ", 2)[-1] for _, out, _ in finished)
        assert outs == ["imported", "was already in the case store"]
        engine = open_store(url)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Run)) == 1
            refs = session.scalars(select(Case.subject_ref)).all()
        engine.dispose()
        assert refs and len(refs) == len(set(refs))


def test_users_verbs_list_disable_enable_reset_set_role_and_delete_accounts(tmp_path, capsys):
    workspace = ("--workspace", str(tmp_path / "workspace"))
    for name, role in (("ada", "admin"), ("ivy", "investigator")):
        assert _run(capsys, "users", "add", name, "--role", role, *workspace, stdin="a long enough password\n")[0] == 0
    assert _run(capsys, "users", "disable", "ivy", *workspace) == (0, "account ivy disabled; 0 session(s) ended", "")
    status, out, _ = _run(capsys, "users", "list", *workspace)
    today = now().date().isoformat()
    assert status == 0 and out.splitlines() == ["ada\tadmin\tactive\tlast sign-in never",
                                                f"ivy\tinvestigator\tdisabled {today}\tlast sign-in never"]
    assert _run(capsys, "users", "enable", "ivy", *workspace)[1] == "account ivy re-enabled"
    assert _run(capsys, "users", "reset-password", "ivy", *workspace, stdin="a newer long password\n")[1] == (
        "password of ivy reset; 0 session(s) ended")
    assert _run(capsys, "users", "set-role", "ivy", "--role", "supervisor", *workspace)[1] == "account ivy is now supervisor"
    status, _, err = _run(capsys, "users", "delete", "ada", *workspace)
    assert (status, err) == (EXIT_USER_ERROR, "counterfraud users: error: ada is the last active administrator: add "
                                              "or re-enable another before you delete this one")
    assert _run(capsys, "users", "delete", "ivy", *workspace)[1].startswith("account ivy deleted")
    # every change, and the refusal, is in the access log, whose chain still holds
    assert _run(capsys, "audit", "verify", *workspace)[1] == "access log intact: 8 entries, hash chain verified"
