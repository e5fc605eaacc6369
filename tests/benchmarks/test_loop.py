"""The investigation loop on a tiny world: the investigator's verdicts reach the next version's training."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.loop import (
    LOOP_HEADING,
    OUTCOMES_FILE,
    format_loop_section,
    run_loop,
    with_loop_section,
)
from models.cases import recently_cleared
from tests.conftest import FAST_DETECTOR


@pytest.mark.usefixtures("prefect_harness")
def test_one_round_trains_the_next_version_with_the_investigators_verdicts(tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from prefect.settings import PREFECT_API_URL

    from configs.settings import load_settings
    from pipelines.workspace import Workspace

    # the commands run as their own processes: they reach the harness's server by its URL
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    run = run_loop("subtle", 600, 611, 612, 1, tmp_path, env, tmp_path / "loop.log", FAST_DETECTOR)
    world = tmp_path / "loop_subtle_600_611"

    first, second = run.rounds
    verdicts = first.investigation.verdicts
    # every case of the work list and the control sample was closed, a tenth of verdicts the wrong way
    assert verdicts["control"].any() and (~verdicts["control"]).any()
    assert first.investigation.wrong == round(0.1 * len(verdicts)) >= 1
    assert ((verdicts["outcome"] == "fraud") == (verdicts["fraud"] != verdicts["wrong"])).all()
    assert first.investigation.honest == int((~verdicts["fraud"]).sum())
    assert second.investigation is None
    # subjects the extract's own past investigations recently cleared were not sent again
    summary = json.loads((world / "round_0" / "training_run" / "run_summary.json").read_text(encoding="utf-8"))
    past = pd.read_csv(world / "training_data" / OUTCOMES_FILE, dtype=str, keep_default_na=False)
    cleared = recently_cleared(past, dt.date.fromisoformat(summary["as_of"]), 365)
    assert summary["recently_cleared"]["window_days"] == 365
    assert cleared and not set(cleared) & set(verdicts["subject_ref"])

    exported = pd.read_csv(world / "round_0" / OUTCOMES_FILE, dtype=str, keep_default_na=False)
    recorded = exported.set_index("subject_ref")
    assert sorted(recorded.index) == sorted(verdicts["subject_ref"])
    for case in verdicts.itertuples():
        assert recorded.loc[case.subject_ref, "outcome"] == case.outcome  # the flipped ones too
        assert recorded.loc[case.subject_ref, "control"] == str(case.control).lower()
        assert recorded.loc[case.subject_ref, "typology"] == (case.typology if case.outcome == "fraud" else "")

    # the next version was trained on the training world with the export in place of the extract's outcomes
    trained_on = world / "round_0" / "training_data" / OUTCOMES_FILE
    assert trained_on.read_bytes() == (world / "round_0" / OUTCOMES_FILE).read_bytes()
    assert (first.version, second.version) == ("1", "2")
    assert (second.outcomes_rows, second.outcomes_control) == (len(verdicts), int(verdicts["control"].sum()))
    settings = load_settings()
    store = Workspace(world / "workspace", settings).tracking_uri
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    metrics = client.get_run(client.get_model_version(settings.registry.model_name, "2").run_id).data.metrics
    assert metrics["investigation_outcomes.n_labelled"] == len(verdicts)
    assert metrics["investigation_outcomes.n_fraud"] == (verdicts["outcome"] == "fraud").sum()

    # the report's section, in place of an earlier one
    section = format_loop_section([run], "python -m benchmarks.loop --smoke")
    assert "| 0 | 1 |" in section and "| 1 | 2 |" in section
    report = f"# Results\n\n{LOOP_HEADING}\n\nold figures\n\n## Speed and memory\n\nspeed\n"
    replaced = with_loop_section(report, section)
    assert "old figures" not in replaced and replaced.count(LOOP_HEADING) == 1
    assert replaced.endswith("## Speed and memory\n\nspeed\n")
