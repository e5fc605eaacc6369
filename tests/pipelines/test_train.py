from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from configs.settings import load_settings
from features.contract import ContractError
from features.definitions import FEATURES
from models.registry import (
    CHALLENGER,
    CHAMPION,
    SCORE_COLUMN,
    ModelNotFoundError,
    load_model,
)
from models.training import fit_detector
from pipelines.prepare import prepare_features
from pipelines.train import train_flow
from synthetic import generate_world
from tests.conftest import FAST_DETECTOR, SMALL_DETECTOR, activated_workspace, train_approved

PROJECT = Path(__file__).resolve().parents[2]
KILL_WAIT_SECONDS = 600

PEOPLE = 1500


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root / "data", people=PEOPLE, seed=3, truth_path=root / "truth.csv")
    return root


@pytest.fixture(scope="module")
def settings():
    return load_settings(seed=5, detector=SMALL_DETECTOR)


@pytest.fixture(scope="module")
def trained_twice(prefect_harness, tmp_path_factory, world, settings):
    """Two trainings on the same data, config and seed, in one workspace."""
    with activated_workspace(tmp_path_factory.mktemp("train") / "workspace", settings) as workspace:
        first = train_flow(world / "data", workspace, settings, truth_path=world / "truth.csv",
                           trained_by="Alex Trainer")
        second = train_flow(world / "data", workspace, settings)
        yield {"workspace": workspace, "first": first, "second": second}


def test_training_never_makes_a_champion_by_itself(trained_twice, settings):
    first, second = trained_twice["first"], trained_twice["second"]
    assert (first["version"], first["alias"]) == ("1", CHALLENGER)
    assert (second["version"], second["alias"]) == ("2", CHALLENGER)
    with pytest.raises(ModelNotFoundError, match="has no champion yet"):
        load_model(CHAMPION, model_name=settings.registry.model_name)
    assert first["model_name"] == settings.registry.model_name
    assert first["data_fingerprint"] == second["data_fingerprint"]


def test_a_truth_file_and_investigation_outcomes_are_both_evaluated(trained_twice):
    metrics = trained_twice["first"]["metrics"]
    assert metrics["truth.n_labelled"] == trained_twice["first"]["n_subjects"]
    assert 0 <= metrics["truth.average_precision"] <= 1
    assert any(name.startswith("truth.recall_at_capacity.") for name in metrics)
    outcomes = trained_twice["second"]["metrics"]
    assert not any(name.startswith("truth.") for name in outcomes)
    assert outcomes["investigation_outcomes.n_labelled"] < trained_twice["second"]["n_subjects"]


def test_two_trainings_and_the_registry_give_bit_identical_scores(trained_twice, world, settings):
    _, _, feature_table, _ = prepare_features(world / "data", settings)
    fitted = fit_detector(feature_table, FEATURES, settings).score(feature_table)[SCORE_COLUMN].to_numpy()
    first = load_model(1, model_name=settings.registry.model_name).score(feature_table)
    second = load_model(2, model_name=settings.registry.model_name).score(feature_table)
    assert np.array_equal(first[SCORE_COLUMN].to_numpy(), second[SCORE_COLUMN].to_numpy())
    assert np.array_equal(first[SCORE_COLUMN].to_numpy(), fitted)


def test_versions_are_tagged_for_the_oversight_panel(trained_twice, settings):
    version = MlflowClient().get_model_version(settings.registry.model_name, "1")
    assert {"data_fingerprint", "feature_set", "code_version", "as_of"} <= set(version.tags)
    assert version.tags["as_of"] == trained_twice["first"]["as_of"]
    run = MlflowClient().get_run(trained_twice["first"]["run_id"])
    assert run.data.params["seed"] == "5"
    assert run.info.artifact_uri.startswith(trained_twice["workspace"].artifact_location)


