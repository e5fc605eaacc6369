from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from configs.settings import load_settings
from features.definitions import FEATURES, feature_names
from features.fingerprints import (
    data_fingerprint,
    feature_definitions,
    feature_set_hash,
    fingerprint_inputs,
)
from models.components import COMPONENTS
from models.evaluate import TRUTH, evaluate_scores
from models.model_input import FeaturePipeline, FeatureTableError
from models.outcomes import OutcomeWeightedDetector
from models.registry import (
    CHALLENGER,
    SCORE_COLUMN,
    ModelNotFoundError,
    flatten_settings,
    load_model,
    log_training_run,
    resolve_version,
)
from models.storage import MANIFEST_FILE, load_detector, save_detector
from models.training import fit_detector
from tests.conftest import SMALL_DETECTOR, activated_workspace

AS_OF = dt.date(2024, 6, 30)


def feature_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = feature_names()
    table = pd.DataFrame(rng.lognormal(size=(n, len(columns))), columns=columns)
    table.insert(0, "subject_ref", [f"BC{i:06d}" for i in range(n)])
    table.insert(1, "subject_type", "benefit_claim")
    table["postcode"] = "AB1 2CD"  # a context column: not a model input
    return table


@pytest.fixture(scope="module")
def settings():
    return load_settings(seed=11, detector=SMALL_DETECTOR)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    (directory / "benefit_claims.csv").write_text("claim_id\nBC000001\nBC000002\n")
    (directory / "tax_records.csv").write_text("record_id\nT1\n")
    (directory / "notes.csv").write_text("not an input\n")
    return directory


@pytest.fixture(scope="module")
def trained(tmp_path_factory, settings, data_dir):
    """Two versions of the same model registered in one workspace."""
    table = feature_table()
    fingerprints = fingerprint_inputs(data_dir, {"benefit_claims": 2, "tax_records": 1})
    with activated_workspace(tmp_path_factory.mktemp("registry") / "workspace", settings) as workspace:
        model = fit_detector(table, FEATURES, settings)
        scores = model.score(table)
        labels = pd.DataFrame({"subject_ref": table["subject_ref"], "fraud": np.arange(len(table)) % 10 == 0,
                               "typology": np.where(np.arange(len(table)) % 10 == 0, "living_together", "")})
        evaluation = evaluate_scores(table.assign(score=scores[SCORE_COLUMN]), labels, 0.05, TRUTH)
        first = log_training_run(model=model, feature_table=table, feature_specs=FEATURES, settings=settings,
                                 as_of=AS_OF, fingerprints=fingerprints, evaluations=[evaluation],
                                 artifact_location=workspace.artifact_location)
        second = log_training_run(model=fit_detector(table, FEATURES, settings), feature_table=table,
                                  feature_specs=FEATURES, settings=settings, as_of=AS_OF,
                                  fingerprints=fingerprints, artifact_location=workspace.artifact_location)
        yield {"workspace": workspace, "table": table, "model": model, "scores": scores,
               "first": first, "second": second, "fingerprints": fingerprints}


def test_the_same_table_settings_and_seed_give_bit_identical_scores(settings):
    table = feature_table()
    first = fit_detector(table, FEATURES, settings).score(table)[SCORE_COLUMN].to_numpy()
    second = fit_detector(table, FEATURES, settings).score(table)[SCORE_COLUMN].to_numpy()
    assert np.array_equal(first, second)


def test_every_new_version_is_challenger_and_none_champion(trained, settings):
    assert (trained["first"].version, trained["first"].alias) == ("1", CHALLENGER)
    assert (trained["second"].version, trained["second"].alias) == ("2", CHALLENGER)
    name = settings.registry.model_name
    with pytest.raises(ModelNotFoundError, match="no champion yet.*counterfraud approve"):
        resolve_version(None, model_name=name)
    assert resolve_version(CHALLENGER, model_name=name) == "2"
    assert resolve_version(2, model_name=name) == "2"


def test_the_model_loaded_from_the_registry_scores_like_the_fitted_one(trained, settings):
    loaded = load_model(1, model_name=settings.registry.model_name)
    assert loaded.version == "1"
    assert loaded.feature_names == feature_names()
    scores = loaded.score(trained["table"])
    assert np.array_equal(scores[SCORE_COLUMN].to_numpy(), trained["scores"][SCORE_COLUMN].to_numpy())
    # the second training of the same table, settings and seed scores identically too
    again = load_model(CHALLENGER, model_name=settings.registry.model_name).score(trained["table"])
    assert np.array_equal(again[SCORE_COLUMN].to_numpy(), scores[SCORE_COLUMN].to_numpy())
    # the detector itself comes back, for explanations, with the matrix the pyfunc builds
    matrix = loaded.python_model.pipeline.matrix(trained["table"])
    assert np.array_equal(loaded.detector.decision_function(matrix), scores[SCORE_COLUMN].to_numpy())


