"""The run history: one directory per scoring run in the workspace, written atomically.

Every scoring run has a run id (``YYYYMMDDTHHMMSSZ-`` and 8 hex characters: sortable by
start time, unique per run) and keeps its outputs in ``<workspace>/runs/<run_id>/``.
A run writes into a hidden staging directory beside it, flushes every file to disk,
then renames the directory: a run killed at any point leaves no directory that looks
complete, only a hidden ``.partial-`` one that the history ignores. The copy in a
run's ``--out`` directory (:func:`copy_outputs`, made once the run's work list went to the
case store, so a copy that fails leaves no run unimported) is written the same way file by
file, with ``run_summary.json`` removed first and replaced last, so that an output directory
whose run summary says ``"status": "complete"`` holds that run's complete outputs (a run
stopped by the contract check leaves its rejects and a summary without that status).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.validate import SUMMARY_FILE

COMPLETE = "complete"
IMPORT_KEY = "case_store_import"
"""Key of ``run_summary.json`` recording that the run's work list could not be imported (and, later, that it was)."""
IMPORT_PENDING, IMPORT_FAILED, IMPORTED = "pending", "failed", "imported"
"""A run to import is published as pending and marked imported or failed after: a kill in between leaves it
pending, and the next scoring run imports it as it does a failed one."""
"""``status`` of the run summary of a run whose every output is written."""
STAGING_PREFIX = ".partial-"
RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
RUN_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")

RUN_EXISTS_ERROR = "run directory {path} already exists: run ids are unique per run"


def new_run_id(now: dt.datetime | None = None) -> str:
    """A fresh run id: the UTC start time and 8 random hex characters.

    Examples
    --------
    >>> new_run_id(dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC))[:17]
    '20260301T020000Z-'
    """
    now = dt.datetime.now(dt.UTC) if now is None else now.astimezone(dt.UTC)
    return f"{now.strftime(RUN_ID_TIME_FORMAT)}-{secrets.token_hex(4)}"


def run_started_at(run_id: str) -> dt.datetime:
    """The UTC start time a run id carries."""
    return dt.datetime.strptime(run_id.split("-", 1)[0], RUN_ID_TIME_FORMAT).replace(tzinfo=dt.UTC)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(directory: Path) -> None:
    """Flush every file under ``directory``, then the directory entries themselves."""
    for path in sorted(directory.rglob("*")):
        _fsync(path)
    _fsync(directory)


@contextlib.contextmanager
def staged_run(runs_dir: str | Path, run_id: str) -> Iterator[Path]:
    """A staging directory that becomes ``runs_dir/run_id`` on success.

    Parameters
    ----------
    runs_dir : path
        The workspace's run history (created when missing).
    run_id : str
        From :func:`new_run_id`.

    Yields
    ------
    Path
        The staging directory to write the run's outputs into. When the block raises,
        it is removed and nothing is published.
    """
    runs_dir = Path(runs_dir)
    final = runs_dir / run_id
    if final.exists():
        raise FileExistsError(RUN_EXISTS_ERROR.format(path=final))
    staging = runs_dir / f"{STAGING_PREFIX}{run_id}"
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_tree(staging)
    os.rename(staging, final)
    _fsync(runs_dir)


