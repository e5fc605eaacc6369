"""Retention: run outputs past ``retention.days`` are deleted, and what was deleted is recorded.

``purge_workspace`` deletes the run directories (and staging directories left by
killed runs) older than the limit and the cached validated extracts not used since then, has the case store purge what identifies the
subjects of cases closed before the limit (``casework.store.purge_before``; open
cases are kept), and appends one JSON line per purge to ``<workspace>/purge_log.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

from casework.store import purge_before, store_url
from configs.settings import Settings
from pipelines.extract_cache import expire
from pipelines.runs import RUN_ID_PATTERN, STAGING_PREFIX, completed_runs, run_started_at

PURGE_LOG = "purge_log.jsonl"


def retention_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """The oldest start time a kept run may have."""
    return now.astimezone(dt.UTC) - dt.timedelta(days=days)


def expired_staging(runs_dir: Path, cutoff: dt.datetime) -> list[Path]:
    """Staging directories of runs killed before ``cutoff`` (never published, never listed)."""
    if not runs_dir.is_dir():
        return []
    found = []
    for path in sorted(runs_dir.glob(f"{STAGING_PREFIX}*")):
        run_id = path.name.removeprefix(STAGING_PREFIX)
        if RUN_ID_PATTERN.match(run_id) and run_started_at(run_id) < cutoff:
            found.append(path)
    return found


def purge_workspace(workspace_root: str | Path, runs_dir: str | Path, extracts_dir: str | Path,
                    settings: Settings, now: dt.datetime | None = None) -> dict[str, Any]:
    """Delete what is past ``settings.retention.days`` and record it in ``purge_log.jsonl``.

    Parameters
    ----------
    workspace_root : path
        Holds the purge log.
    runs_dir : path
        The run history.
    extracts_dir : path
        The cache of validated extracts (``pipelines.extract_cache``).
    settings : Settings
    now : datetime, optional
        The time the limit counts back from (default: now, UTC).

    Returns
    -------
    dict
        The logged record: ``purged_at``, ``retention_days``, ``cutoff``, ``runs`` (ids of the
        run directories deleted), ``staging`` (staging directories of killed runs deleted),
        ``extracts`` (keys of the cached extracts deleted) and
        ``case_store`` (what the case store purged: ``cases``, the number of closed cases).
    """
    now = dt.datetime.now(dt.UTC) if now is None else now.astimezone(dt.UTC)
    cutoff = retention_cutoff(now, settings.retention.days)
    runs_dir, log_path = Path(runs_dir), Path(workspace_root) / PURGE_LOG
    expired = [record for record in completed_runs(runs_dir) if record.started_at < cutoff]
    staging = expired_staging(runs_dir, cutoff)
    for path in [record.path for record in expired] + staging:
        shutil.rmtree(path)
    entry = {
        "purged_at": now.isoformat(),
        "retention_days": settings.retention.days,
        "cutoff": cutoff.isoformat(),
        "runs": [record.run_id for record in expired],
        "staging": [path.name for path in staging],
        "extracts": [path.name for path in expire(extracts_dir, cutoff)],
        "case_store": purge_before(store_url(settings.case_store.url, workspace_root), cutoff),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(entry, default=str) + "\n")
        log.flush()
        os.fsync(log.fileno())
    return entry


def format_purge(entry: dict[str, Any]) -> str:
    """One line saying what a purge deleted."""
    store = f"; identifiers of {entry['case_store']['cases']:,} closed case(s) purged from the case store"
    return (f"purged {len(entry['runs'])} run(s) and {len(entry['staging'])} unfinished run(s) started before "
            f"{entry['cutoff'][:10]}, and {len(entry['extracts'])} cached extract(s) not used since "
            f"(retention {entry['retention_days']} days){store}")
