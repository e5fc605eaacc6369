"""A table checked by partitions, then merged, is the table checked whole: the same valid rows, rejects and figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract import (
    CONTRACT,
    UNIQUE,
    TableCheck,
    TableSpec,
    check_extract,
    check_partition,
    merge_partition_checks,
)
from tests.features.corrupted_rows import GOOD_ROWS_PER_TABLE, NASTY, bad_extract


def by_partitions(rows: int):
    """A table check that cuts each table into partitions of ``rows`` rows, checks them and merges the checks."""

    def check(spec: TableSpec, raw: pd.DataFrame, source: str, taken_keys=None, latest_period=None) -> TableCheck:
        parts = [check_partition(spec, raw.iloc[start:start + rows], source, taken_keys, latest_period)
                 for start in range(0, max(len(raw), 1), rows)]
        return merge_partition_checks(spec, parts, source)

    return check


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("corrupted")
    bad_extract(directory, NASTY, seed=18)
    return directory


@pytest.mark.parametrize("rows", [1, 7, GOOD_ROWS_PER_TABLE + 1, 10_000])
def test_partitions_give_the_check_of_the_whole_table(corrupted: Path, rows: int) -> None:
    whole = check_extract(corrupted)
    merged = check_extract(corrupted, check=by_partitions(rows))
    pd.testing.assert_frame_equal(merged.rejects, whole.rejects, check_exact=True)
    for table in CONTRACT:
        pd.testing.assert_frame_equal(merged.table(table), whole.table(table), check_exact=True)
        assert merged.quality[table] == whole.quality[table], table


def test_a_key_first_met_in_an_earlier_partition_is_refused_as_a_repeat(corrupted: Path) -> None:
    # the corrupter repeats keys of the good rows (the first ones) in bad rows further down
    whole = check_extract(corrupted)
    repeated = whole.rejects[(whole.rejects["rule"] == UNIQUE) & (whole.rejects["row"] > GOOD_ROWS_PER_TABLE)]
    assert len(repeated) >= len([spec for spec in CONTRACT.values() if any(c.unique for c in spec.columns)])
    merged = check_extract(corrupted, check=by_partitions(GOOD_ROWS_PER_TABLE))
    assert set(merged.rejects.itertuples(index=False)) >= set(repeated.itertuples(index=False))
