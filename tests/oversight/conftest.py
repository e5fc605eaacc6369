"""One small world, trained twice, taken through the panel's decisions and scored once.

The decisions are made in a fixed order and every answer (or refusal) is kept, so
each test reads the step it checks whatever order the tests run in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from configs.settings import Settings, load_settings
from tests.conftest import PANEL_MEMBER, TRAINER, activated_workspace

PEOPLE = 1500
SETTINGS = {
    "seed": 3,
    "detector": {"isolation_forest": {"n_estimators": 25}, "autoencoder": {"hidden_neurons": [8, 4, 8], "epochs": 2}},
    # a small world: flag a tenth, and read groups from 30 subjects
    "capacity": {"share": 0.1},
    "control_sample": {"share_of_capacity": 0.2},
    "oversight": {"min_group_subjects": 30, "exact_interval_below": 3, "bootstrap_samples": 50,
                  "contact": "counter-fraud@example.org"},
}


PASSWORD = "panel password 1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _refusal(action: Any) -> Exception | None:
    try:
        action()
    except Exception as error:  # noqa: BLE001 - the refusal itself is what the tests read
        return error
    return None


@pytest.fixture(scope="session")
def panel_settings() -> Settings:
    return load_settings(**SETTINGS)


@pytest.fixture(scope="session")
def panel_world(tmp_path_factory: pytest.TempPathFactory, panel_settings: Settings,
                prefect_harness: None) -> Iterator[dict[str, Any]]:
    from fastapi.testclient import TestClient
    from mlflow import MlflowClient
    from sqlalchemy.orm import Session

    from casework import audit
    from casework.app import create_app
    from casework.commands import add_account, case_store
    from casework.routes.signoff import SignOffDesk
    from oversight.signoff import APPROVED, REJECTED, SIGNOFF_LOG, decide, download_report, read_log
    from pipelines.report import report_flow
    from pipelines.score import score_flow
    from pipelines.train import train_flow
    from synthetic import generate_world

    settings = panel_settings
    root = tmp_path_factory.mktemp("panel")
    generate_world(root / "data", people=PEOPLE, seed=17, truth_path=root / "truth.parquet")
    with activated_workspace(root / "workspace", settings) as workspace:
        name, log = settings.registry.model_name, workspace.root / SIGNOFF_LOG

        def decision(version: str, verdict: str, by: str, promote: bool = False) -> Any:
            return lambda: decide(model_name=name, version=version, decision=verdict, by=by,
                                  note=f"{verdict} in the tests", log_path=log, promote=promote)

        def score(version: str | None, out: str) -> Any:
            return lambda: score_flow(root / "data", root / out, workspace, settings, model_version=version)

        first = train_flow(root / "data", workspace, settings, truth_path=root / "truth.parquet", trained_by=TRAINER)
        second = train_flow(root / "data", workspace, settings, trained_by=TRAINER)
        steps: dict[str, Any] = {"first": first, "second": second}
        steps["unapproved_score"] = _refusal(score("1", "refused"))
        steps["trainer_approves"] = _refusal(decision("1", APPROVED, f"  {TRAINER.upper()} "))
        run = MlflowClient().get_run(second["run_id"])
        logged = Path(run.info.artifact_uri.removeprefix("file://")) / "report" / "report.html"
        logged.write_text(logged.read_text(encoding="utf-8") + "<!-- edited -->", encoding="utf-8")
        steps["changed_report_approved"] = _refusal(decision("2", APPROVED, PANEL_MEMBER))
        # the rejection is made in the app, on the report's page, by the signed-in panel account
        store = case_store(settings, workspace.root)
        add_account(store, PANEL_MEMBER, "panel", PASSWORD)
        browser = TestClient(create_app(store, settings.case_store, SignOffDesk(name, log)), follow_redirects=False)
        sign_in = CSRF.search(browser.get("/login").text).group(1)
        browser.post("/login", data={"username": PANEL_MEMBER, "password": PASSWORD, "csrf_token": sign_in})
        page = browser.get("/panel/signoff?version=1")
        form = {"csrf_token": CSRF.search(page.text).group(1), "version": "1", "decision": REJECTED,
                "note": "not yet", "report_sha256": first["report_sha256"]}
        steps["signoff_page"], steps["report_page"] = page, browser.get("/panel/signoff/report?version=1")
        steps["other_digest_post"] = browser.post("/panel/signoff", data={**form, "report_sha256": "0" * 64})
        steps["app_rejection"] = browser.post("/panel/signoff", data=form)
        steps["rejection"] = read_log(log)[-1]
        with Session(store) as session:
            steps["access_log"] = [(entry.actor, entry.action) for entry in audit.recent_entries(session)]
        steps["rejected_score"] = _refusal(score("1", "refused"))
        steps["approval"] = decide(model_name=name, version="1", decision=APPROVED, by=PANEL_MEMBER,
                                   note="read the report", log_path=log, promote=True)
        steps["champion"] = str(MlflowClient().get_model_version_by_alias(name, "champion").version)
        steps["summary"] = score_flow(root / "data", root / "run", workspace, settings)
        steps["report_dir"] = download_report(name, "1", root / "report")
        # version 2 afresh, now that version 1 is champion: the comparison section has something to compare
        steps["fresh_report"] = report_flow("2", root / "report2", settings, data_dir=root / "data",
                                            truth_path=root / "truth.parquet")
        # version 1 afresh, itself the champion: nothing else to compare with
        steps["champion_report"] = report_flow("1", root / "report1", settings, data_dir=root / "data")
        yield {"root": root, "data": root / "data", "run": root / "run", "workspace": workspace, "log": log,
               "settings": settings, **steps}
