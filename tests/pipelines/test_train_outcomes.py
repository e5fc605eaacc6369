"""Training with reviewed cases: real flows, a real MLflow store, a generated world and its truth file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from configs.settings import Settings, load_settings
from features.definitions import FEATURES, FEATURES_BY_NAME
from models.evaluate import labels_from_truth, ranking_order
from models.outcomes import OutcomeWeightedDetector
from models.registry import OUTCOME_LAYER_TAG, SCORE_COLUMN, load_model
from oversight.signoff import download_report
from pipelines.prepare import prepare_features
from synthetic import generate_world
from synthetic.truth import read_truth
from tests.conftest import SMALL_DETECTOR, activated_workspace, train_approved
from tests.oversight.test_report import _parse, assert_figure_shows

PEOPLE = 3000
CONTROL_SHARE = 0.3
"""Share of the unflagged subjects reviewed as controls: large, so that a small world holds enough of them."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("outcomes_world")
    generate_world(root / "data", people=PEOPLE, seed=21, truth_path=root / "truth.csv")
    return {"root": root, "data": root / "data", "truth": root / "truth.csv"}


@pytest.fixture(scope="module")
def settings() -> Settings:
    # scoring passes over no one for a recent review here: the case lists differ only by the version
    return load_settings(seed=5, detector=SMALL_DETECTOR, cases={"recently_cleared_days": None},
                         training={"outcomes": {"min_reviewed": 200, "min_fraud": 20}})


def _with_outcomes(world: dict[str, Path], name: str, outcomes: pd.DataFrame) -> Path:
    """A copy of the world's data directory whose ``investigation_outcomes`` are ``outcomes``."""
    data = world["root"] / name
    shutil.copytree(world["data"], data)
    for old in data.glob("investigation_outcomes.*"):
        old.unlink()
    outcomes.to_csv(data / "investigation_outcomes.csv", index=False)
    return data


def _overlooked_sign(table: pd.DataFrame, scores: np.ndarray) -> str:
    """The feature whose sign (a value past neutral in its suspicious direction), shown by 2-8 % of the
    subjects, the detector ranks lowest: a typology it overlooks, like a tenancy sublet seen only as a
    claim elsewhere."""
    rank = np.empty(len(scores))
    rank[ranking_order(scores, table["subject_ref"].astype(str).to_numpy())] = np.arange(1, len(scores) + 1)
    medians = {}
    for spec in FEATURES:
        shown = _shows(table, spec.name)
        if 0.02 <= shown.mean() <= 0.08:
            medians[spec.name] = float(np.median(rank[shown]))
    return max(medians, key=medians.get)


def _shows(table: pd.DataFrame, name: str) -> np.ndarray:
    spec = FEATURES_BY_NAME[name]
    values = table[name].to_numpy(dtype="float64")
    return values > spec.neutral if spec.suspicious == "high" else values < spec.neutral


def _reviewed(refs: np.ndarray, labels: pd.DataFrame, chosen: np.ndarray, control: np.ndarray) -> pd.DataFrame:
    """Closed investigations of the ``chosen`` subjects, each found as ``labels`` say."""
    fraud = labels["fraud"].to_numpy()[chosen]
    return pd.DataFrame({"subject_ref": refs[chosen], "outcome": np.where(fraud, "fraud", "no_issue"),
                         "closed_on": "2026-06-30", "typology": labels["typology"].to_numpy()[chosen],
                         "control": np.where(control[chosen], "true", "false")})


@pytest.fixture(scope="module")
def trained(world: dict[str, Path], settings: Settings, prefect_harness: None) -> Iterator[dict[str, Any]]:
    """Version 1 of two workspaces: one without usable outcomes, one with too few; then version 2 of
    the second, trained with a work list and a control sample reviewed from the truth file."""
    from pipelines.score import score_flow

    _, _, table, _ = prepare_features(world["data"], settings)
    refs = table["subject_ref"].astype(str).to_numpy()
    labels = labels_from_truth(table, read_truth(world["truth"]))
    found: dict[str, Any] = {"table": table, "labels": labels}
    with activated_workspace(world["root"] / "alone", settings) as workspace:
        # the generator's past investigations carry no control value: left out, so this is the detector alone
        found["alone"] = train_approved(world["data"], workspace, settings)
        score_flow(world["data"], world["root"] / "run_alone", workspace, settings)
        scores = load_model("1", model_name=settings.registry.model_name).score(table)[SCORE_COLUMN].to_numpy()
    found["alone_scores"] = scores

    # the world where investigators find that most subjects showing an overlooked sign commit fraud
    found["sign"] = _overlooked_sign(table, scores)
    overlooked = _shows(table, found["sign"]) & (np.random.default_rng(1).random(len(refs)) < 0.7)
    labels = labels.assign(fraud=labels["fraud"] | overlooked,
                           typology=np.where(overlooked, "overlooked_sign", labels["typology"]))
    found["overlooked"] = overlooked & ~labels_from_truth(table, read_truth(world["truth"]))["fraud"].to_numpy()
    order = ranking_order(scores, refs)
    work = np.zeros(len(refs), dtype=bool)
    work[order[: int(0.02 * len(refs))]] = True
    control = np.zeros(len(refs), dtype=bool)
    rest = np.flatnonzero(~work)
    control[np.random.default_rng(0).choice(rest, size=int(CONTROL_SHARE * len(rest)), replace=False)] = True
    few = _with_outcomes(world, "data_few", _reviewed(refs, labels, np.flatnonzero(control)[:40], control))
    reviewed = _with_outcomes(world, "data_reviewed", _reviewed(refs, labels, work | control, control))
    with activated_workspace(world["root"] / "learning", settings) as workspace:
        found["few"] = train_approved(few, workspace, settings)
        score_flow(few, world["root"] / "run_few", workspace, settings)
        found["learnt"] = train_approved(reviewed, workspace, settings, truth_path=world["truth"])
        learnt = load_model(found["learnt"]["version"], model_name=settings.registry.model_name)
        found["learnt_scores"] = learnt.score(table)[SCORE_COLUMN].to_numpy()
        found["learnt_model"] = learnt
        report_dir = download_report(settings.registry.model_name, found["learnt"]["version"], world["root"] / "report")
        found["report"] = json.loads((report_dir / "report.json").read_text(encoding="utf-8"))
        found["report_html"] = (report_dir / "report.html").read_text(encoding="utf-8")
        found["weights"] = pd.read_csv(MlflowClient().download_artifacts(found["learnt"]["run_id"],
                                                                         "outcomes/weights.csv",
                                                                         str(world["root"])))
        score_flow(reviewed, world["root"] / "run_learnt", workspace, settings)
    return found


