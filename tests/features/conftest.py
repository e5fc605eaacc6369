from __future__ import annotations

from pathlib import Path

import pytest

from tests.features.contract_fixtures import write_contract_dir


@pytest.fixture
def contract_dir(tmp_path: Path) -> Path:
    """A valid CSV data directory of the seven contract tables (see ``contract_fixtures``)."""
    return write_contract_dir(tmp_path / "extract")
