from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from configs.settings import Settings, load_settings
from features.definitions import feature_names
from models.evaluate import flag_count

PEOPLE = 600
SEED = 11
OUTPUT_FILES = ("cases.csv", "cases.parquet", "explanations.parquet", "links.parquet", "rejects.csv",
                "run_summary.json")


@pytest.fixture(scope="module")
def settings(world: dict[str, Path]) -> Settings:
    """The ranking as it is: passing over the recently cleared is tested in test_score_recently_cleared.py."""
    return load_settings(world["config"], cases={"recently_cleared_days": None})


@pytest.fixture(scope="module")
def runs(world: dict[str, Path], settings: Settings, trained: Any) -> dict[str, dict[str, Any]]:
    """Three scoring runs: twice the same, once with an explicit capacity and version."""
    from pipelines.score import score_flow
    from pipelines.workspace import Workspace
    from tests.pipelines.test_prepare import secret_settings

    # the last run's settings carry passwords (used only by the workspace, whose store is set already)
    careless = secret_settings(detector=settings.detector.model_dump())
    return {
        "first": score_flow(world["data"], world["root"] / "run1", trained, settings),
        "again": score_flow(world["data"], world["root"] / "run2", trained, settings),
        "explicit": score_flow(world["data"], world["root"] / "run3", Workspace(trained.root, careless),
                               careless, capacity=7, model_version="1"),
    }


def _out(runs: dict[str, dict[str, Any]], name: str) -> Path:
    return Path(runs[name]["outputs"]["summary"]).parent


@pytest.mark.slow
def test_every_live_subject_is_ranked_once(runs, settings, world):
    from pipelines.prepare import prepare_features

    cases = pd.read_parquet(_out(runs, "first") / "cases.parquet")
    _, _, features_table, _ = prepare_features(world["data"], settings)
    assert sorted(cases["subject_ref"]) == sorted(features_table["subject_ref"])
    assert cases["subject_ref"].is_unique
    assert cases["rank"].tolist() == list(range(1, len(cases) + 1))
    assert cases["score"].is_monotonic_decreasing
    assert set(cases["subject_type"]) <= {"benefit_claim", "housing_claim"}
    n_flagged = flag_count(len(cases), settings.capacity.share)
    assert cases["flagged"].tolist() == [True] * n_flagged + [False] * (len(cases) - n_flagged)
    assert (cases["model_version"] == "1").all()
    for column in ("subject_ref", "subject_type", "score", "rank", "flagged", "control", "work_list",
                   "model_version", "reasons", "related"):
        assert column in cases.columns


@pytest.mark.slow
def test_flagged_subjects_are_explained_and_add_up(runs):
    out = _out(runs, "first")
    cases = pd.read_parquet(out / "cases.parquet")
    explanations = pd.read_parquet(out / "explanations.parquet")
    flagged = cases[cases["flagged"]].set_index("subject_ref")
    assert list(explanations.columns) == ["subject_ref", "feature", "value", "contribution", "base_value"]
    assert set(explanations["subject_ref"]) == set(flagged.index)
    per_subject = explanations.groupby("subject_ref")
    # one row per model feature of the feature table, for every flagged subject
    assert (per_subject["feature"].agg(tuple) == feature_names()).all()
    totals = per_subject["contribution"].sum() + per_subject["base_value"].first()
    np.testing.assert_allclose(totals.reindex(flagged.index), flagged["score"], atol=1e-6, rtol=0)
    assert (flagged["reasons"].str.len() > 0).all()
    assert (cases.loc[~cases["flagged"], "reasons"] == "").all()
    assert (cases.loc[~cases["work_list"], "related"] == "").all()