def test_the_pyfunc_checks_its_signature_and_ignores_row_order(trained, settings):
    loaded = load_model(1, model_name=settings.registry.model_name)
    table = trained["table"]
    reversed_rows = table.iloc[::-1]
    scores = loaded.score(reversed_rows)
    assert scores.index.equals(reversed_rows.index)
    # another row order puts rows in other BLAS blocks: equal to the last bit or two, not bit for bit
    np.testing.assert_allclose(scores[SCORE_COLUMN].to_numpy(),
                               trained["scores"][SCORE_COLUMN].to_numpy()[::-1], rtol=0, atol=1e-12)
    assert loaded.pyfunc.metadata.get_input_schema().input_names() == list(feature_names())
    with pytest.raises(FeatureTableError, match=feature_names()[0]):
        loaded.score(table.drop(columns=feature_names()[0]))


def test_versions_carry_the_tags_the_oversight_panel_needs(trained, settings, data_dir):
    version = MlflowClient().get_model_version(settings.registry.model_name, "1")
    tags = version.tags
    assert tags["data_fingerprint"] == data_fingerprint(trained["fingerprints"])
    assert tags["feature_set"] == feature_set_hash(feature_definitions(FEATURES))
    assert tags["as_of"] == "2024-06-30"
    assert tags["code_version"]


def test_the_run_logs_config_parameters_data_features_and_metrics(trained, settings):
    client = MlflowClient()
    run = client.get_run(trained["first"].run_id)
    assert run.data.params["detector.isolation_forest.n_estimators"] == "25"
    assert run.data.params["seed"] == "11"
    assert run.data.metrics["truth.n_labelled"] == 300
    assert 0 <= run.data.metrics["truth.recall_at_capacity.living_together"] <= 1
    assert "labels cover every subject" in run.data.tags["evaluation.truth"]
    artifacts = trained["workspace"].artifacts_dir
    run_dir = next(artifacts.glob(f"*/{trained['first'].run_id}/artifacts"), None) or next(
        artifacts.glob(f"{trained['first'].run_id}/artifacts"))
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["detector"]["autoencoder"]["epochs"] == 3
    features = pd.read_csv(run_dir / "features.csv", keep_default_na=False)
    assert tuple(features["name"]) == feature_names()
    assert {"label", "meaning", "unit", "suspicious", "reason"} <= set(features.columns)
    assert features.loc[features["name"] == "capital_gap", "label"].item() == "Undeclared capital past tolerance (£)"
    fingerprints = pd.read_csv(run_dir / "data_fingerprint.csv")
    assert fingerprints["table"].tolist() == ["benefit_claims", "tax_records"]
    assert (run_dir / "evaluation" / "truth_recall_by_typology.csv").is_file()


def test_nothing_is_written_outside_the_workspace(trained, tmp_path_factory):
    assert trained["workspace"].artifacts_dir.is_dir()
    assert str(trained["workspace"].root) in MlflowClient().get_run(trained["first"].run_id).info.artifact_uri


def test_unknown_models_and_versions_are_clear_errors(trained, settings):
    with pytest.raises(ModelNotFoundError, match="no registered model 'other'"):
        resolve_version(None, model_name="other")
    with pytest.raises(ModelNotFoundError, match="no version or alias '9'"):
        resolve_version(9, model_name=settings.registry.model_name)
    with pytest.raises(ModelNotFoundError, match="no version or alias 'retired'"):
        load_model("retired", model_name=settings.registry.model_name)


def test_fingerprints_are_the_sha256_of_the_input_files(data_dir):
    fingerprints = fingerprint_inputs(data_dir, {"benefit_claims": 2, "tax_records": 1})
    assert fingerprints["file"].tolist() == ["benefit_claims.csv", "tax_records.csv"]
    expected = hashlib.sha256((data_dir / "benefit_claims.csv").read_bytes()).hexdigest()
    assert fingerprints.loc[0, "sha256"] == expected
    assert fingerprints["rows"].tolist() == [2, 1]
    changed = fingerprints.assign(sha256=fingerprints["sha256"].where(fingerprints["table"] != "tax_records", "0"))
    assert data_fingerprint(changed) != data_fingerprint(fingerprints)
    assert data_fingerprint(fingerprints.iloc[::-1]) == data_fingerprint(fingerprints)