def test_the_trainer_and_the_report_are_recorded_on_the_version(trained_twice, settings):
    import getpass

    from features.contract import file_sha256

    first = MlflowClient().get_model_version(settings.registry.model_name, "1")
    second = MlflowClient().get_model_version(settings.registry.model_name, "2")
    assert first.tags["trained_by"] == "Alex Trainer" == trained_twice["first"]["trained_by"]
    assert second.tags["trained_by"] == getpass.getuser()  # the OS user when nobody says otherwise
    run = MlflowClient().get_run(trained_twice["first"]["run_id"])
    report = Path(run.info.artifact_uri.removeprefix("file://")) / "report"
    assert sorted(path.name for path in report.iterdir()) == ["atrs.json", "atrs.md", "report.html", "report.json"]
    assert first.tags["report_sha256"] == file_sha256(report / "report.html") == trained_twice["first"]["report_sha256"]


def test_the_fingerprint_names_every_input_file_with_its_rows(trained_twice, world):
    run = MlflowClient().get_run(trained_twice["first"]["run_id"])
    fingerprints = pd.read_csv(Path(run.info.artifact_uri.removeprefix("file://")) / "data_fingerprint.csv")
    assert sorted(fingerprints["file"]) == sorted(path.name for path in (world / "data").glob("*.csv"))
    claims = (world / "data" / "benefit_claims.csv").read_text().count("\n") - 1
    assert fingerprints.set_index("table").loc["benefit_claims", "rows"] == claims


def test_a_missing_table_stops_the_flow_with_a_contract_error(prefect_harness, tmp_path, settings):
    with activated_workspace(tmp_path / "workspace", settings) as workspace, pytest.raises(ContractError):
        train_flow(tmp_path / "empty", workspace, settings)


def test_rejects_are_written_and_counted_before_the_limit_stops_training(prefect_harness, tmp_path, settings):
    from features.contract import TooManyRejectsError
    from tests.features.contract_fixtures import clean_rows, write_contract_dir

    rows = clean_rows("benefit_claims")
    rows[0]["nino"] = rows[2]["nino"] = "not a nino"
    data = write_contract_dir(tmp_path / "data", benefit_claims=rows)
    with activated_workspace(tmp_path / "workspace", settings) as workspace:
        with pytest.raises(TooManyRejectsError, match="benefit_claims"):
            train_flow(data, workspace, settings)
        rejects = pd.read_csv(workspace.training_dir / "rejects.csv")
        summary = json.loads((workspace.training_dir / "run_summary.json").read_text())
    assert rejects[["table", "row", "rule"]].values.tolist() == [
        ["benefit_claims", 1, "pattern:nino"], ["benefit_claims", 3, "pattern:nino"]]
    assert summary["rejects"] == {"benefit_claims": {"pattern:nino": 2}}


def test_training_records_its_rejects(trained_twice):
    from mlflow import MlflowClient

    first = trained_twice["first"]
    assert Path(first["rejects_file"]).is_file()
    logged = MlflowClient().download_artifacts(first["run_id"], "data_quality.json")
    quality = json.loads(Path(logged).read_text())
    assert quality["tables"]["benefit_claims"]["rows_in"] > 0 and "rejects" in quality


