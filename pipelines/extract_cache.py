"""The workspace's cache of validated extracts: delivered files are validated once, then read as Parquet.

A run digests its input files (sha256, streamed in blocks). Those digests, the contract's code, the
month the run is made in (a tax period after it is refused) and ``contract.absent_columns`` make the
extract's key. The first run on the files validates them as ever, then keeps what the check gave
in ``<workspace>/extracts/<key>/``: the valid frame of every contract table and every reject, as
Parquet, and the quality figures in ``quality.json``. A later run on the same files (scoring after
training, a rerun after a kill, the report, prepare) reads those instead of validating again, and
writes the same rejects and summary figures: the rejects are kept in full, with the tables they
were refused from. Another byte in any file, another contract, month or setting gives another key,
so an entry never answers for files it was not made from.

An entry is written in a hidden staging directory, flushed, then renamed into place: a run killed
while writing leaves only a ``.partial-`` directory, which no run reads and a later store removes
once it is an hour old. Storing keeps at most ``extract_cache.keep`` entries, the least recently
used removed first; a purge (``pipelines.retention``) removes those not used within ``retention.days``,
as they hold the extract's personal data. An entry that cannot be read (removed meanwhile, damaged) is replaced by
validating the files afresh; a file that changes while it is validated is not stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

import features.contract
from configs.settings import Settings
from features.contract import (
    CONTRACT,
    READ_FROM_CACHE,
    Extract,
    TableChecker,
    TableQuality,
    check_extract,
    check_table,
    file_sha256,
    run_month,
    table_path,
)
from pipelines.runs import STAGING_PREFIX, _fsync, _fsync_tree

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Changes when the layout of an entry changes: entries of another format are never read."""
KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")
REJECTS_TABLE = "rejects"
QUALITY_FILE = "quality.json"
DISCARDED_PREFIX = ".discarded-"
STALE_STAGING_SECONDS = 3600
"""A staging directory this old is a killed run's: a store removes it (a live one is seconds old)."""


@dataclass(frozen=True)
class ExtractFiles:
    """The file of each contract table of a data directory, and what it was when it was digested."""

    paths: dict[str, Path | None]
    """By table, in contract order; ``None`` for an optional table without a file."""
    digests: dict[str, str]
    """sha256 of each file's bytes, by file name."""
    stats: dict[str, tuple[int, int]]
    """Size and modification time (ns) of each file, by file name, taken before it was digested."""

    def unchanged(self) -> bool:
        """Whether every file still has the size and modification time it had when digested."""
        return all(_stat(path) == self.stats.get(path.name) for path in self.paths.values() if path is not None)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def digest_files(data_dir: str | Path) -> ExtractFiles | None:
    """Find and digest the file of every contract table in ``data_dir``.

    Returns ``None`` when a required table has no file (validating says which); two files for one
    table raise the contract's error naming them (:func:`features.contract.table_path`).
    """
    paths = {spec.name: table_path(data_dir, spec.name) for spec in CONTRACT.values()}
    if any(path is None and not CONTRACT[name].optional for name, path in paths.items()):
        return None
    present = [path for path in paths.values() if path is not None]
    stats = {path.name: _stat(path) for path in present}
    return ExtractFiles(paths=paths, digests={path.name: file_sha256(path) for path in present}, stats=stats)


@functools.cache
def contract_code_digest() -> str:
    """sha256 of the contract's code (every module of ``features.contract``) and of the versions of the
    libraries that parse files and write Parquet: any change to how a file is validated changes it."""
    digest = hashlib.sha256()
    for module in sorted(Path(features.contract.__file__).parent.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes() + b"\0")
    for library in ("pandas", "pyarrow", "numpy"):
        digest.update(f"{library}=={importlib.metadata.version(library)}\0".encode())
    return digest.hexdigest()


