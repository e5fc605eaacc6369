"""The examples in the docstrings are run, so what the documentation shows stays true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("benchmarks", "casework", "configs", "features", "models", "oversight", "pipelines", "synthetic")
NOT_IMPORTABLE_ALONE = ("casework.migrations",)
"""Alembic's environment script runs only inside Alembic."""


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        for module in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if not module.name.startswith(NOT_IMPORTABLE_ALONE):
                names.append(module.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
