"""Faults a user can fix end in one line and a non-zero exit, through the real command line.

No live subject, a parquet column of lists or structs, a read-only ``--out`` and a read-only
workspace each once ended in a traceback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from pipelines.cli import EXIT_USER_ERROR, main
from tests.features.contract_fixtures import write_contract_dir

PROJECT = Path(__file__).resolve().parents[2]


def _error_line(capsys: pytest.CaptureFixture[str], verb: str) -> str:
    """The command's one error line; nothing on stderr is a traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"counterfraud {verb}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` made read-only, also for root (for whom permission bits do not count), then restored."""
    directory.mkdir(parents=True, exist_ok=True)
    mode = directory.stat().st_mode
    directory.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(directory)],
                                                             capture_output=True).returncode:
            directory.chmod(mode)
            pytest.skip("root cannot make a directory read-only here (no chattr +i)")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(mode)


def test_no_live_subject_is_one_line(tmp_path: Path, prefect_harness) -> None:
    from prefect.settings import PREFECT_API_URL

    data = write_contract_dir(tmp_path / "extract")
    # its own process: the flow's log lines go to its stderr, which this test reads whole
    command = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "prepare", "--data", str(data), "--out", str(tmp_path / "out"),
         "--as-of", "1990-01-01", "--workspace", str(tmp_path / "workspace")],
        env={**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_API_URL": str(PREFECT_API_URL.value())},
        capture_output=True, text=True)
    assert command.returncode == EXIT_USER_ERROR
    assert "Traceback" not in command.stderr, command.stderr
    line = command.stderr.strip().splitlines()[-1]
    assert line.startswith("counterfraud prepare: error: no live subject as of 1990-01-01") and "--as-of" in line


@pytest.mark.parametrize("nested", [lambda value: [value], lambda value: {"code": value, "part": 1}],
                         ids=["list", "struct"])
def test_a_parquet_column_of_lists_or_structs_is_one_line_naming_it(tmp_path: Path, capsys, nested) -> None:
    data = write_contract_dir(tmp_path / "extract", file_format="parquet")
    claims = pd.read_parquet(data / "benefit_claims.parquet")
    claims["postcode"] = [nested(value) for value in claims["postcode"]]
    claims.to_parquet(data / "benefit_claims.parquet", index=False)
    code = main(["validate", "--data", str(data), "--out", str(tmp_path / "out")])
    assert code == EXIT_USER_ERROR
    line = _error_line(capsys, "validate")
    assert "table benefit_claims" in line and "column postcode" in line


def test_a_read_only_out_is_one_line_naming_it(tmp_path: Path, capsys) -> None:
    data = write_contract_dir(tmp_path / "extract")
    out = tmp_path / "out"
    with read_only(out):
        code = main(["validate", "--data", str(data), "--out", str(out)])
    assert code == EXIT_USER_ERROR
    assert f"cannot write {out}" in _error_line(capsys, "validate")


@pytest.mark.parametrize("argv", [["runs", "list"], ["audit", "verify"], ["train", "--data", "DATA"]],
                         ids=["runs list", "audit verify", "train"])
def test_a_read_only_workspace_is_one_line_naming_it(tmp_path: Path, capsys, argv) -> None:
    data = write_contract_dir(tmp_path / "extract")
    workspace = tmp_path / "workspace"
    assert main(["runs", "list", "--workspace", str(workspace)]) == 0  # a workspace made, then read-only
    capsys.readouterr()
    argv = [str(data) if argument == "DATA" else argument for argument in argv]
    with read_only(workspace):
        code = main([*argv, "--workspace", str(workspace)])
    assert code == EXIT_USER_ERROR
    line = _error_line(capsys, argv[0])
    assert f"workspace {workspace} cannot be written" in line and "--workspace" in line