def _registry_rows(mlflow_db: Path) -> dict[str, set]:
    """Version tags (version, key) and aliases (version) of a workspace's MLflow store, read without writing."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{mlflow_db}?mode=ro", uri=True)) as store:
            return {"versions": {str(row[0]) for row in store.execute("SELECT version FROM model_versions")},
                    "tags": {(str(version), key) for version, key in
                             store.execute("SELECT version, key FROM model_version_tags")},
                    "aliases": {str(row[0]) for row in store.execute("SELECT version FROM registered_model_aliases")}}
    except sqlite3.OperationalError:  # the store or its tables are not made yet
        return {"versions": set(), "tags": set(), "aliases": set()}


def test_a_training_killed_while_registering_leaves_no_alias_on_a_half_recorded_version(
        prefect_harness, world, tmp_path):
    """The version was named challenger as it was made, before its trainer and report were recorded."""
    from prefect.settings import PREFECT_API_URL

    from oversight.signoff import REPORT_SHA_TAG, TRAINED_BY_TAG

    workspace = tmp_path / "workspace"
    config = tmp_path / "fast.yaml"
    config.write_text(FAST_DETECTOR, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(PROJECT), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "train", "--data", str(world / "data"),
                                "--workspace", str(workspace), "--config", str(config)],
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    # killed at the first sign of the version past its creation: an alias, or its trainer recorded
    while not ((rows := _registry_rows(workspace / "mlflow.db"))["aliases"]
               or ("1", TRAINED_BY_TAG) in rows["tags"]):
        assert command.poll() is None, "training ended before it could be killed"
        assert time.monotonic() < deadline, "training never registered its version"
        time.sleep(0.002)
    command.send_signal(signal.SIGKILL)
    command.wait()

    rows = _registry_rows(workspace / "mlflow.db")
    complete = {("1", TRAINED_BY_TAG), ("1", REPORT_SHA_TAG)} <= rows["tags"]
    assert rows["versions"] == {"1"}
    assert complete or not rows["aliases"], "a version without its trainer and report took an alias"


def test_a_capped_training_fits_a_seeded_sample_and_every_subject_is_still_scored(prefect_harness, tmp_path,
                                                                                   world):
    from models.registry import TRAINING_SAMPLE_TAG
    from models.sampling import draw_training_sample
    from pipelines.score import score_flow

    capped = load_settings(seed=5, detector=SMALL_DETECTOR, training={"max_subjects": 150})
    _, _, feature_table, _ = prepare_features(world / "data", capped)
    results, case_lists, registered = [], [], []
    for attempt in ("first", "second"):  # two workspaces: the same version number, the same case list
        with activated_workspace(tmp_path / attempt / "workspace", capped) as workspace:
            results.append(train_approved(world / "data", workspace, capped))
            scored = score_flow(world / "data", tmp_path / attempt / "run", workspace, capped)
            case_lists.append((tmp_path / attempt / "run" / "cases.csv").read_bytes())
            registered.append(load_model(1, model_name=capped.registry.model_name).score(feature_table))
            version = MlflowClient().get_model_version(capped.registry.model_name, "1")
            run = MlflowClient().get_run(version.run_id)
            report_dir = Path(MlflowClient().download_artifacts(version.run_id, "report", str(tmp_path / attempt)))
    first, second = results
    assert first["n_fitted_subjects"] == second["n_fitted_subjects"] == 150 < first["n_subjects"]
    assert case_lists[0] == case_lists[1]

    # the fit saw only the sample, yet evaluation and scoring cover every subject
    cases = pd.read_csv(tmp_path / "second" / "run" / "cases.csv")
    assert scored["subjects"]["scored"] == len(feature_table) == first["n_subjects"]
    assert sorted(cases["subject_ref"]) == sorted(feature_table["subject_ref"])
    sample = draw_training_sample(feature_table, 150, seed=5)
    on_sample = fit_detector(feature_table, FEATURES, capped, sample).score(feature_table)[SCORE_COLUMN]
    on_everyone = fit_detector(feature_table, FEATURES, capped).score(feature_table)[SCORE_COLUMN]
    for scores in registered:
        assert np.array_equal(scores[SCORE_COLUMN].to_numpy(), on_sample.to_numpy())
    assert not np.array_equal(on_sample.to_numpy(), on_everyone.to_numpy())

    # drawn within each subject type in proportion, and recorded on the version and in its model card
    types = feature_table["subject_type"].value_counts()
    assert sum(sample.by_type.values()) == 150
    for kind, drawn in sample.by_type.items():
        assert abs(drawn - 150 * types[kind] / len(feature_table)) < 1
    recorded = json.loads(version.tags[TRAINING_SAMPLE_TAG])
    assert recorded == {"subjects": 150, "population": len(feature_table), "by_type": sample.by_type, "seed": 5}
    assert run.data.metrics["n_fitted_subjects"] == 150 and run.data.params["training.max_subjects"] == "150"
    assert json.loads((report_dir / "report.json").read_text())["model_card"]["details"]["fitted_on"] == recorded
    html = (report_dir / "report.html").read_text()
    assert 'a seeded sample of <span data-figure="model_card.details.fitted_on.subjects">150</span>' in html


def test_an_uncapped_training_records_that_it_fitted_every_subject(trained_twice):
    from models.registry import TRAINING_SAMPLE_TAG

    first = trained_twice["first"]
    version = MlflowClient().get_model_version(first["model_name"], first["version"])
    recorded = json.loads(version.tags[TRAINING_SAMPLE_TAG])
    assert recorded["subjects"] == recorded["population"] == first["n_subjects"] == first["n_fitted_subjects"]
    assert recorded["seed"] is None