def copy_outputs(run_dir: Path, out_dir: Path) -> None:
    """Copy the files of ``run_dir`` into ``out_dir`` (created when missing; files of the same names
    replaced), each through a temporary name and a rename.

    ``run_summary.json`` is removed before the first file is replaced and written after
    the last, so a copy interrupted half-way has no run summary. Temporary files that such
    an interrupted copy left behind are removed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY_FILE).unlink(missing_ok=True)
    files = sorted((path for path in run_dir.iterdir() if path.is_file()),
                   key=lambda path: (path.name == SUMMARY_FILE, path.name))
    for source in files:
        for left_behind in out_dir.glob(f".{source.name}.*.tmp"):
            left_behind.unlink()
    _fsync(out_dir)
    for source in files:
        temporary = out_dir / f".{source.name}.{secrets.token_hex(4)}.tmp"
        try:
            shutil.copyfile(source, temporary)
            _fsync(temporary)
            os.replace(temporary, out_dir / source.name)
        except OSError as error:
            # a full disk keeps no half-written copy; the error names the output, not its temporary name
            temporary.unlink(missing_ok=True)
            raise OSError(error.errno, error.strerror, str(out_dir / source.name)) from error
    _fsync(out_dir)


@dataclass(frozen=True)
class RunRecord:
    """One completed run of the history, as its ``run_summary.json`` describes it."""

    run_id: str
    path: Path
    summary: dict[str, Any]

    @property
    def started_at(self) -> dt.datetime:
        return run_started_at(self.run_id)


def completed_runs(runs_dir: str | Path) -> list[RunRecord]:
    """Every completed run in ``runs_dir``, oldest first.

    A directory counts when its name is a run id and it holds a readable
    ``run_summary.json`` whose ``status`` is complete; staging directories of runs still
    writing (or killed) do not.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    records = []
    for path in sorted(runs_dir.iterdir()):
        if not (path.is_dir() and RUN_ID_PATTERN.match(path.name)):
            continue
        try:
            summary = json.loads((path / SUMMARY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if summary.get("status") != COMPLETE:
            continue
        records.append(RunRecord(run_id=path.name, path=path, summary=summary))
    return records


RUNS_LIST_COLUMNS = ("run id", "started (UTC)", "as of", "model", "subjects", "flagged", "drift alert", "status",
                     "case store")


def runs_table(records: list[RunRecord]) -> list[dict[str, str]]:
    """One row per run for ``counterfraud runs list``: :data:`RUNS_LIST_COLUMNS`, newest first."""
    rows = []
    for record in reversed(records):
        summary = record.summary
        drift = summary.get("drift") or {}
        rows.append({
            "run id": record.run_id,
            "started (UTC)": record.started_at.strftime("%Y-%m-%d %H:%M"),
            "as of": str(summary.get("as_of", "")),
            "model": f"{summary.get('model', {}).get('version', '?')}",
            "subjects": f"{summary.get('subjects', {}).get('scored', 0):,}",
            "flagged": f"{summary.get('flagged', 0):,}",
            "drift alert": ("yes" if drift.get("alert") else "no") if drift else "-",
            "status": str(summary["status"]),
            "case store": {IMPORT_PENDING: "not imported yet", IMPORT_FAILED: "import failed",
                           IMPORTED: "imported"}.get(
                (summary.get(IMPORT_KEY) or {}).get("status", ""), ""),
        })
    return rows


def describe_run(summary: dict[str, Any]) -> str:
    """One line on where a scoring run is kept and whether it raised a drift alert."""
    drift = summary["drift"]
    alert = (f"drift alert: {', '.join(drift['drifted'])} (population stability index above {drift['threshold']})"
             if drift["alert"] else "no drift alert")
    return f"run {summary['run_id']} kept in {summary['run_dir']}; {alert}"


def format_runs(records: list[RunRecord]) -> str:
    """The run history as a plain-text table, newest first."""
    if not records:
        return "no scoring runs in this workspace yet"
    rows = runs_table(records)
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in RUNS_LIST_COLUMNS}
    lines = ["  ".join(column.ljust(widths[column]) for column in RUNS_LIST_COLUMNS)]
    lines += ["  ".join(row[column].ljust(widths[column]) for column in RUNS_LIST_COLUMNS) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


class ImportFailedError(RuntimeError):
    """A complete run's work list could not be imported into the case store (recorded, retried later)."""

    MESSAGE = ("run {run_id} is complete, but its work list could not be imported into the case store "
               "({error}); the next scoring run retries it, or: counterfraud cases import --run {run_dir}")


class OutputCopyError(RuntimeError):
    """A complete run could not be copied to its ``--out`` directory; its files stay in the run history."""

    MESSAGE = ("run {run_id} is complete in {run_dir}{imported}, but its copy to --out {out_dir} failed "
               "({cause}); its files are in {run_dir}")

    @classmethod
    def of(cls, run_dir: Path, out_dir: Path, error: OSError, import_outcome: str) -> OutputCopyError:
        """The error for ``error`` raised while copying ``run_dir``; ``import_outcome`` says what became of
        its work list (empty when runs are not imported)."""
        cause = (f"cannot write {error.filename}: {error.strerror}" if error.filename and error.strerror
                 else f"{type(error).__name__}: {error}")
        return cls(cls.MESSAGE.format(run_id=run_dir.name, run_dir=run_dir, out_dir=out_dir, cause=cause,
                                      imported=import_outcome and f" and {import_outcome}"))


def write_summary(summary: Mapping[str, Any], path: Path) -> Path:
    """Write the run summary as indented JSON."""
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path


def record_import(run_dir: Path, status: str, error: str = "") -> None:
    """Write the outcome of a run's case-store import into its ``run_summary.json``.

    The file is replaced through a temporary name and a rename, so a kill leaves the old summary or the new.
    """
    path = run_dir / SUMMARY_FILE
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary[IMPORT_KEY] = {"status": status, **({"error": error} if error else {})}
    temporary = write_summary(summary, path.with_name(f".{SUMMARY_FILE}.{secrets.token_hex(4)}.tmp"))
    _fsync(temporary)
    os.replace(temporary, path)


def import_record(run_dir: Path) -> dict[str, str]:
    """What became of the run's case-store import, as its ``run_summary.json`` records it."""
    return json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))[IMPORT_KEY]


def import_work_lists(runs_dir: Path, run_dir: Path, url: str) -> list[str]:
    """Import the work list of ``run_dir`` into the case store at ``url``, after every earlier run whose
    import failed or never finished (a kill after the run was published); return what each import did, in words.

    A failed import is recorded in the run's summary by the class of its error only (a store's message
    can quote the rows it refused), and :class:`ImportFailedError` is raised once the earlier runs were tried.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from casework.imports import import_into_store

    pending = [record.path for record in completed_runs(runs_dir)
               if (record.summary.get(IMPORT_KEY) or {}).get("status") in (IMPORT_PENDING, IMPORT_FAILED)
               and record.path != run_dir]
    done = []
    for directory in [*pending, run_dir]:
        try:
            done.append(import_into_store(directory, url).describe())
        except SQLAlchemyError as error:
            record_import(directory, IMPORT_FAILED, type(error).__name__)
            if directory == run_dir:
                raise ImportFailedError(ImportFailedError.MESSAGE.format(
                    run_id=directory.name, error=type(error).__name__, run_dir=directory)) from None
            continue
        record_import(directory, IMPORTED)
    return done
