"""The cache of validated extracts: read back equal to validating, never for other files, rules or a half write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from configs.settings import Settings, load_settings
from features.contract import (
    CONTRACT,
    READ_FROM_CACHE,
    READ_FROM_FILES,
    Extract,
    check_extract,
    file_sha256,
)
from pipelines.extract_cache import (
    QUALITY_FILE,
    STALE_STAGING_SECONDS,
    cached_entries,
    describe_read,
    prune,
    store_entry,
    validated_extract,
)
from pipelines.runs import STAGING_PREFIX
from tests.features.contract_fixtures import clean_rows, write_contract_dir

DECEMBER, JANUARY = dt.date(2026, 12, 1), dt.date(2027, 1, 1)


def dirty_extract(directory: Path, file_format: str = "csv") -> Path:
    """The fixtures' extract with rows breaking rules, a tax period of January 2027 and, in CSV, an
    amount that is no number and a row of bytes that are not UTF-8 (refused by the file reader)."""
    claims = clean_rows("benefit_claims")
    claims[1]["nino"] = "not a nino"
    claims[2]["claim_end"] = "2020-01-01"  # before its start
    tax = clean_rows("tax_records")
    if file_format == "csv":  # a typed parquet column holds numbers only
        tax[0]["amount"] = "twelve"
    tax[1]["period"] = "2027-01"
    data_dir = write_contract_dir(directory, file_format=file_format, benefit_claims=claims, tax_records=tax,
                                  omit=["investigation_outcomes"])
    if file_format == "csv":
        with (data_dir / "address_register.csv").open("ab") as handle:
            handle.write(b"300012345678,AB1 2CD,E06000001,fl\xe2t,1\n")
    return data_dir


@pytest.fixture
def settings() -> Settings:
    return load_settings()


def assert_same_extract(cached: Extract, fresh: Extract) -> None:
    """Every valid frame, dtype, reject and quality figure equal."""
    for name in CONTRACT:
        pd.testing.assert_frame_equal(cached.table(name), fresh.table(name), check_exact=True)
    pd.testing.assert_frame_equal(cached.rejects, fresh.rejects, check_exact=True)
    assert cached.quality == fresh.quality


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_files_validated_once_are_read_back_as_validating_them_gives(tmp_path, settings, file_format):
    data_dir = dirty_extract(tmp_path / "extract", file_format)
    cache = tmp_path / "extracts"
    fresh = check_extract(data_dir, latest_period=DECEMBER)
    assert {"range:period", "pattern:nino", "order:claim_end>=claim_start"} <= set(fresh.rejects["rule"])
    if file_format == "csv":
        assert {"file:encoding", "type:decimal"} <= set(fresh.rejects["rule"])

    first = validated_extract(data_dir, settings, cache, latest_period=DECEMBER)
    again = validated_extract(data_dir, settings, cache, latest_period=DECEMBER)

    assert (first.read_from, again.read_from) == (READ_FROM_FILES, READ_FROM_CACHE)
    assert len(cached_entries(cache)) == 1
    assert_same_extract(first, fresh)
    assert_same_extract(again, fresh)
    assert again.digests == {path.name: file_sha256(path) for path in data_dir.iterdir()}
    assert describe_read(again, settings).startswith("extract: read from the cache")
    assert describe_read(first, settings).startswith("extract: validated from the files, and cached")


def test_the_same_files_in_another_directory_are_read_from_the_cache_naming_that_directory(tmp_path, settings):
    delivered = dirty_extract(tmp_path / "delivered")
    copied = tmp_path / "copied"
    copied.mkdir()
    for path in delivered.iterdir():
        (copied / path.name).write_bytes(path.read_bytes())
    validated_extract(delivered, settings, tmp_path / "extracts", latest_period=DECEMBER)

    again = validated_extract(copied, settings, tmp_path / "extracts", latest_period=DECEMBER)

    assert again.read_from == READ_FROM_CACHE
    assert_same_extract(again, check_extract(copied, latest_period=DECEMBER))
    assert again.quality["tax_records"].source == str(copied / "tax_records.csv")


def test_a_changed_byte_in_any_file_is_validated_again(tmp_path, settings):
    data_dir = dirty_extract(tmp_path / "extract")
    cache = tmp_path / "extracts"
    validated_extract(data_dir, settings, cache, latest_period=DECEMBER)
    electors = data_dir / "electoral_register.csv"
    electors.write_bytes(electors.read_bytes().replace(b"Dan,Smith", b"Dan,Smyth"))

    changed = validated_extract(data_dir, settings, cache, latest_period=DECEMBER)

    assert changed.read_from == READ_FROM_FILES
    assert "Smyth" in set(changed.electoral_register["surname"])
    assert len(cached_entries(cache)) == 2


def test_another_run_month_or_absent_columns_setting_is_validated_again(tmp_path, settings):
    data_dir = dirty_extract(tmp_path / "extract")
    cache = tmp_path / "extracts"
    december = validated_extract(data_dir, settings, cache, latest_period=DECEMBER)
    assert "range:period" in set(december.rejects["rule"])

    # January's run may read January's tax period: December's rejects would refuse it
    january = validated_extract(data_dir, settings, cache, latest_period=JANUARY)
    assert january.read_from == READ_FROM_FILES
    assert "range:period" not in set(january.rejects["rule"])

    stated = load_settings(contract={"absent_columns": {"housing_claims": ["end_date"]}})
    assert validated_extract(data_dir, stated, cache, latest_period=JANUARY).read_from == READ_FROM_FILES
    assert validated_extract(data_dir, stated, cache, latest_period=JANUARY).read_from == READ_FROM_CACHE


def test_a_cache_turned_off_validates_every_time_and_keeps_nothing(tmp_path):
    data_dir = dirty_extract(tmp_path / "extract")
    off = load_settings(extract_cache={"enabled": False})
    for _ in range(2):
        extract = validated_extract(data_dir, off, tmp_path / "extracts", latest_period=DECEMBER)
        assert extract.read_from == READ_FROM_FILES
    assert not (tmp_path / "extracts").exists()
    assert describe_read(extract, off) == "extract: validated from the files (no cache)"


def test_a_missing_table_is_still_named_by_the_contract_check(tmp_path, settings):
    from features.contract import MissingTableError

    data_dir = write_contract_dir(tmp_path / "extract", omit=["tax_records"])
    with pytest.raises(MissingTableError, match="missing table tax_records"):
        validated_extract(data_dir, settings, tmp_path / "extracts")
    assert cached_entries(tmp_path / "extracts") == []


def test_a_write_stopped_part_way_leaves_no_entry(tmp_path, settings):
    data_dir = dirty_extract(tmp_path / "extract")
    extract = check_extract(data_dir, latest_period=DECEMBER)
    # the seven tables are written, then the rejects cannot be (mixed values): the write stops there
    unwritable = dataclasses.replace(extract, rejects=pd.DataFrame({"value": [1, "one"]}, dtype=object))
    entry = tmp_path / "extracts" / ("0" * 64)
    with pytest.raises(pa.ArrowException):
        store_entry(unwritable, entry)
    assert list((tmp_path / "extracts").iterdir()) == []


def test_a_killed_write_left_behind_is_ignored_then_removed(tmp_path, settings):
    data_dir = dirty_extract(tmp_path / "extract")
    cache = tmp_path / "extracts"
    first = validated_extract(data_dir, settings, cache, latest_period=DECEMBER)
    [entry] = cached_entries(cache)
    # what a run killed while writing leaves: a staging directory of some tables, and no entry
    killed = cache / f"{STAGING_PREFIX}{entry.name}-0badf00d"
    entry.rename(killed)
    (killed / "tax_records.parquet").unlink()

    again = validated_extract(data_dir, settings, cache, latest_period=DECEMBER)

    assert again.read_from == READ_FROM_FILES
    assert_same_extract(again, first)
    assert cached_entries(cache) == [entry] and killed.exists()  # another run may still be writing it
    assert prune(cache, keep=3, now=time.time() + STALE_STAGING_SECONDS + 1) == [killed]
    assert not killed.exists()
    assert validated_extract(data_dir, settings, cache, latest_period=DECEMBER).read_from == READ_FROM_CACHE


def test_a_damaged_entry_is_validated_again_and_replaced(tmp_path, settings):
    data_dir = dirty_extract(tmp_path / "extract")
    cache = tmp_path / "extracts"
    validated_extract(data_dir, settings, cache, latest_period=DECEMBER)
    [entry] = cached_entries(cache)
    (entry / QUALITY_FILE).write_text("{", encoding="utf-8")

    again = validated_extract(data_dir, settings, cache, latest_period=DECEMBER)

    assert again.read_from == READ_FROM_FILES
    assert_same_extract(again, check_extract(data_dir, latest_period=DECEMBER))
    assert validated_extract(data_dir, settings, cache, latest_period=DECEMBER).read_from == READ_FROM_CACHE
    assert [path.name for path in cache.iterdir()] == [entry.name]


def test_the_cache_keeps_the_most_recently_used_extracts(tmp_path):
    keep_two = load_settings(extract_cache={"keep": 2})
    cache = tmp_path / "extracts"
    extracts = []
    for number in range(3):
        rows = clean_rows("address_register")
        rows[0]["bedrooms"] = str(number)
        extracts.append(write_contract_dir(tmp_path / f"extract{number}", address_register=rows))
    validated_extract(extracts[0], keep_two, cache)
    validated_extract(extracts[1], keep_two, cache)
    # extract 0 used again: extract 1 is now the least recently used
    past = time.time() - 60
    for age, entry in enumerate(cached_entries(cache)):
        os.utime(entry, (past - age, past - age))
    assert validated_extract(extracts[0], keep_two, cache).read_from == READ_FROM_CACHE

    validated_extract(extracts[2], keep_two, cache)

    assert len(cached_entries(cache)) == 2
    assert validated_extract(extracts[0], keep_two, cache).read_from == READ_FROM_CACHE
    assert validated_extract(extracts[2], keep_two, cache).read_from == READ_FROM_CACHE
    assert validated_extract(extracts[1], keep_two, cache).read_from == READ_FROM_FILES


# ---------------------------------------------------------------- the flows: the same outputs, cached or not

RUN_OUTPUTS = ("cases.csv", "cases.parquet", "explanations.parquet", "links.parquet", "rejects.csv")
SUMMARY_FIGURES = ("tables", "rejects", "rejects_total", "rows_out", "subjects", "flagged", "data_fingerprint")


@pytest.fixture(scope="module")
def scored(tmp_path_factory, prefect_harness):
    """A generated world with refused rows; trained on (which caches its extract), then scored from the
    cache, with the cache off, and from the cache on Dask; and prepared from the cache and without it."""
    from pipelines.prepare import prepare_flow
    from pipelines.score import score_flow
    from synthetic import generate_world
    from tests.conftest import FAST_DETECTOR, activated_workspace, train_approved

    root = tmp_path_factory.mktemp("cached_world")
    data_dir = root / "data"
    generate_world(data_dir, people=400, seed=7, truth_path=root / "truth.parquet")
    tax = data_dir / "tax_records.csv"
    lines = tax.read_bytes().splitlines(keepends=True)
    # a repeated record and a row of bytes that are not UTF-8: both refused, the rest read
    tax.write_bytes(b"".join([*lines, lines[-1], lines[-2].replace(b",", b"\xff,", 1)]))
    config = root / "config.yaml"
    config.write_text(FAST_DETECTOR, encoding="utf-8")
    settings = load_settings(config)
    off = load_settings(config, extract_cache={"enabled": False})
    on_dask = load_settings(config, orchestration={"engine": "dask", "dask_partition_rows": 128,
                                                   "dask_workers": 2, "dask_processes": False})
    with activated_workspace(root / "workspace", settings) as workspace:
        trained = train_approved(data_dir, workspace, settings, truth_path=root / "truth.parquet")
        runs = {"cached": score_flow(data_dir, root / "cached", workspace, settings),
                "uncached": score_flow(data_dir, root / "uncached", workspace, off),
                "dask": score_flow(data_dir, root / "dask", workspace, on_dask)}
        prepared = {"cached": prepare_flow(data_dir, root / "prepared_cached", settings, workspace.extracts_dir),
                    "uncached": prepare_flow(data_dir, root / "prepared_uncached", off, workspace.extracts_dir)}
        yield {"trained": trained, "runs": runs, "prepared": prepared, "workspace": workspace}


def _run_dir(run: dict) -> Path:
    return Path(run["outputs"]["summary"]).parent


@pytest.mark.slow
def test_a_scoring_run_from_the_cache_writes_the_outputs_of_validating_byte_for_byte(scored):
    from pipelines.score import format_summary

    runs = scored["runs"]
    assert runs["cached"]["rejects_total"] >= 2 and {"file:encoding", "unique"} <= set(runs["cached"]["rejects"]
                                                                                       ["tax_records"])
    for name in RUN_OUTPUTS:
        uncached = (_run_dir(runs["uncached"]) / name).read_bytes()
        for other in ("cached", "dask"):
            assert (_run_dir(runs[other]) / name).read_bytes() == uncached, (other, name)
    for figure in SUMMARY_FIGURES:
        assert runs["cached"][figure] == runs["uncached"][figure] == runs["dask"][figure], figure
    assert scored["trained"]["extract"].startswith("extract: validated from the files, and cached")
    assert runs["cached"]["extract"].startswith("extract: read from the cache")
    assert runs["uncached"]["extract"] == "extract: validated from the files (no cache)"
    assert runs["cached"]["extract"] in format_summary(runs["cached"]).splitlines()
    # training validated the files: the rejects it wrote are those the cached run wrote
    assert (_run_dir(runs["cached"]) / "rejects.csv").read_bytes() == (
        scored["workspace"].training_dir / "rejects.csv").read_bytes()


@pytest.mark.slow
def test_prepare_from_the_cache_writes_the_feature_table_of_validating(scored):
    cached, uncached = scored["prepared"]["cached"], scored["prepared"]["uncached"]
    assert cached.read_bytes() == uncached.read_bytes()
    assert len(cached_entries(scored["workspace"].extracts_dir)) == 1


@pytest.mark.slow
def test_the_command_line_says_where_the_extract_came_from_and_no_cache_validates(tmp_path, prefect_harness):
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    data_dir = write_contract_dir(tmp_path / "extract")
    workspace = tmp_path / "workspace"

    def prepare(*extra: str) -> str:
        command = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "prepare", "--data", str(data_dir), "--out", str(tmp_path / "out"),
             "--workspace", str(workspace), *extra],
            env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}, capture_output=True, text=True,
            cwd=Path(__file__).parents[2], check=True)
        return command.stdout + command.stderr

    assert "extract: validated from the files, and cached for later runs on the same files" in prepare()
    assert "extract: read from the cache of validated extracts" in prepare()
    assert "extract: validated from the files (no cache)" in prepare("--no-cache")
    assert len(cached_entries(workspace / "extracts")) == 1
