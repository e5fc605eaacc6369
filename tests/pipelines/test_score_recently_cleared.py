"""Scoring passes over the subjects a recent investigation cleared: a real scoring flow on a generated world."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from configs.settings import Settings, load_settings
from models.evaluate import flag_count

PEOPLE = 600
SEED = 23
WINDOW_OFF = {"recently_cleared_days": None}
CLOSINGS = (  # (position in the ranking without the rule, outcome, days before the as-of date)
    (0, "no_issue", 30),
    (1, "error", 200),
    (2, "fraud", 30),      # a fraud finding never clears
    (3, "no_issue", 365),  # the window's first day
    (4, "no_issue", 366),  # the day before it
)
CLEARED_POSITIONS = (0, 1, 3)


def _cases(summary: dict[str, Any]) -> pd.DataFrame:
    return pd.read_parquet(summary["outputs"]["cases_parquet"])


@pytest.fixture(scope="module")
def runs(world: dict[str, Path], settings: Settings, trained: Any) -> dict[str, Any]:
    """A run without the rule, then the same extract with outcomes closing its top subjects, with and without."""
    from pipelines.score import score_flow

    off = load_settings(world["config"], cases=WINDOW_OFF)
    before = score_flow(world["data"], world["root"] / "before", trained, off)
    top = _cases(before)["subject_ref"].tolist()
    as_of = dt.date.fromisoformat(before["as_of"])
    data = world["root"] / "reviewed_data"
    shutil.copytree(world["data"], data, ignore=shutil.ignore_patterns("investigation_outcomes.*"))
    pd.DataFrame([{"subject_ref": top[position], "outcome": outcome,
                   "closed_on": (as_of - dt.timedelta(days=days)).isoformat(),
                   "typology": "undeclared_earnings" if outcome == "fraud" else "", "control": "false"}
                  for position, outcome, days in CLOSINGS]).to_csv(data / "investigation_outcomes.csv", index=False)
    return {
        "before": before,
        "on": score_flow(data, world["root"] / "on", trained, settings),
        "off": score_flow(data, world["root"] / "off", trained, off),
        "cleared": [top[position] for position in CLEARED_POSITIONS],
    }


@pytest.mark.slow
def test_recently_cleared_subjects_are_left_off_and_the_list_stays_full(runs, settings):
    before, on = _cases(runs["before"]), _cases(runs["on"])
    capacity = flag_count(len(on), settings.capacity.share)
    assert capacity > len(CLOSINGS)  # every closed subject ranked within capacity
    # the ranking itself is the same: only who is flagged changes
    pd.testing.assert_frame_equal(on[["subject_ref", "score", "rank"]], before[["subject_ref", "score", "rank"]])
    assert on.loc[on["recently_cleared"], "subject_ref"].tolist() == runs["cleared"]
    assert not on.loc[on["recently_cleared"], ["flagged", "control", "work_list"]].to_numpy().any()
    assert on.loc[on["recently_cleared"], "reasons"].eq("").all()
    expected = before.loc[~before["subject_ref"].isin(runs["cleared"]), "subject_ref"].head(capacity)
    assert on.loc[on["flagged"], "subject_ref"].tolist() == expected.tolist()
    assert on["flagged"].sum() == before["flagged"].sum() == capacity
    # the fraud finding and the closing just outside the window are flagged as before
    assert on.set_index("subject_ref").loc[[before["subject_ref"][2], before["subject_ref"][4]], "flagged"].all()


@pytest.mark.slow
def test_the_run_summary_states_the_rule_and_the_count(runs):
    from pipelines.score import format_summary

    cleared = runs["on"]["recently_cleared"]
    assert cleared["window_days"] == 365
    assert cleared["subjects"] == cleared["within_capacity"] == len(CLEARED_POSITIONS)
    assert "365 days before the as-of date" in cleared["rule"]
    text = format_summary(runs["on"])
    assert "recently cleared: 3 subjects within capacity passed over and the next 3 flagged in their places" in text
    assert cleared["rule"] in text


@pytest.mark.slow
def test_with_the_window_off_the_cleared_are_flagged_again(runs):
    from pipelines.score import format_summary

    before, off = _cases(runs["before"]), _cases(runs["off"])
    assert off["flagged"].tolist() == before["flagged"].tolist()
    assert not off["recently_cleared"].any()
    assert set(runs["cleared"]) <= set(off.loc[off["flagged"], "subject_ref"])
    assert runs["off"]["recently_cleared"]["window_days"] is None
    assert "recently cleared: off" in format_summary(runs["off"])
