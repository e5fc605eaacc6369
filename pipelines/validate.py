"""The ``validate`` command: the contract check alone, no linking, no model.

Kept apart from the Prefect flows so that checking an extract needs no workspace
and starts no orchestration server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from configs.settings import Settings
from features.contract import check_extract, enforce_reject_limit, extract_summary, write_rejects


def run_validation(data_dir: str | Path, out_dir: str | Path, settings: Settings) -> dict[str, Any]:
    """Check every table against the contract; write ``rejects.csv`` and ``run_summary.json``.

    The files are written before the reject limit is enforced, so a stopped run still
    leaves every refused row, with its reason, for the data owner.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    extract = check_extract(data_dir)
    summary = {"data_dir": str(data_dir), **extract_summary(extract),
               "rejects_file": str(write_rejects(extract.rejects, out / "rejects.csv"))}
    (out / "run_summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    enforce_reject_limit(extract, settings.contract.max_reject_share)
    return summary
