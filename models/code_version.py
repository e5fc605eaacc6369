"""Which code a model version was trained with: the project's git commit, recorded with every version."""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path


def code_version() -> str:
    """The git commit of the project (``-dirty`` with uncommitted changes), else the package version."""
    project = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=project,
                                 capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"counterfraud {importlib.metadata.version('counterfraud')}"
    return f"{commit}-dirty" if changes else commit
