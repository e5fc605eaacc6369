"""The run history: run ids, atomic publication, the copy in --out, listing, retention, extracts."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from configs.settings import load_settings
from pipelines.cli import main
from pipelines.retention import PURGE_LOG, format_purge, purge_workspace
from pipelines.runs import (
    RUN_ID_PATTERN,
    STAGING_PREFIX,
    SUMMARY_FILE,
    completed_runs,
    copy_outputs,
    describe_run,
    format_runs,
    new_run_id,
    run_started_at,
    staged_run,
)
from pipelines.schedule import ScheduleError, newest_extract, run_scoring, scheduled_capacity

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """The commands below activate workspaces, which set Prefect's and MLflow's environment."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _summary(run_id: str, **extra: object) -> dict[str, object]:
    return {"run_id": run_id, "as_of": "2026-04-30", "model": {"version": "3"}, "subjects": {"scored": 1200},
            "flagged": 24, "drift": {"alert": False}, "status": "complete", **extra}


def _publish(runs_dir: Path, started: dt.datetime, **extra: object) -> str:
    run_id = new_run_id(started)
    with staged_run(runs_dir, run_id) as staging:
        (staging / "cases.csv").write_text("subject_ref\nB1\n", encoding="utf-8")
        (staging / SUMMARY_FILE).write_text(json.dumps(_summary(run_id, **extra)), encoding="utf-8")
    return run_id


def test_run_ids_carry_their_start_time_and_differ():
    ids = {new_run_id(NOW) for _ in range(50)}
    assert len(ids) == 50
    assert all(RUN_ID_PATTERN.match(run_id) and run_id.startswith("20260601T120000Z-") for run_id in ids)
    assert run_started_at(next(iter(ids))) == NOW


def test_a_run_appears_complete_only_when_its_block_ends(tmp_path: Path):
    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    out.mkdir()
    (out / SUMMARY_FILE).write_text("{\"run_id\": \"older\"}", encoding="utf-8")
    (out / "notes.txt").write_text("kept", encoding="utf-8")
    run_id = new_run_id(NOW)
    with staged_run(runs_dir, run_id) as staging:
        (staging / "cases.csv").write_text("subject_ref\nB1\n", encoding="utf-8")
        (staging / SUMMARY_FILE).write_text(json.dumps(_summary(run_id)), encoding="utf-8")
        assert staging.name == f"{STAGING_PREFIX}{run_id}"
        assert completed_runs(runs_dir) == []
    assert [record.run_id for record in completed_runs(runs_dir)] == [run_id]
    assert sorted(path.name for path in runs_dir.iterdir()) == [run_id]
    assert json.loads((out / SUMMARY_FILE).read_text())["run_id"] == "older"
    copy_outputs(runs_dir / run_id, out)
    assert json.loads((out / SUMMARY_FILE).read_text())["run_id"] == run_id
    assert (out / "cases.csv").read_bytes() == (runs_dir / run_id / "cases.csv").read_bytes()
    assert sorted(path.name for path in out.iterdir()) == ["cases.csv", "notes.txt", SUMMARY_FILE]


def test_a_failed_run_leaves_nothing(tmp_path: Path):
    runs_dir = tmp_path / "runs"
    with pytest.raises(RuntimeError), staged_run(runs_dir, new_run_id(NOW)) as staging:
        (staging / "cases.csv").write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert list(runs_dir.iterdir()) == []


