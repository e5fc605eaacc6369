"""The ADBench data directory is checked before a long benchmark run starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.adbench import DATASETS, DataDirError, check_data_dir
from benchmarks.run import FULL, run_benchmarks


def test_a_missing_dataset_file_is_named(tmp_path: Path) -> None:
    first, *rest = DATASETS.values()
    for file_name in rest:
        np.savez(tmp_path / file_name, X=np.zeros((2, 1)), y=np.array([0, 1]))
    with pytest.raises(DataDirError, match=f"{tmp_path / first} not found"):
        check_data_dir(tmp_path)
    np.savez(tmp_path / first, X=np.zeros((2, 1)), y=np.array([0, 1]))
    assert check_data_dir(tmp_path) == tmp_path.resolve()


def test_a_full_run_stops_before_its_worlds_when_the_data_is_missing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COUNTERFRAUD_ADBENCH_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataDirError, match="not found; pass --data-dir or set COUNTERFRAUD_ADBENCH_DIR"):
        run_benchmarks(FULL, tmp_path / "RESULTS.md", tmp_path / "work", "make bench")
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())