def extract_key(files: ExtractFiles, absent_columns: Mapping[str, list[str]], latest_period: dt.date) -> str:
    """The key of the validated extract of ``files``: equal only for the same bytes, contract and rules."""
    described = {
        "format": CACHE_FORMAT,
        "contract": contract_code_digest(),
        "latest_period": latest_period.isoformat(),
        "absent_columns": {table: sorted(columns) for table, columns in sorted(absent_columns.items())},
        "files": {table: None if path is None else [path.name, files.digests[path.name]]
                  for table, path in files.paths.items()},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def validated_extract(data_dir: str | Path, settings: Settings, cache_dir: str | Path | None,
                      latest_period: dt.date | None = None, check: TableChecker = check_table) -> Extract:
    """The validated extract of ``data_dir``: read from the cache in ``cache_dir`` when it holds the
    check of the same files, else checked (:func:`features.contract.check_extract`) and stored there.

    Parameters
    ----------
    data_dir : path
        A data directory in the input contract; never modified.
    settings : Settings
        ``contract.absent_columns`` is part of the key; ``extract_cache.enabled`` off, like
        ``cache_dir`` None, validates the files with no cache; ``extract_cache.keep`` bounds it.
    cache_dir : path or None
        The workspace's ``extracts_dir``.
    latest_period : date, optional
        The latest tax period allowed (default: the month the run is made in).
    check : callable, optional
        How each table is checked (:data:`features.contract.TableChecker`): in one piece by default.

    Returns
    -------
    Extract
        As :func:`~features.contract.check_extract` gives it, with ``digests`` of the files and
        ``read_from`` saying whether it came from the cache.
    """
    absent = settings.contract.absent_columns
    latest_period = latest_period or run_month()
    files = digest_files(data_dir) if cache_dir is not None and settings.extract_cache.enabled else None
    if files is None:
        return check_extract(data_dir, absent, latest_period, check)
    cache_dir = Path(cache_dir)
    entry = cache_dir / extract_key(files, absent, latest_period)
    if entry.is_dir():
        cached = read_entry(entry, files)
        if cached is not None:
            with contextlib.suppress(OSError):  # its last use: the least recently used entry goes first
                os.utime(entry)
            logger.info("extract read from the cache of validated extracts: %s", entry)
            return cached
        _discard(entry)
    extract = dataclasses.replace(check_extract(data_dir, absent, latest_period, check), digests=files.digests)
    if not files.unchanged():
        logger.warning("a file of %s changed while it was validated: its check is not cached", data_dir)
        return extract
    try:
        store_entry(extract, entry)
    except OSError as error:  # a full disk or a read-only workspace costs the next run a validation, no more
        logger.warning("validated extract not cached in %s: %s", cache_dir, error)
        return extract
    prune(cache_dir, settings.extract_cache.keep)
    return extract


def describe_read(extract: Extract, settings: Settings) -> str:
    """One line for a run's output: whether its extract was read from the cache or validated now."""
    if extract.read_from == READ_FROM_CACHE:
        return "extract: read from the cache of validated extracts (the same files were validated before)"
    if extract.digests and settings.extract_cache.enabled:
        return "extract: validated from the files, and cached for later runs on the same files"
    return "extract: validated from the files (no cache)"


def read_entry(entry: Path, files: ExtractFiles) -> Extract | None:
    """The extract kept in ``entry``, its sources named by ``files``; ``None`` when it cannot be read."""
    try:
        quality = json.loads((entry / QUALITY_FILE).read_text(encoding="utf-8"))
        frames = {name: pd.read_parquet(entry / f"{name}.parquet") for name in CONTRACT}
        rejects = pd.read_parquet(entry / f"{REJECTS_TABLE}.parquet")
        # the source is the file this run read: the same bytes may sit in another directory
        qualities = {name: TableQuality(**{**quality[name], "missing_columns": tuple(quality[name]["missing_columns"]),
                                           "source": "" if files.paths[name] is None else str(files.paths[name])})
                     for name in CONTRACT}
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as error:
        logger.warning("cached extract %s cannot be read (%s): validating the files again", entry, error)
        return None
    return Extract(**frames, rejects=rejects, quality=qualities, digests=files.digests, read_from=READ_FROM_CACHE)


def store_entry(extract: Extract, entry: Path) -> None:
    """Write ``extract`` as ``entry``: in a staging directory beside it, flushed, then renamed into place.

    Another run storing the same entry first wins; its entry is the same check of the same files.
    """
    staging = entry.parent / f"{STAGING_PREFIX}{entry.name}-{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    try:
        started = time.perf_counter()
        for name in CONTRACT:
            extract.table(name).to_parquet(staging / f"{name}.parquet", index=False)
        extract.rejects.to_parquet(staging / f"{REJECTS_TABLE}.parquet", index=False)
        quality = {name: {field.name: getattr(figures, field.name) for field in dataclasses.fields(figures)
                          if field.name != "source"} for name, figures in extract.quality.items()}
        (staging / QUALITY_FILE).write_text(json.dumps(quality, indent=1), encoding="utf-8")
        _fsync_tree(staging)
        try:
            os.rename(staging, entry)
        except OSError:
            if not entry.is_dir():
                raise
            return  # stored meanwhile by another run
        _fsync(entry.parent)
        logger.info("validated extract cached in %s (%.1f s)", entry, time.perf_counter() - started)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def cached_entries(cache_dir: str | Path) -> list[Path]:
    """The complete entries of ``cache_dir``, most recently used first."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return []
    used = {path: _stat(path) for path in cache_dir.iterdir() if KEY_PATTERN.match(path.name) and path.is_dir()}
    # an entry another run removed meanwhile has no stat
    return sorted((path for path, stat in used.items() if stat is not None),
                  key=lambda path: (-used[path][1], path.name))


def prune(cache_dir: str | Path, keep: int, now: float | None = None) -> list[Path]:
    """Remove the entries beyond the ``keep`` most recently used, and stale staging directories.

    Returns the directories removed.
    """
    cache_dir = Path(cache_dir)
    now = time.time() if now is None else now
    removed = cached_entries(cache_dir)[keep:]
    removed += [path for path in cache_dir.glob(f"{STAGING_PREFIX}*")
                if (stat := _stat(path)) is not None and now - stat[1] / 1e9 > STALE_STAGING_SECONDS]
    removed += list(cache_dir.glob(f"{DISCARDED_PREFIX}*"))  # left by a run killed while discarding
    for path in removed:
        _discard(path)
    return removed


def expire(cache_dir: str | Path, cutoff: dt.datetime) -> list[Path]:
    """Remove the entries last used before ``cutoff``; returns the directories removed."""
    removed = [path for path in cached_entries(cache_dir)
               if (stat := _stat(path)) is not None and stat[1] / 1e9 < cutoff.timestamp()]
    for path in removed:
        _discard(path)
    return removed


def _discard(path: Path) -> None:
    """Remove ``path``, first renamed so that no run reads it half-removed."""
    doomed = path
    if not path.name.startswith(DISCARDED_PREFIX):
        doomed = path.parent / f"{DISCARDED_PREFIX}{path.name}-{secrets.token_hex(4)}"
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return  # removed by another run
    shutil.rmtree(doomed, ignore_errors=True)