@pytest.mark.slow
def test_the_work_list_is_the_flagged_subjects_and_a_random_control_sample(runs, settings):
    out = _out(runs, "first")
    cases = pd.read_parquet(out / "cases.parquet")
    control = cases[cases["control"]]
    expected = math.ceil(settings.control_sample.share_of_capacity * int(cases["flagged"].sum()))
    assert len(control) == expected > 0
    assert not control["flagged"].any()
    assert (control["reasons"] == "").all()  # never invented reasons
    assert (cases["work_list"] == (cases["flagged"] | cases["control"])).all()
    assert runs["first"]["control_sample"] == {"size": expected, "seed": settings.seed,
                                               "share_of_capacity": settings.control_sample.share_of_capacity}
    csv = pd.read_csv(out / "cases.csv", dtype=str, keep_default_na=False)
    assert set(csv["control"]) == {"true", "false"} and set(csv["work_list"]) == {"true", "false"}


@pytest.mark.slow
def test_control_cases_list_their_related_subjects_as_flagged_ones_do(runs, settings, world):
    from models.cases import related_subjects
    from pipelines.prepare import prepare_features

    cases = pd.read_parquet(_out(runs, "first") / "cases.parquet").set_index("subject_ref")
    features = prepare_features(world["data"], settings)[2]
    control = cases.index[cases["control"]]
    expected = related_subjects(features, list(control))
    assert (expected != "").any(), "the world must give some control case a related subject"
    assert cases.loc[control, "related"].tolist() == expected.tolist()


@pytest.mark.slow
def test_all_outputs_are_written(runs):
    out = _out(runs, "first")
    for name in OUTPUT_FILES:
        assert (out / name).is_file(), name
    csv = pd.read_csv(out / "cases.csv", dtype={"subject_ref": str, "model_version": str, "flagged": str},
                      keep_default_na=False)
    parquet = pd.read_parquet(out / "cases.parquet")
    assert csv["subject_ref"].tolist() == parquet["subject_ref"].tolist()
    assert set(csv["flagged"]) == {"true", "false"}
    links = pd.read_parquet(out / "links.parquet")
    assert {"table", "record_ref", "person_key"} <= set(links.columns)
    assert set(links["table"]) == {"benefit_claims", "housing_claims", "electoral_register"}
    rejects = pd.read_csv(out / "rejects.csv")
    assert {"table", "row", "column", "rule"} <= set(rejects.columns)

    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    assert summary == json.loads(json.dumps(runs["first"]))
    assert summary["flagged"] == int(parquet["flagged"].sum())
    assert summary["subjects"]["scored"] == len(parquet)
    assert summary["rows_out"]["cases"] == len(parquet)
    assert summary["rows_out"]["links"] == len(links)
    assert summary["rejects_total"] == len(rejects)
    assert summary["model"] == {"name": "counterfraud-detector", "version": "1", "reference": "champion"}
    assert set(summary["timings_seconds"]) >= {"validate", "link", "features", "load model", "score", "explain", "write",
                                               "total"}
    assert summary["tables"]["benefit_claims"]["rows_in"] > 0
    quality = summary["tables"]["benefit_claims"]
    assert quality["validity"] == quality["rows_valid"] / quality["rows_in"]
    assert set(quality["completeness"]) >= {"claim_id", "nino"} and quality["key_uniqueness"] == 1.0