def test_feature_pipeline_refuses_missing_or_bad_columns():
    pipeline = FeaturePipeline(("a", "b"))
    with pytest.raises(FeatureTableError, match=r"missing model column\(s\) \['b'\]"):
        pipeline.matrix(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(FeatureTableError, match="feature column b .*missing values"):
        pipeline.matrix(pd.DataFrame({"a": [1.0], "b": [np.nan]}))
    with pytest.raises(FeatureTableError, match="feature column a .*dtype"):
        pipeline.matrix(pd.DataFrame({"a": ["x"], "b": [1.0]}))


def test_flattened_settings_name_every_leaf():
    flat = flatten_settings(load_settings())
    assert flat["detector.autoencoder.hidden_neurons"] == "[32, 16, 32]"
    assert flat["registry.tracking_uri"] == "None"
    assert all(isinstance(value, str) for value in flat.values())


def test_passwords_never_reach_mlflow_params_or_the_config_artifact(tmp_path, settings, data_dir):
    secret = "s3cret-Pa55"
    with_password = settings.model_copy(update={"registry": settings.registry.model_copy(
        update={"tracking_uri": f"postgresql+psycopg://fraud:{secret}@db.internal/mlflow"})})
    table = feature_table(n=120)
    fingerprints = fingerprint_inputs(data_dir, {"benefit_claims": 2, "tax_records": 1})
    # the store is the workspace's SQLite: the URI in the settings is only what would be recorded
    with activated_workspace(tmp_path / "workspace", settings) as workspace:
        logged = log_training_run(model=fit_detector(table, FEATURES, settings), feature_table=table,
                                  feature_specs=FEATURES, settings=with_password, as_of=AS_OF,
                                  fingerprints=fingerprints, artifact_location=workspace.artifact_location)
        run = MlflowClient().get_run(logged.run_id)
        assert run.data.params["registry.tracking_uri"] == "postgresql+psycopg://fraud:***@db.internal/mlflow"
        recorded = [path.read_bytes() for path in workspace.artifacts_dir.rglob("*") if path.is_file()]
        assert recorded and not any(secret.encode() in content for content in recorded)
        assert all(secret not in value for value in {**run.data.params, **run.data.tags}.values())


def test_registering_a_run_again_returns_its_version(trained, settings):
    from models.registry import LoggedRun, register_logged_model

    first = trained["first"]
    again = register_logged_model(LoggedRun(run_id=first.run_id, model_uri=first.model_uri, tags=first.tags),
                                  model_name=settings.registry.model_name)
    # version 2 is challenger now: registering version 1's run again names it with no alias
    assert (again.version, again.alias) == ("1", "")
    assert resolve_version(CHALLENGER, model_name=settings.registry.model_name) == "2"
    versions = MlflowClient().search_model_versions(f"name = '{settings.registry.model_name}'")
    assert sorted(str(version.version) for version in versions) == ["1", "2"]


def test_every_model_file_is_hashed_at_registration(trained, settings):
    from models.registry import ARTIFACT_MANIFEST_TAG

    tags = MlflowClient().get_model_version(settings.registry.model_name, "1").tags
    manifest = json.loads(tags[ARTIFACT_MANIFEST_TAG])
    detector_files = {f"artifacts/detector/{name}" for name in
                      ("detector.json", "arrays.npz", "isolation_forest/params.json", "isolation_forest/forest.skops",
                       "autoencoder/params.json", "autoencoder/network.json", "autoencoder/autoencoder.pt",
                       "tail/params.json", "tail/tails.npz")}
    assert {"MLmodel", "pyfunc_model.py", "requirements.txt"} | detector_files <= set(manifest)
    assert not any(path.startswith("code/") for path in manifest)  # no copy of the project's code
    assert not any(path.endswith((".pkl", ".pickle")) for path in manifest)  # nothing pickled
    requirements = next(trained["workspace"].artifacts_dir.rglob("requirements.txt")).read_text()
    assert {"shap", "scipy", "pyarrow", "torch", "pyod"} <= {line.split("==")[0] for line in requirements.split()}


@pytest.mark.parametrize("change", ["edit", "add"])
def test_a_tampered_model_is_refused(trained, settings, change):
    from models.registry import ModelIntegrityError

    model_arrays = sorted(trained["workspace"].artifacts_dir.rglob("arrays.npz"))
    assert len(model_arrays) == 2  # one per version
    saved = {path: path.read_bytes() for path in model_arrays}
    try:
        for path in model_arrays:
            if change == "edit":
                path.write_bytes(saved[path] + b"\x00")
            else:
                (path.parent / "extra.py").write_text("import os\n")
        with pytest.raises(ModelIntegrityError, match="version 1 is not the one registered"):
            load_model(1, model_name=settings.registry.model_name)
    finally:
        for path, content in saved.items():
            path.write_bytes(content)
            (path.parent / "extra.py").unlink(missing_ok=True)
    assert load_model(1, model_name=settings.registry.model_name).version == "1"


def test_a_model_loads_in_a_fresh_process_from_the_installed_code_only(trained, settings, tmp_path):
    project = Path(__file__).resolve().parents[2]
    trained["table"].to_parquet(tmp_path / "table.parquet")
    script = f"""
import json, os, sys
import pandas as pd
before = list(sys.path)
from models.registry import load_model
loaded = load_model(1, model_name={settings.registry.model_name!r})
scores = loaded.score(pd.read_parquet({str(tmp_path / 'table.parquet')!r}))
import models
print(json.dumps({{"scores": scores["score"].tolist(), "path_unchanged": sys.path == before,
                  "models_from": os.path.dirname(models.__file__)}}))
"""
    environment = {**os.environ, "PYTHONPATH": str(project)}
    finished = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                              timeout=600, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    answer = json.loads(finished.stdout.strip().splitlines()[-1])
    assert answer["path_unchanged"]
    assert Path(answer["models_from"]) == project / "models"
    np.testing.assert_array_equal(answer["scores"], trained["scores"][SCORE_COLUMN].to_numpy())


FORMAT_1 = Path(__file__).with_name("data") / "detector_format_1"
"""Detectors saved by the release before components (one flat directory), with their scores then:
``outcome_layer`` (every component and an outcome layer) and ``no_autoencoder`` (forest and tails)."""


def test_a_saved_detector_lists_its_components_in_order_and_loads_back_exactly(settings, tmp_path):
    table = feature_table()
    model = fit_detector(table, FEATURES, settings)
    directory = save_detector(model.detector, model.pipeline, tmp_path / "detector")
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    assert manifest["components"] == list(COMPONENTS) == ["isolation_forest", "autoencoder", "tail"]
    assert all((directory / kind / "params.json").is_file() for kind in manifest["components"])
    loaded = load_detector(directory)
    assert loaded.pipeline == model.pipeline
    assert loaded.detector.get_params() == model.detector.get_params()
    matrix = model.pipeline.matrix(table)
    np.testing.assert_array_equal(loaded.detector.decision_function(matrix), model.detector.decision_scores_)
    for ours, theirs in zip(loaded.detector.explain(matrix[:50]), model.detector.explain(matrix[:50]), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_a_detector_without_a_component_saves_and_loads_without_it(settings, tmp_path):
    table = feature_table()
    tails_only = settings.model_copy(update={"detector": settings.detector.model_copy(
        update={"weights": {"tail": 1.0}})})
    model = fit_detector(table, FEATURES, tails_only)
    loaded = load_detector(save_detector(model.detector, model.pipeline, tmp_path / "detector"))
    assert list(loaded.detector.components_) == ["tail"]
    assert sorted(path.name for path in (tmp_path / "detector").iterdir()) == ["arrays.npz", "detector.json", "tail"]
    np.testing.assert_array_equal(loaded.detector.decision_function(model.pipeline.matrix(table)),
                                  model.detector.decision_scores_)


@pytest.mark.parametrize("name", ["outcome_layer", "no_autoencoder"])
def test_a_detector_saved_before_components_still_loads_with_the_same_scores(name):
    expected = np.load(FORMAT_1 / "expected.npz")
    loaded = load_detector(FORMAT_1 / name)
    assert loaded.pipeline == FeaturePipeline(("a", "b", "c"))
    assert isinstance(loaded.detector, OutcomeWeightedDetector) == (name == "outcome_layer")
    X = expected["X"]
    np.testing.assert_array_equal(loaded.detector.decision_function(X), expected[f"{name}_scores"])
    contributions, base_value = loaded.detector.explain(X)
    np.testing.assert_array_equal(contributions, expected[f"{name}_contributions"])
    assert base_value == expected[f"{name}_base"]


def test_a_detector_saved_before_components_saves_again_in_the_new_format(tmp_path):
    expected = np.load(FORMAT_1 / "expected.npz")
    old = load_detector(FORMAT_1 / "outcome_layer")
    resaved = load_detector(save_detector(old.detector, old.pipeline, tmp_path / "detector"))
    assert json.loads((tmp_path / "detector" / MANIFEST_FILE).read_text())["format"] == 2
    np.testing.assert_array_equal(resaved.detector.decision_function(expected["X"]), expected["outcome_layer_scores"])
