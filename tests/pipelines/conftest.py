"""A small generated world and a workspace holding one approved version, for the scoring tests.

A module using these fixtures sets ``PEOPLE`` and ``SEED``; each module gets its own world.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from configs.settings import Settings, load_settings
from tests.conftest import FAST_DETECTOR, activated_workspace, train_approved


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from synthetic import generate_world

    root = tmp_path_factory.mktemp(f"world_{request.module.__name__.rsplit('.', 1)[-1]}")
    generate_world(root / "data", people=request.module.PEOPLE, seed=request.module.SEED,
                   truth_path=root / "truth.parquet")
    config = root / "config.yaml"
    config.write_text(FAST_DETECTOR, encoding="utf-8")
    return {"root": root, "data": root / "data", "truth": root / "truth.parquet", "config": config}


@pytest.fixture(scope="module")
def settings(world: dict[str, Path]) -> Settings:
    return load_settings(world["config"])


@pytest.fixture(scope="module")
def trained(world: dict[str, Path], settings: Settings, prefect_harness: None) -> Iterator[Any]:
    """A workspace whose MLflow store holds one trained, approved version (alias champion)."""
    with activated_workspace(world["root"] / "workspace", settings) as workspace:
        train_approved(world["data"], workspace, settings, truth_path=world["truth"])
        yield workspace
