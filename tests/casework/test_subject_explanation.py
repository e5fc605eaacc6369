"""The subject explanation answers from the case store: every run that selected the subject, and its case."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import store
from casework.imports import import_run
from oversight.subject import explain_subject
from tests.casework.conftest import add_accounts


def test_an_open_case_assigned_from_an_earlier_run_is_told_so_after_a_later_run(scored, tmp_path):
    # the wider run is imported first: its subjects ranked 201 to 240 are not on the later, narrower list
    engine = store.open_store(f"sqlite:///{tmp_path / 'cases.db'}")
    import_run(engine, scored["second"])
    add_accounts(engine, {"sam": "supervisor", "ivy": "investigator"})
    earlier = pd.read_parquet(scored["second"] / "cases.parquet")
    later = pd.read_parquet(scored["first"] / "cases.parquet")
    dropped = set(earlier.loc[earlier["flagged"], "subject_ref"]) - set(later.loc[later["work_list"], "subject_ref"])
    ref = sorted(dropped)[0]
    with Session(engine) as session, session.begin():
        case = session.scalars(select(store.Case).where(store.Case.subject_ref == ref)).one()
        store.assign(session, case.id, case.version, "sam", "ivy")
    import_run(engine, scored["first"])
    settings = scored["settings"]
    settings = settings.model_copy(update={"oversight": settings.oversight.model_copy(
        update={"appeals_route": "write to the review team", "contact": "counter-fraud@example.org"})})
    text = explain_subject(engine, ref, settings)
    assert "Nothing in this run" not in text and "Was this claim selected? No." not in text
    assert "Was this claim selected? Yes, by these scoring runs:" in text
    assert text.count("selected for a person to review") == 1  # the earlier run; the later one did not
    assert "is open and assigned to an investigator." in text
    assert "ivy" not in text  # who works the case is not the subject's data
    assert "2 scoring runs are kept" in text


def test_an_empty_case_store_is_a_one_line_error_naming_what_to_do(tmp_path, capsys):
    from pipelines.cli import EXIT_USER_ERROR, main

    config = tmp_path / "oversight.yaml"
    config.write_text("oversight:\n  appeals_route: write to us\n  contact: us@example.org\n", encoding="utf-8")
    assert main(["explain-subject", "--ref", "BC1", "--workspace", str(tmp_path / "ws"),
                 "--config", str(config)]) == EXIT_USER_ERROR
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "holds no scoring run yet" in error[0] and "counterfraud cases import" in error[0]
