"""An extract: every table of a data directory read and checked, and the run's judgement of its rejects."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract.checks import TableCheck, TableQuality, arrow_column, check_table
from features.contract.parsing import Arrow
from features.contract.reading import read_source
from features.contract.rejects import reject_counts, rejects_frame
from features.contract.specs import CONTRACT, ContractError, table_spec

logger = logging.getLogger(__name__)

TOO_MANY_REJECTS = (
    "too many rejects in {table}: {refused} of {rows} rows refused ({share:.1%}, limit {limit:.1%}); "
    "most often column {column} breaking rule {rule} ({count} rows), e.g. row {row}: {value!r}"
)


TableChecker = Callable[..., TableCheck]
"""How a table is checked: ``check(spec, raw, source=, taken_keys=, latest_period=)`` as
:func:`~features.contract.checks.check_table` does it, in one piece or by partitions."""

READ_FROM_FILES = "files"
READ_FROM_CACHE = "cache"


class TooManyRejectsError(ContractError):
    """A table's refused rows pass ``settings.contract.max_reject_share``."""


@dataclass(frozen=True, eq=False)
class Extract:
    """A validated extract: the valid rows of each table, every reject and the quality figures."""

    benefit_claims: pd.DataFrame
    tax_records: pd.DataFrame
    housing_claims: pd.DataFrame
    address_register: pd.DataFrame
    electoral_register: pd.DataFrame
    equality_monitoring: pd.DataFrame
    investigation_outcomes: pd.DataFrame
    rejects: pd.DataFrame
    quality: dict[str, TableQuality]
    digests: Mapping[str, str] = field(default_factory=dict)
    """sha256 of each file the tables were read from, by file name, when they were digested
    (``pipelines.extract_cache``); empty otherwise."""
    read_from: str = READ_FROM_FILES
    """:data:`READ_FROM_FILES` when validated in this run, :data:`READ_FROM_CACHE` when read from a
    workspace's cache of the validated extract of the same files."""

    def table(self, name: str) -> pd.DataFrame:
        """The valid frame of table ``name``."""
        return getattr(self, table_spec(name).name)


def extract_summary(extract: Extract) -> dict[str, Any]:
    """Per table: rows in, valid and refused, completeness, validity and key uniqueness; rejects per rule."""
    return {
        "tables": {name: quality.as_dict() for name, quality in extract.quality.items()},
        "rejects": reject_counts(extract.rejects),
    }


# --------------------------------------------------------------------------------------------- extract
def check_extract(data_dir: str | Path, absent_columns: Mapping[str, Collection[str]] | None = None,
                  latest_period: dt.date | None = None, check: TableChecker = check_table) -> Extract:
    """Read and validate every contract table of ``data_dir``; nothing here stops on rejects.

    ``absent_columns`` (``contract.absent_columns``) names, per table, optional columns the source
    does not deliver; without it a missing column that says which claims ended stops the run.
    A tax period after ``latest_period`` is refused (default: the month the run is made in,
    :func:`~features.contract.checks.run_month`). ``check`` checks each table as read (by default
    in one piece); the reading, and a rule between tables, stay here.

    Every command runs this, writes the rejects for the data owner, then judges them with
    :func:`enforce_reject_limit` (``validate`` after reporting them, scoring and training before
    linking), so a stopped run still leaves every refused row with its reason.
    """
    data_dir = Path(data_dir)
    frames: dict[str, pd.DataFrame] = {}
    rejects: list[pd.DataFrame] = []
    quality: dict[str, TableQuality] = {}
    # only the keys a later table is compared with are kept
    compared = {spec.key_differs_from for spec in CONTRACT.values()}
    keys: dict[str, Arrow] = {}
    for spec in CONTRACT.values():
        started = time.perf_counter()
        raw, path, missing, faults = read_source(spec, data_dir, (absent_columns or {}).get(spec.name, ()))
        if spec.name in compared:
            keys[spec.name] = arrow_column(raw, spec.key, len(raw))
        taken = keys[spec.key_differs_from] if spec.key_differs_from else None
        checked = check(spec, raw, source="" if path is None else str(path), taken_keys=taken,
                        latest_period=latest_period)
        frames[spec.name] = checked.valid
        rejects += [checked.rejects, faults]
        # rows the file itself spoiled were read in, and refused
        quality[spec.name] = dataclasses.replace(
            checked.quality, missing_columns=tuple(missing), rows_in=checked.quality.rows_in + len(faults),
            rows_refused=checked.quality.rows_refused + len(faults))
        logger.info(
            "%s: %d rows, %d valid, %d refused (%.1f s)",
            spec.name,
            checked.quality.rows_in,
            checked.quality.rows_valid,
            checked.quality.rows_refused,
            time.perf_counter() - started,
        )
    return Extract(**frames, rejects=rejects_frame(rejects), quality=quality)


def enforce_reject_limit(extract: Extract, max_reject_share: float) -> None:
    """Raise :class:`TooManyRejectsError` for the first table (contract order) refusing too many rows.

    The message names the table, the column and rule with most rejects, and its first row and value.
    """
    for table, quality in extract.quality.items():
        if quality.refused_share <= max_reject_share:
            continue
        rejects = extract.rejects[extract.rejects["table"] == table]
        counts = rejects.groupby(["column", "rule"]).size().reset_index(name="count")
        worst = counts.sort_values(
            ["count", "column", "rule"], ascending=[False, True, True], kind="stable"
        ).iloc[0]
        example = rejects[
            (rejects["column"] == worst["column"]) & (rejects["rule"] == worst["rule"])
        ].iloc[0]
        raise TooManyRejectsError(
            TOO_MANY_REJECTS.format(
                table=table,
                refused=quality.rows_refused,
                rows=quality.rows_in,
                share=quality.refused_share,
                limit=max_reject_share,
                column=worst["column"],
                rule=worst["rule"],
                count=int(worst["count"]),
                row=int(example["row"]),
                value=str(example["value"]),
            )
        )