def test_runs_list_shows_every_complete_run_newest_first(tmp_path: Path, capsys):
    workspace = tmp_path / "workspace"
    first = _publish(workspace / "runs", NOW - dt.timedelta(days=40))
    second = _publish(workspace / "runs", NOW, drift={"alert": True})
    (workspace / "runs" / f"{STAGING_PREFIX}{new_run_id(NOW)}").mkdir()  # a killed run
    (workspace / "runs" / new_run_id(NOW)).mkdir()  # no summary: not complete
    assert main(["runs", "list", "--workspace", str(workspace)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("  ")[0] == "run id"
    assert [line.split()[0] for line in lines[1:]] == [second, first]
    assert lines[1].split()[-2:] == ["yes", "complete"] and "1,200" in lines[1] and "2026-04-30" in lines[1]
    assert format_runs([]) == "no scoring runs in this workspace yet"


def test_purge_deletes_runs_past_retention_and_logs_them(tmp_path: Path):
    workspace = tmp_path / "workspace"
    runs_dir = workspace / "runs"
    old = _publish(runs_dir, NOW - dt.timedelta(days=31))
    recent = _publish(runs_dir, NOW - dt.timedelta(days=29))
    killed = runs_dir / f"{STAGING_PREFIX}{new_run_id(NOW - dt.timedelta(days=60))}"
    killed.mkdir()
    # cached validated extracts hold personal data too: one last used before the limit goes
    extracts_dir = workspace / "extracts"
    unused, used = (extracts_dir / ("a" * 64), extracts_dir / ("b" * 64))
    for entry_dir, last_used in ((unused, NOW - dt.timedelta(days=31)), (used, NOW - dt.timedelta(days=1))):
        entry_dir.mkdir(parents=True)
        os.utime(entry_dir, (last_used.timestamp(), last_used.timestamp()))
    settings = load_settings(retention={"days": 30})
    entry = purge_workspace(workspace, runs_dir, extracts_dir, settings, now=NOW)
    assert entry["runs"] == [old] and entry["staging"] == [killed.name]
    assert entry["extracts"] == [unused.name] and not unused.exists() and used.is_dir()
    assert "1 cached extract(s) not used since" in format_purge(entry)
    assert entry["case_store"] == {"cases": 0}  # the workspace's store has no closed case
    assert [record.run_id for record in completed_runs(runs_dir)] == [recent] and not killed.exists()
    again = purge_workspace(workspace, runs_dir, extracts_dir, settings, now=NOW)
    log = [json.loads(line) for line in (workspace / PURGE_LOG).read_text().splitlines()]
    assert log == [json.loads(json.dumps(entry)), json.loads(json.dumps(again))]
    assert again["runs"] == [] and log[0]["cutoff"] == "2026-05-02T12:00:00+00:00"


def test_scheduled_runs_read_the_newest_extract(tmp_path: Path):
    landing = tmp_path / "landing"
    for name in ("2026-04-01", "2026-05-01", ".2026-06-01-copying"):
        (landing / name).mkdir(parents=True)
    (landing / "README.txt").write_text("not an extract")
    assert newest_extract(landing) == landing / "2026-05-01"
    with pytest.raises(ScheduleError, match="sources.landing_dir is not set"):
        newest_extract(None)
    with pytest.raises(ScheduleError, match="no extract in"):
        newest_extract(landing / "2026-04-01")


def test_an_extract_scored_by_the_same_version_is_found_in_the_history(tmp_path: Path):
    runs_dir = tmp_path / "runs"
    run_id = _publish(runs_dir, NOW, data_fingerprint="abc")
    assert run_scoring(runs_dir, "abc", "3").run_id == run_id
    assert run_scoring(runs_dir, "abc", "4") is None
    assert run_scoring(runs_dir, "def", "3") is None


@pytest.mark.parametrize(("capacity", "expected"), [(None, None), (250, 250), (0.05, 0.05)])
def test_scheduled_capacity_is_a_count_or_a_share(capacity, expected):
    settings = load_settings(schedules={"score": {"cron": "0 2 1 * *", "capacity": capacity}})
    assert scheduled_capacity(settings) == expected
    assert type(scheduled_capacity(settings)) is type(expected)


def test_a_bad_cron_expression_is_one_line_naming_the_key(tmp_path: Path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("schedules:\n  purge:\n    cron: every night\n")
    assert main(["purge", "--workspace", str(tmp_path / "w"), "--config", str(config)]) == 2
    assert "schedules.purge.cron" in capsys.readouterr().err


def test_serve_without_a_server_is_one_line(tmp_path: Path, capsys):
    config = tmp_path / "unreachable.yaml"
    config.write_text("orchestration:\n  prefect_api_url: http://127.0.0.1:9/api\n")
    assert main(["serve", "--workspace", str(tmp_path / "w"), "--config", str(config)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "no Prefect server answers at http://127.0.0.1:9/api" in error[0]


def test_a_run_is_described_with_its_drift_alert():
    summary = _summary("20260601T120000Z-00c0ffee", run_dir="/w/runs/20260601T120000Z-00c0ffee",
                       drift={"alert": True, "drifted": ["housing_cost_ratio", "score"], "threshold": 0.25})
    assert describe_run(summary) == (
        "run 20260601T120000Z-00c0ffee kept in /w/runs/20260601T120000Z-00c0ffee; drift alert: "
        "housing_cost_ratio, score (population stability index above 0.25)")
    summary["drift"] = {"alert": False, "drifted": [], "threshold": 0.25}
    assert describe_run(summary).endswith("; no drift alert")