def _median_rank(scores: np.ndarray, table: pd.DataFrame, chosen: np.ndarray) -> float:
    rank = np.empty(len(scores))
    rank[ranking_order(scores, table["subject_ref"].astype(str).to_numpy())] = np.arange(1, len(scores) + 1)
    return float(np.median(rank[chosen]))


def test_too_few_outcomes_give_the_same_case_list_byte_for_byte_and_say_so(trained, world):
    assert trained["few"]["outcomes"].startswith("outcome layer not fitted: 40 reviewed subjects")
    assert trained["alone"]["outcomes"].startswith("outcome layer not fitted: 0 reviewed subjects")
    alone = (world["root"] / "run_alone" / "cases.csv").read_bytes()
    assert (world["root"] / "run_few" / "cases.csv").read_bytes() == alone


def test_frauds_of_a_typology_the_detector_ranks_low_rise_once_outcomes_are_learnt(trained):
    table, overlooked = trained["table"], trained["overlooked"]
    before = _median_rank(trained["alone_scores"], table, overlooked)
    after = _median_rank(trained["learnt_scores"], table, overlooked)
    assert after < 0.5 * before, (trained["sign"], before, after)
    weights = trained["weights"].set_index("term")["weight"]
    assert weights[trained["sign"]] > 0
    assert trained["learnt"]["outcomes"].startswith("outcome layer fitted on")


def test_the_learnt_version_is_tagged_and_every_weight_is_non_negative(trained):
    model = trained["learnt_model"]
    assert model.tags[OUTCOME_LAYER_TAG] == "fitted"
    assert isinstance(model.detector, OutcomeWeightedDetector)
    assert (trained["weights"]["weight"].iloc[:-1] >= 0).all()  # every weight but the intercept


def test_flags_of_the_learnt_version_split_exactly_into_one_term_per_feature(trained):
    model, table = trained["learnt_model"], trained["table"]
    flagged = ranking_order(trained["learnt_scores"], table["subject_ref"].astype(str).to_numpy())[:60]
    values = table.loc[:, list(model.feature_names)].to_numpy(dtype="float64")[flagged]
    contributions, base_value = model.detector.explain(values)
    assert np.abs(contributions.sum(axis=1) + base_value - trained["learnt_scores"][flagged]).max() < 1e-6


def test_the_report_shows_what_the_outcomes_changed(trained):
    changed = trained["report"]["outcomes_changed"]
    assert changed["fitted"]
    sources = {row["source"]: row for row in changed["sources"]}
    assert sources["control"]["used"] and sources["work_list"]["used"]
    assert sources["control"]["weight"] > sources["work_list"]["weight"] == 1.0
    assert changed["entered"] == changed["left"] > 0
    moved = pd.DataFrame(changed["moved_by_typology"])
    assert moved["entered"].sum() == changed["entered"] and "honest" in set(moved["typology"])
    assert {row["feature"] for row in changed["weights"]} == set(trained["learnt_model"].feature_names)
    assert pytest.approx(sum(row["after"] for row in changed["weights"])) == 1.0
    assert changed["group_flag_rates"]
    assert trained["report"]["model_card"]["details"]["outcomes_used"].startswith("yes: ")


def test_the_page_shows_the_figures_of_report_json_for_what_the_outcomes_changed(trained):
    shown = [(path, text) for path, text in _parse(trained["report_html"]).figures
             if path.startswith("outcomes_changed.")]
    assert {path.split(".")[1] for path, _ in shown} >= {"sources", "weights", "entered", "moved_by_typology",
                                                         "group_flag_rates", "anomaly_weight"}
    for path, text in shown:
        assert_figure_shows(trained["report"], path, text)