@pytest.mark.slow
def test_scoring_twice_gives_identical_outputs(runs):
    first, again = _out(runs, "first"), _out(runs, "again")
    for name in ("cases.parquet", "explanations.parquet", "links.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(first / name), pd.read_parquet(again / name))
    for name in ("cases.csv", "rejects.csv"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name

    def stable(summary: dict[str, Any]) -> dict[str, Any]:
        # each run has its own id and directory; the second run's drift also compares with the first
        return {key: value for key, value in summary.items()
                if key not in ("timings_seconds", "peak_memory_mb", "outputs", "run_id", "run_dir", "drift")}

    assert stable(runs["first"]) == stable(runs["again"])


@pytest.mark.slow
def test_capacity_and_version_can_be_given(runs):
    cases = pd.read_parquet(_out(runs, "explicit") / "cases.parquet")
    assert int(cases["flagged"].sum()) == 7
    assert runs["explicit"]["model"]["reference"] == "1"
    first = pd.read_parquet(_out(runs, "first") / "cases.parquet")
    # the same model ranks alike whatever the capacity
    assert cases["subject_ref"].tolist() == first["subject_ref"].tolist()


def _latest_artifact(key: str) -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    # the API directly: this client version sends null filters, which its server refuses
    with get_client(sync_client=True) as client:
        found = client.request("POST", "/artifacts/latest/filter", json={
            "artifacts": {"key": {"any_": [key]}}, "sort": "UPDATED_DESC", "limit": 1, "offset": 0,
        }).json()
    assert found, key
    return found[0]


def _prefect_records(flow_name: str) -> str:
    """The parameters, logs and artefacts of every run of ``flow_name`` that Prefect's API holds."""
    from prefect.client.orchestration import get_client

    from tests.pipelines.test_prepare import flow_run_records

    # the API directly: this client version sends null limits, which its server refuses
    with get_client(sync_client=True) as client:
        flow_runs = client.request("POST", "/flow_runs/filter", json={
            "flows": {"name": {"any_": [flow_name]}}, "limit": 50, "offset": 0, "sort": "ID_DESC",
        }).json()
        artifacts = client.request("POST", "/artifacts/filter", json={
            "artifacts": {"flow_run_id": {"any_": [run["id"] for run in flow_runs]}}, "limit": 200,
            "offset": 0, "sort": "ID_DESC",
        }).json()
    assert flow_runs and artifacts
    return "\n".join([*(flow_run_records(run["id"]) for run in flow_runs),
                      *(json.dumps(artifact) for artifact in artifacts)])


@pytest.mark.slow
def test_prefect_holds_counts_and_paths_only(runs):
    # the latest run is the one with a capacity of 7
    summary = _latest_artifact("score-run-summary")
    assert "flagged: 7 (capacity 7 subjects)" in summary["data"]
    assert str(_out(runs, "explicit") / "cases.csv") in summary["data"]
    records = _prefect_records("score")
    cases = pd.read_parquet(_out(runs, "explicit") / "cases.parquet")
    flagged = cases[cases["flagged"]]
    assert not any(ref in records for ref in flagged["subject_ref"])
    assert not any(reasons[:40] in records for reasons in flagged["reasons"])
    # settings are recorded as flow-run parameters, their passwords masked
    assert "fraud:***@db.internal" in records and "s3cret" not in records


@pytest.mark.slow
def test_rejects_are_written_before_the_limit_stops_scoring(world, settings, trained):
    from features.contract import TooManyRejectsError
    from pipelines.score import score_flow
    from tests.features.contract_fixtures import clean_rows, write_contract_dir

    rows = clean_rows("housing_claims")
    rows[1]["la_code"] = "nowhere"
    data = write_contract_dir(world["root"] / "too_many_rejects", housing_claims=rows)
    out = world["root"] / "run_stopped"
    with pytest.raises(TooManyRejectsError, match="housing_claims"):
        score_flow(data, out, trained, settings)
    rejects = pd.read_csv(out / "rejects.csv")
    assert rejects[["table", "row", "column", "rule"]].values.tolist() == [
        ["housing_claims", 2, "la_code", "pattern:la_code"]]
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["tables"]["housing_claims"]["rows_refused"] == 1


@pytest.mark.slow
def test_an_unknown_version_is_a_clear_error(world, settings, trained):
    from models.registry import ModelNotFoundError
    from pipelines.score import score_flow

    with pytest.raises(ModelNotFoundError, match="no version or alias '99'"):
        score_flow(world["data"], world["root"] / "run_missing", trained, settings, model_version="99")


def test_format_summary_lists_counts_rejects_flagged_timings_and_files():
    from pipelines.score import format_summary

    summary = {
        "as_of": "2025-06-30",
        "model": {"name": "counterfraud-detector", "version": "3", "reference": "champion"},
        "tables": {"benefit_claims": {"rows_in": 1200, "rows_valid": 1195, "rows_refused": 5}},
        "rejects": {"benefit_claims": {"not_a_date": 5}},
        "rejects_total": 5,
        "extract": "extract: read from the cache of validated extracts (the same files were validated before)",
        "subjects": {"scored": 1000, "benefit_claim": 700, "housing_claim": 300},
        "capacity": 0.02,
        "flagged": 20,
        "recently_cleared": {"window_days": 365, "rule": "the rule in words", "subjects": 4, "within_capacity": 2},
        "control_sample": {"size": 1, "seed": 0, "share_of_capacity": 0.05},
        "timings_seconds": {"prepare": 1.25, "score": 0.5, "total": 1.75},
        "peak_memory_mb": 812.4,
        "outputs": {"cases_csv": "/runs/1/cases.csv"},
    }
    text = format_summary(summary)
    assert "model counterfraud-detector version 3 (champion)" in text
    assert "benefit_claims" in text and "1,200" in text and "1,195" in text
    assert "not_a_date" in text
    assert "extract: read from the cache of validated extracts" in text
    assert "subjects scored: 1,000 (benefit_claim 700, housing_claim 300)" in text
    assert "flagged: 20 (capacity 2% of subjects)" in text
    assert ("recently cleared: 2 subjects within capacity passed over and the next 2 flagged in their places "
            "(4 scored subjects cleared in all; rule: the rule in words)") in text
    assert "control sample: 1 drawn at random from the unflagged subjects (seed 0)" in text
    assert "prepare" in text and "1.75" not in text  # seconds to one decimal
    assert "/runs/1/cases.csv" in text


@pytest.mark.slow
def test_a_failed_import_is_recorded_shown_and_retried_by_the_next_run(world, settings, trained):
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from casework.store import Run, open_store, store_url
    from pipelines.runs import (
        IMPORT_KEY,
        IMPORT_PENDING,
        ImportFailedError,
        completed_runs,
        format_runs,
        record_import,
    )
    from pipelines.score import score_flow
    from pipelines.workspace import Workspace

    # a store no one answers at: the run completes, its import fails and says so in one line
    unreachable = settings.model_copy(update={"case_store": settings.case_store.model_copy(
        update={"url": "postgresql+psycopg://nobody@127.0.0.1:1/none"})})
    with pytest.raises(ImportFailedError, match="is complete, but its work list could not be imported") as raised:
        score_flow(world["data"], world["root"] / "run_unimported", Workspace(trained.root, unreachable), unreachable)
    assert "OperationalError" in str(raised.value) and "BC0" not in str(raised.value)  # no case contents
    failed = completed_runs(trained.runs_dir)[-1]
    assert failed.summary[IMPORT_KEY] == {"status": "failed", "error": "OperationalError"}
    copied = json.loads((world["root"] / "run_unimported" / "run_summary.json").read_text())
    assert copied[IMPORT_KEY]["status"] == "failed"
    assert "import failed" in format_runs(completed_runs(trained.runs_dir))

    # the next run on the working store imports the failed one first, then its own
    score_flow(world["data"], world["root"] / "run_after", trained, settings)
    retried = next(record for record in completed_runs(trained.runs_dir) if record.run_id == failed.run_id)
    assert retried.summary[IMPORT_KEY] == {"status": "imported"}
    with Session(open_store(store_url(settings.case_store.url, trained.root))) as session:
        assert failed.run_id in set(session.scalars(select(Run.run_id)))

    # a kill after the run was published and before its import leaves it pending: the next run imports it
    killed = completed_runs(trained.runs_dir)[-1]
    assert killed.summary[IMPORT_KEY] == {"status": "imported"}
    record_import(killed.path, IMPORT_PENDING)
    assert "not imported yet" in format_runs(completed_runs(trained.runs_dir))
    fresh = settings.model_copy(update={"case_store": settings.case_store.model_copy(
        update={"url": f"sqlite:///{world['root'] / 'fresh_store.db'}"})})
    score_flow(world["data"], world["root"] / "run_after_kill", Workspace(trained.root, fresh), fresh)
    assert next(record for record in completed_runs(trained.runs_dir)
                if record.run_id == killed.run_id).summary[IMPORT_KEY] == {"status": "imported"}
    with Session(open_store(store_url(fresh.case_store.url, trained.root))) as session:
        assert killed.run_id in set(session.scalars(select(Run.run_id)))
