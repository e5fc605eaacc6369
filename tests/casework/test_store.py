from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
from sqlalchemy import func, inspect, select, text, update
from sqlalchemy.orm import Session

from casework import audit, store
from casework.commands import export_outcomes
from casework.imports import import_run, read_summary, run_id_of
from casework.store import Case, CaseScore, Event, StaleCaseError
from features.contract import TYPOLOGIES, read_table, validate_table
from tests.casework.conftest import add_accounts

ACCOUNTS = {"ivy": "investigator", "ivan": "investigator", "ian": "investigator", "sam": "supervisor",
            "sue": "supervisor", **{f"worker{number}": "investigator" for number in range(3)}}
"""The accounts the store's workflow tests act as: the store checks each actor's role."""


@pytest.fixture
def engine(store_url):
    engine = store.open_store(store_url)
    add_accounts(engine, ACCOUNTS)
    return engine


def _work(run_dir):
    cases = pd.read_parquet(run_dir / "cases.parquet")
    return cases.loc[cases["work_list"]].set_index("subject_ref")  # flagged and the random control sample


def _details(engine, case: Case) -> tuple[dict, dict]:
    """The case's explanation and records."""
    with Session(engine) as session:
        detail = session.get(store.CaseDetail, case.id)
        return json.loads(detail.explanation), json.loads(detail.records)


def _cases(engine) -> dict[str, Case]:
    with Session(engine) as session:
        found = session.scalars(select(Case)).all()
        session.expunge_all()
    return {case.subject_ref: case for case in found}


def _work_a_case(engine, case_id, actor="ivy", outcome="fraud"):
    """Assign, review and close the case; a fraud outcome records the first typology of its subject type."""
    with Session(engine) as session, session.begin():
        case = store.assign(session, case_id, session.get(Case, case_id).version, actor, actor)
        case = store.start_review(session, case_id, case.version, actor)
        typology = TYPOLOGIES[case.subject_type][0] if outcome == "fraud" else None
        store.close(session, case_id, case.version, actor, outcome, "checked the tax records", typology)


@pytest.mark.slow
def test_a_run_imports_its_work_list_once(engine, scored):
    result = import_run(engine, scored["first"])
    work = _work(scored["first"])
    cases = _cases(engine)
    assert result.new_cases == len(work) == len(cases) and not result.already_imported
    assert set(cases) == set(work.index)
    explanations = pd.read_parquet(scored["first"] / "explanations.parquet")
    controls = [case for ref, case in cases.items() if work.at[ref, "control"]]
    assert controls and all(case.reasons == "" for case in controls)  # drawn at random: no reasons
    for ref, case in [(ref, case) for ref, case in cases.items() if work.at[ref, "flagged"]][:20]:
        assert (case.status, case.score, case.rank) == ("new", work.at[ref, "score"], work.at[ref, "rank"])
        assert case.reasons == work.at[ref, "reasons"] and case.reasons
        shown, _ = _details(engine, case)
        assert sum(row[2] for row in shown["features"]) + shown["base_value"] == pytest.approx(case.score)
        assert len(shown["features"]) == (explanations["subject_ref"] == ref).sum()
    # the subject's own claim, as the data directory holds it
    benefit = read_table(scored["data"], "benefit_claims").set_index("claim_id")
    ref = next(ref for ref in cases if ref in benefit.index)
    own = next(row for row in _details(engine, cases[ref])[1]["benefit_claims"] if row["claim_id"] == ref)
    nino = benefit.at[ref, "nino"]
    assert own["surname"] == benefit.at[ref, "surname"] and own["nino"] == ("" if pd.isna(nino) else nino)

    again = import_run(engine, scored["first"])
    assert again.already_imported and again.run_id == result.run_id
    assert len(_cases(engine)) == len(cases)


@pytest.mark.slow
def test_a_later_run_joins_open_cases_and_keeps_their_score_history(engine, scored):
    first = import_run(engine, scored["first"])
    opened = _cases(engine)
    closed_ref = next(iter(opened))
    _work_a_case(engine, opened[closed_ref].id)

    second = import_run(engine, scored["second"])
    work = _work(scored["second"])
    cases = _cases(engine)
    with Session(engine) as session:
        per_subject = dict(session.execute(select(Case.subject_ref, func.count()).group_by(Case.subject_ref))
                           .all())
        history = session.execute(select(CaseScore.case_id, func.count()).group_by(CaseScore.case_id)
                                  ).all()
        assert store.latest_run(session).run_id == second.run_id != first.run_id
    assert second.joined_cases == len(set(opened) & set(work.index)) - 1
    # the closed case stays closed; the subject flagged again opens a second case
    assert per_subject[closed_ref] == 2
    assert all(count == 1 for ref, count in per_subject.items() if ref != closed_ref)
    assert all(cases[ref].latest_run_id == second.run_id for ref in work.index)
    assert dict(history)[opened[next(ref for ref in opened if ref != closed_ref)].id] == 2


@pytest.mark.slow
def test_the_workflow_keeps_every_change_as_an_event(engine, scored):
    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        run = store.latest_run(session)
        case = store.claim_next(session, run.run_id, "ivy")
        assert (case.status, case.assignee, case.rank) == ("assigned", "ivy", 1)
        with pytest.raises(store.CaseworkError, match="not ivan"):
            store.start_review(session, case.id, case.version, "ivan")
        case = store.start_review(session, case.id, case.version, "ivy")
        with pytest.raises(store.CaseworkError, match="closing note is required"):
            store.close(session, case.id, case.version, "ivy", "fraud", "  ")
        with pytest.raises(store.CaseworkError, match="at most 10,000 characters; this one has 100,000"):
            store.close(session, case.id, case.version, "ivy", "fraud", "x" * 100_000)
        with pytest.raises(store.CaseworkError, match="outcome must be one of"):
            store.close(session, case.id, case.version, "ivy", "guilty", "note")
        case = store.close(session, case.id, case.version, "ivy", "error", "overpaid, not fraud")
        case = store.reopen(session, case.id, case.version, "sam")
        assert (case.status, case.outcome, case.version) == ("assigned", None, 5)
        events = [(e.actor, e.field, e.old_value, e.new_value) for e in store.case_events(session, case.id)]
    assert events == [
        ("system", "status", None, "new"),
        ("ivy", "status", "new", "assigned"), ("ivy", "assignee", None, "ivy"),
        ("ivy", "status", "assigned", "in_review"),
        ("ivy", "status", "in_review", "closed"), ("ivy", "outcome", None, "error"),
        ("ivy", "closing_note", None, "overpaid, not fraud"), ("ivy", "closed_on", None, events[7][3]),
        ("sam", "status", "closed", "assigned"), ("sam", "outcome", "error", None),
        ("sam", "closing_note", "overpaid, not fraud", None), ("sam", "closed_on", events[7][3], None),
    ]


@pytest.mark.slow
def test_a_stale_save_is_refused_and_names_who_changed_the_case(engine, scored):
    import_run(engine, scored["first"])
    case_id = min(case.id for case in _cases(engine).values())
    with Session(engine) as session:
        read_by_both = session.get(Case, case_id).version
    with Session(engine) as session, session.begin():
        store.assign(session, case_id, read_by_both, "sam", "ivy")
    with Session(engine) as session, session.begin():
        with pytest.raises(StaleCaseError, match=r"changed by sam at .* assigned to ivy\): reload"):
            store.assign(session, case_id, read_by_both, "sue", "ian")
    with Session(engine) as session:
        assert session.get(Case, case_id).assignee == "ivy"
        assert session.scalar(select(func.count()).select_from(Event).where(Event.case_id == case_id)) == 3


@pytest.mark.slow
def test_claiming_hands_out_each_new_case_once(engine, scored):
    import_run(engine, scored["first"])
    total = len(_cases(engine))
    claimed = []
    with Session(engine) as session, session.begin():
        run_id = store.latest_run(session).run_id
        while (case := store.claim_next(session, run_id, f"worker{len(claimed) % 3}")) is not None:
            claimed.append(case.id)
    assert len(claimed) == len(set(claimed)) == total


@pytest.mark.slow
def test_outcomes_export_is_the_contracts_table(engine, scored, tmp_path):
    import_run(engine, scored["first"])
    cases = sorted(_cases(engine).values(), key=lambda case: case.rank)
    for case, outcome in zip(cases, ["fraud", "error", "no_issue", "not_investigated"], strict=False):
        _work_a_case(engine, case.id, outcome=outcome)
    with Session(engine) as session, session.begin():
        store.confirm(session, cases[0].id, session.get(Case, cases[0].id).version, "sam")  # four eyes
    line = export_outcomes(engine, tmp_path / "out")
    assert line.startswith("3 closed cases (0 from the control sample)")
    raw = read_table(tmp_path / "out", "investigation_outcomes")
    valid, rejects = validate_table("investigation_outcomes", raw)
    assert rejects.empty and len(valid) == 3
    assert list(pd.read_csv(tmp_path / "out" / "investigation_outcomes.csv").columns) == list(
        store.OUTCOME_COLUMNS)
    assert dict(zip(valid["subject_ref"], valid["outcome"], strict=True)) == {
        cases[0].subject_ref: "fraud", cases[1].subject_ref: "error", cases[2].subject_ref: "no_issue"}
    # the contract's optional control column, and the typology recorded at closing
    written = pd.read_csv(tmp_path / "out" / "investigation_outcomes.csv", dtype=str, keep_default_na=False)
    assert set(written["control"]) == {"false"}
    assert dict(zip(written["subject_ref"], written["typology"], strict=True)) == {
        cases[0].subject_ref: TYPOLOGIES[cases[0].subject_type][0], cases[1].subject_ref: "",
        cases[2].subject_ref: ""}
    with Session(engine) as session:
        assert audit.recent_entries(session, 1)[0].action == "export outcomes"


@pytest.mark.slow
def test_retention_purges_identifiers_of_old_closed_cases_only(engine, store_url, scored, tmp_path):
    import_run(engine, scored["first"])
    ranked = sorted(_cases(engine).values(), key=lambda case: case.rank)
    closed, still_open = ranked[:2], ranked[2]
    for case in closed:
        _work_a_case(engine, case.id, outcome="no_issue")
    # closed today: a cutoff of today keeps them, tomorrow's purges them
    assert store.purge_before(store_url, dt.datetime.now(dt.UTC)) == {"cases": 0}
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert store.purge_before(store_url, tomorrow) == {"cases": 2}
    assert store.purge_before(store_url, tomorrow) == {"cases": 0}
    after = {case.id: case for case in _cases(engine).values()}
    for case in closed:
        purged = after[case.id]
        assert purged.subject_ref == purged.pseudonym == case.pseudonym
        assert (purged.reasons, purged.related, purged.closing_note) == ("", "", None)
        assert (purged.outcome, purged.status, purged.purged_on) == ("no_issue", "closed", dt.date.today())
        assert _details(engine, purged) == ({}, {})
        with Session(engine) as session:
            notes = [e.new_value for e in store.case_events(session, case.id) if e.field == "closing_note"]
            assert notes == [store.PURGED_TEXT]
            with pytest.raises(store.CaseworkError, match="purged"):
                store.reopen(session, case.id, purged.version, "sam")
    kept = after[still_open.id]
    assert (kept.subject_ref, kept.purged_on, kept.reasons) == (still_open.subject_ref, None, still_open.reasons)
    assert export_outcomes(engine, tmp_path / "out").startswith("0 closed cases")


def _entries(engine, count):
    with Session(engine) as session, session.begin():
        for number in range(count):
            audit.record(session, "ivy", "view case", str(number + 1), f"subject {number}")


def _tampered(engine, *statements):
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    with Session(engine) as session:
        return audit.verify(session)


@pytest.mark.slow
@pytest.mark.parametrize(("statements", "problem"), [
    (["UPDATE access_log SET detail = 'subject 99' WHERE seq = 3"], r"^entry 3 \(.*\) was edited$"),
    (["DELETE FROM access_log WHERE seq = 2"], r"^entry 2 is missing \(deleted\)"),
    (["UPDATE access_log SET seq = 100 WHERE seq = 2", "UPDATE access_log SET seq = 2 WHERE seq = 3",
      "UPDATE access_log SET seq = 3 WHERE seq = 100"], r"^entry 2 does not follow entry 1"),
    (["DELETE FROM access_log WHERE seq = 5"], r"^entries 5 to 5 are missing \(deleted from the end"),
])
def test_the_access_log_names_the_first_entry_tampered_with(engine, statements, problem):
    _entries(engine, 5)
    with Session(engine) as session:
        assert audit.verify(session) == audit.Verification(5, None)
    found = _tampered(engine, *statements)
    assert not found.intact
    assert re.search(problem, found.problem), found.problem


@pytest.mark.slow
def test_the_score_flow_imports_its_run_into_the_workspace_store(scored):
    engine = store.open_store(store.store_url(None, scored["workspace"]))
    run_id = run_id_of(read_summary(scored["first"]), scored["first"])
    with Session(engine) as session:
        run = session.get(store.Run, run_id)
        assert run is not None and run.work_list_size == len(_work(scored["first"]))
        # only the work list is read from the cases file, yet every scored subject is counted
        assert run.subjects_scored == len(pd.read_parquet(scored["first"] / "cases.parquet"))
        # the second run was scored with the import turned off
        assert session.scalar(select(func.count()).select_from(store.Run)) == 1


@pytest.mark.slow
def test_a_parquet_table_is_filtered_as_it_is_read_with_the_same_rows_as_a_csv(scored, tmp_path):
    from casework.imports import _rows_where

    tax = read_table(scored["data"], "tax_records")
    tax.to_parquet(tmp_path / "tax_records.parquet", index=False)
    ninos = set(tax["nino"].dropna().iloc[::50])
    from_csv = _rows_where(scored["data"], "tax_records", "nino", ninos, ["nino", "period", "amount"])
    from_parquet = _rows_where(tmp_path, "tax_records", "nino", ninos, ["nino", "period", "amount"])
    assert len(from_csv) > 0 and set(from_csv["nino"]) == ninos
    pd.testing.assert_frame_equal(from_parquet.reset_index(drop=True), from_csv.reset_index(drop=True),
                                  check_dtype=False)


@pytest.mark.slow
def test_open_cases_stay_on_the_work_list_after_a_later_run_leaves_them_out(engine, scored):
    import_run(engine, scored["first"])
    opened = _cases(engine)
    dropped = [ref for ref in opened if ref not in _work(scored["second"]).index]
    assert len(dropped) >= 3, "the second run must leave out some cases of the first"
    assigned_ref, new_ref = dropped[0], dropped[1]
    with Session(engine) as session, session.begin():
        store.assign(session, opened[assigned_ref].id, opened[assigned_ref].version, "sam", "ivy")
    second = import_run(engine, scored["second"])

    with Session(engine) as session:
        listed, total = store.list_cases(session, second.run_id, store.CaseFilter(), page_size=100_000)
        new_listed, new_total = store.list_cases(session, second.run_id, store.CaseFilter(status="new"),
                                                 page_size=100_000)
        figures = store.status_counts(session)
    refs = {case.subject_ref: case for case in listed}
    assert {assigned_ref, new_ref} <= refs.keys()
    assert refs[assigned_ref].latest_run_id == refs[new_ref].latest_run_id != second.run_id
    assert len(listed) == total
    # the Figures page and the work list agree on what is open
    assert new_total == figures["statuses"]["new"] == sum(case.status == "new" for case in _cases(engine).values())
    # the run's own queue comes first, then what earlier runs flagged
    earlier = [case.latest_run_id != second.run_id for case in listed]
    assert earlier == sorted(earlier)

    with Session(engine) as session, session.begin():
        claimed = []
        while (case := store.claim_next(session, second.run_id, "ivy")) is not None:
            claimed.append(case.subject_ref)
    assert new_ref in claimed and len(claimed) == new_total


def test_the_earnings_by_month_leave_savings_interest_and_property_income_to_their_own_rows(engine, scored):
    import_run(engine, scored["first"])
    tax = read_table(scored["data"], "tax_records")
    benefit = read_table(scored["data"], "benefit_claims").set_index("claim_id")
    cases = _cases(engine)
    checked = 0
    for ref in [ref for ref in cases if ref in benefit.index]:
        records = _details(engine, cases[ref])[1]
        by_type = records["tax_income_by_type"]
        if not any(income_type in ("savings_interest", "property") for _, income_type, _ in by_type):
            continue
        earnings = dict(map(tuple, records["tax_income"]))
        for period, total in earnings.items():
            assert total == pytest.approx(sum(amount for month, income_type, amount in by_type
                                              if month == period and income_type in ("paye_employment",
                                                                                     "self_employment")), abs=0.02)
        checked += 1
    assert checked, "no case with savings interest or property income in this world"
    assert set(tax["income_type"].astype(str)) >= {"savings_interest", "paye_employment"}


def _stored_rows(engine) -> dict[str, list[tuple]]:
    """Every row the imports wrote, by table, keyed by subject rather than by id; without the times and
    the pseudonyms, which depend on when and into which store (its own secret) a run was imported."""
    with Session(engine) as session:
        ref_of = dict(session.execute(select(Case.id, Case.subject_ref)).all())
        cases = [tuple(getattr(case, column) for column in sorted(Case.__table__.columns.keys())
                       if column not in {"id", "updated_at", "status_since", "pseudonym"}) for case in session.scalars(select(Case))]
        details = [(ref_of[detail.case_id], detail.explanation, detail.records)
                   for detail in session.scalars(select(store.CaseDetail))]
        scores = [(ref_of[line.case_id], line.run_id, line.score, line.rank, line.flagged, line.control)
                  for line in session.scalars(select(CaseScore))]
        events = [(ref_of[event.case_id], event.actor, event.field, event.old_value, event.new_value)
                  for event in session.scalars(select(Event))]
    return {name: sorted(rows, key=repr) for name, rows in
            {"cases": cases, "details": details, "scores": scores, "events": events}.items()}


@pytest.mark.slow
def test_postgresql_and_sqlite_hold_the_same_rows_after_the_same_imports(scored, tmp_path):
    from tests.casework.conftest import temporary_postgres

    sqlite = store.open_store(f"sqlite:///{tmp_path / 'cases.db'}")
    with temporary_postgres("same_rows") as url:
        postgresql = store.open_store(url)
        for engine in (sqlite, postgresql):
            import_run(engine, scored["first"])
            import_run(engine, scored["second"])
        rows = _stored_rows(postgresql)
        postgresql.dispose()
    assert rows == _stored_rows(sqlite)
    assert len(rows["events"]) > len(rows["cases"]) > 0  # new cases and, from the second run, joined ones


def _own_claim(engine, case: Case) -> dict:
    claims = _details(engine, case)[1]
    return next(row for table in ("benefit_claims", "housing_claims") for row in claims[table]
                if row.get("claim_id", row.get("housing_claim_id")) == case.subject_ref)


@pytest.mark.slow
def test_cases_are_found_by_name_nino_reference_and_postcode_until_purged(engine, store_url, scored):
    from casework.search import find_cases

    import_run(engine, scored["first"])
    cases = sorted(_cases(engine).values(), key=lambda case: case.rank)
    case = next(case for case in cases if _own_claim(engine, case).get("nino"))
    claim = _own_claim(engine, case)
    nino, postcode = claim["nino"], claim["postcode"]
    spaced_nino = f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8:]}".lower()
    with Session(engine) as session:
        def found(query):
            return {found.id for found in find_cases(session, query)[0]}
        for query in (spaced_nino, postcode.lower().replace(" ", ""), f" {postcode} ", case.subject_ref.lower(),
                      f"{claim['first_name'][:3].lower()} {claim['surname'].upper()}"):
            assert case.id in found(query), query
        assert found(case.subject_ref) == {case.id}
        assert case.id not in found(f"{claim['first_name']} Nosuchsurname")
        assert found("%") == set() and found("") == set()
    _work_a_case(engine, case.id, outcome="no_issue")
    store.purge_before(store_url, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    with Session(engine) as session:
        assert case.id not in {found.id for found in find_cases(session, nino)[0]}


@pytest.mark.slow
def test_the_search_migration_indexes_the_cases_imported_before_it(engine, scored):
    from alembic import command
    from alembic.config import Config

    from casework.search import find_cases

    import_run(engine, scored["first"])
    case = min(_cases(engine).values(), key=lambda case: case.rank)
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        # the store as it was before the search: no index, at the revision before it
        connection.execute(text("DROP TABLE case_search_terms"))
        command.stamp(config, "0003")
        command.upgrade(config, "0004")
        assert "case_search_terms" in inspect(connection).get_table_names()
        command.stamp(config, "head")
    with Session(engine) as session:
        assert [found.id for found in find_cases(session, case.subject_ref)[0]] == [case.id]


@pytest.mark.slow
def test_notes_are_events_of_cases_being_worked_by_their_assignee_or_a_supervisor(engine, store_url, scored):
    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        run_id = store.latest_run(session).run_id
        new_case = store.list_cases(session, run_id, store.CaseFilter(status="new"))[0][-1].id
        case = store.claim_next(session, run_id, "ivy")
        with pytest.raises(store.CaseworkError, match="is new: cannot add a note to it"):
            store.add_note(session, new_case, "ivy", "too early")
        with pytest.raises(store.CaseworkError, match="assigned to ivy, not ivan"):
            store.add_note(session, case.id, "ivan", "not mine")
        with pytest.raises(store.CaseworkError, match="a note is required"):
            store.add_note(session, case.id, "ivy", " \n ")
        with pytest.raises(store.CaseworkError, match="a note is at most 4,000 characters; this one has 4,001"):
            store.add_note(session, case.id, "ivy", "x" * 4_001)
        store.add_note(session, case.id, "ivy", "  Asked the employer for payslips.  ")
        store.add_note(session, case.id, "sam", "Check the second address too.")
        assert session.get(Case, case.id).version == case.version  # a note moves no version
        case = store.start_review(session, case.id, case.version, "ivy")
        store.close(session, case.id, case.version, "ivy", "no_issue", "payslips match the declaration")
        with pytest.raises(store.CaseworkError, match="is closed: cannot add a note to it"):
            store.add_note(session, case.id, "ivy", "after the end")
        notes = [(event.actor, event.new_value) for event in store.case_events(session, case.id)
                 if event.field == store.NOTE_FIELD]
        case_id = case.id
    assert notes == [("ivy", "Asked the employer for payslips."), ("sam", "Check the second address too.")]
    store.purge_before(store_url, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    with Session(engine) as session:
        assert [event.new_value for event in store.case_events(session, case_id)
                if event.field == store.NOTE_FIELD] == [store.PURGED_TEXT] * 2


@pytest.mark.slow
def test_a_closing_records_a_typology_of_its_subject_type_for_fraud_and_may_for_an_error(engine, scored):
    import_run(engine, scored["first"])
    benefit = next(case for case in sorted(_cases(engine).values(), key=lambda case: case.rank)
                   if case.subject_type == "benefit_claim")
    with Session(engine) as session, session.begin():
        case = store.assign(session, benefit.id, benefit.version, "ivy", "ivy")
        case = store.start_review(session, case.id, case.version, "ivy")
        with pytest.raises(store.CaseworkError, match="a fraud outcome names its typology: one of undeclared_earnings, "):
            store.close(session, case.id, case.version, "ivy", "fraud", "found", "")
        with pytest.raises(store.CaseworkError, match="typology must be one of .* for a benefit claim, not 'subletting'"):
            store.close(session, case.id, case.version, "ivy", "fraud", "found", "subletting")
        with pytest.raises(store.CaseworkError, match="recorded with a fraud or error outcome, not with no_issue"):
            store.close(session, case.id, case.version, "ivy", "no_issue", "nothing", "living_together")
        case = store.close(session, case.id, case.version, "ivy", "error", "overpaid by mistake", "undeclared_capital")
        assert (case.outcome, case.typology) == ("error", "undeclared_capital")
        case = store.reopen(session, case.id, case.version, "sam")
        assert case.typology is None
        assert ("sam", "undeclared_capital", None) in {(event.actor, event.old_value, event.new_value)
                                                      for event in store.case_events(session, case.id)
                                                      if event.field == "typology"}


@pytest.mark.slow
def test_a_fraud_outcome_counts_once_a_supervisor_other_than_the_closer_confirms_it(engine, scored, tmp_path):
    import_run(engine, scored["first"])
    ranked = sorted(_cases(engine).values(), key=lambda case: case.rank)
    by_ivy, by_sam, no_issue = ranked[:3]
    _work_a_case(engine, by_ivy.id)
    _work_a_case(engine, by_sam.id, actor="sam")
    _work_a_case(engine, no_issue.id, outcome="no_issue")
    second = import_run(engine, scored["second"])
    with Session(engine) as session, session.begin():
        awaiting = store.list_cases(session, second.run_id, store.CaseFilter(awaiting_confirmation=True))[0]
        assert {case.id for case in awaiting} == {by_ivy.id, by_sam.id}  # on the work list whatever the run
        assert {row["subject_ref"] for row in store.closed_outcomes(session)} == {no_issue.subject_ref}
        figures = store.status_counts(session)
        assert (figures["awaiting_confirmation"], figures["statuses"]["closed"]) == (2, 3)
        assert sum(figures["outcomes"]["flagged"].values()) + sum(figures["outcomes"]["control"].values()) == 1
        version = session.get(Case, by_sam.id).version
        with pytest.raises(store.CaseworkError, match="the investigator role cannot confirm the outcome of a case"):
            store.confirm(session, by_sam.id, version, "ivy")
        with pytest.raises(store.CaseworkError, match=f"sam closed case {by_sam.id}: .* a supervisor other than"):
            store.confirm(session, by_sam.id, version, "sam")
        with pytest.raises(store.CaseworkError, match="awaits no confirmation"):
            store.confirm(session, no_issue.id, session.get(Case, no_issue.id).version, "sam")
        confirmed = store.confirm(session, by_sam.id, version, "sue")
        assert (confirmed.confirmed_by, confirmed.awaiting_confirmation, confirmed.status) == ("sue", False, "closed")
        store.confirm(session, by_ivy.id, session.get(Case, by_ivy.id).version, "sam")
        reopened = store.reopen(session, by_ivy.id, session.get(Case, by_ivy.id).version, "sue")
        assert reopened.confirmed_by is None
    line = export_outcomes(engine, tmp_path / "out")
    assert line.startswith("2 closed cases")
    assert set(pd.read_csv(tmp_path / "out" / "investigation_outcomes.csv")["subject_ref"]) == {
        by_sam.subject_ref, no_issue.subject_ref}


@pytest.mark.slow
def test_a_supervisor_unassigns_a_case_and_sees_the_workload_of_each_caseworker(engine, scored):
    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        run_id = store.latest_run(session).run_id
        first = store.claim_next(session, run_id, "ivy")
        second = store.claim_next(session, run_id, "ivy")
        store.start_review(session, second.id, second.version, "ivy")
        store.claim_next(session, run_id, "ivan")
        assert store.workload(session, ["ivy", "ivan", "ian"]) == {
            "ivy": {"assigned": 1, "in_review": 1}, "ivan": {"assigned": 1, "in_review": 0},
            "ian": {"assigned": 0, "in_review": 0}}
        with pytest.raises(store.CaseworkError, match="the investigator role cannot unassign a case"):
            store.unassign(session, first.id, first.version, "ivy")
        case = store.unassign(session, first.id, first.version, "sam")
        assert (case.status, case.assignee) == ("new", None)
        assert store.workload(session, ["ivy"])["ivy"] == {"assigned": 0, "in_review": 1}
        assert store.claim_next(session, run_id, "ian").id == first.id  # back in the queue, in its place


SLA_DAYS = {"new": 5, "assigned": 10, "in_review": 20}


def _entered(session, case_id: int, days_ago: int) -> None:
    """As if the case had entered its status ``days_ago`` days before today (at noon, UTC)."""
    at = dt.datetime.combine(store.now().date() - dt.timedelta(days=days_ago), dt.time(12))
    session.execute(update(Case).where(Case.id == case_id).values(status_since=at))
    session.expire_all()


@pytest.mark.slow
def test_a_case_is_due_its_status_s_days_after_it_entered_it_and_overdue_from_the_next_day(engine, scored):
    import_run(engine, scored["first"])
    clock = store.SlaClock.now(SLA_DAYS)
    with Session(engine) as session, session.begin():
        run_id = store.latest_run(session).run_id
        fresh = store.list_cases(session, run_id, store.CaseFilter(status="new"))[0][0]
        assert fresh.status_since.date() == clock.today
        assert (clock.due_on(fresh), clock.overdue_by(fresh)) == (clock.today + dt.timedelta(days=5), 0)
        on_time, late = store.list_cases(session, run_id, store.CaseFilter(status="new"))[0][1:3]
        _entered(session, on_time.id, 5)  # due today: not overdue yet
        _entered(session, late.id, 8)
        assert clock.overdue_by(session.get(Case, on_time.id)) == 0
        assert clock.overdue_by(session.get(Case, late.id)) == 3
        mine = store.claim_next(session, run_id, "ivy")  # a new status: its clock starts again
        _entered(session, mine.id, 11)
        assert clock.due_on(session.get(Case, mine.id)) == clock.today - dt.timedelta(days=1)
        listed, total = store.list_cases(session, run_id, store.CaseFilter(overdue=clock))
        assert {case.id for case in listed} == {late.id, mine.id} and total == 2
        assert store.overdue_counts(session, clock) == {None: 1, "ivy": 1}
        # the same case, reviewed: in review since now, and not overdue any more
        reviewed = store.start_review(session, mine.id, session.get(Case, mine.id).version, "ivy")
        assert reviewed.status_since.date() == clock.today and clock.overdue_by(reviewed) == 0
        assert store.overdue_counts(session, clock) == {None: 1}
        assert [event.field for event in store.case_events(session, mine.id)].count("status_since") == 0
        closed = store.close(session, mine.id, reviewed.version, "ivy", "no_issue", "nothing found")
        assert clock.due_on(closed) is None and clock.overdue_by(closed) == 0
        # a later day's clock: the on-time case is overdue by then
        assert clock.overdue_by(session.get(Case, on_time.id)) == 0
        tomorrow = store.SlaClock(SLA_DAYS, clock.today + dt.timedelta(days=1))
        assert tomorrow.overdue_by(session.get(Case, on_time.id)) == 1
        assert store.list_cases(session, run_id, store.CaseFilter(overdue=tomorrow))[1] == 2


@pytest.mark.slow
def test_the_sla_migration_starts_each_kept_case_s_clock_at_its_latest_change_of_status(engine, scored):
    from alembic import command
    from alembic.config import Config

    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        run_id = store.latest_run(session).run_id
        case = store.claim_next(session, run_id, "ivy")
        untouched = store.list_cases(session, run_id, store.CaseFilter(status="new"))[0][0]
        claimed_at = max(event.at for event in store.case_events(session, case.id) if event.field == "status")
        imported_at = store.latest_run(session).imported_at
        claimed_id, untouched_id = case.id, untouched.id
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        # the store as it was before the SLA: no clock, no escalation, at the revision before it
        for column in ("status_since", "escalated_by", "escalation_reason"):
            connection.execute(text(f"ALTER TABLE cases DROP COLUMN {column}"))
        command.stamp(config, "0007")
        command.upgrade(config, "0008")
        assert {"status_since", "escalated_by"} <= {column["name"] for column in inspect(connection).get_columns("cases")}
        command.stamp(config, "head")
    with Session(engine) as session:
        assert session.get(Case, claimed_id).status_since == claimed_at
        assert session.get(Case, untouched_id).status_since == imported_at


@pytest.mark.slow
def test_a_case_is_escalated_with_a_reason_and_only_a_supervisor_de_escalates_it(engine, store_url, scored):
    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        run_id = store.latest_run(session).run_id
        case = store.claim_next(session, run_id, "ivy")
        with pytest.raises(store.CaseworkError, match="assigned to ivy, not ivan"):
            store.escalate(session, case.id, case.version, "ivan", "not mine to escalate")
        with pytest.raises(store.CaseworkError, match="a reason to escalate is required"):
            store.escalate(session, case.id, case.version, "ivy", "  ")
        claimed_version = case.version
        escalated = store.escalate(session, case.id, claimed_version, "ivy", " The claimant threatened staff. ")
        assert (escalated.escalated_by, escalated.escalation_reason) == ("ivy", "The claimant threatened staff.")
        assert escalated.status == "assigned" and escalated.version == claimed_version + 1
        with pytest.raises(StaleCaseError):
            store.deescalate(session, case.id, claimed_version, "sam")  # from a page read before it
        with pytest.raises(store.CaseworkError, match="escalated already, by ivy"):
            store.escalate(session, case.id, escalated.version, "sam", "again")
        listed, total = store.list_cases(session, run_id, store.CaseFilter(escalated=True))
        assert [found.id for found in listed] == [case.id] and total == 1
        with pytest.raises(store.CaseworkError, match="the investigator role cannot de-escalate a case"):
            store.deescalate(session, case.id, escalated.version, "ivy")
        # escalated it stays, whatever its status, until a supervisor de-escalates it
        reviewed = store.start_review(session, case.id, escalated.version, "ivy")
        closed = store.close(session, case.id, reviewed.version, "ivy", "no_issue", "nothing found")
        assert closed.escalated_by == "ivy"
        calmed = store.deescalate(session, case.id, closed.version, "sam")
        assert (calmed.escalated_by, calmed.escalation_reason) == (None, None)
        with pytest.raises(store.CaseworkError, match="is closed: cannot escalate it"):
            store.escalate(session, case.id, calmed.version, "sam", "too late")
        with pytest.raises(store.CaseworkError, match="is not escalated"):
            store.deescalate(session, case.id, calmed.version, "sam")
        changes = [(event.actor, event.field, event.old_value, event.new_value)
                   for event in store.case_events(session, case.id) if event.field.startswith("escalat")]
        case_id = case.id
        # a new case nobody has yet: any caseworker may escalate it
        unclaimed = store.list_cases(session, run_id, store.CaseFilter(status="new"))[0][0]
        assert store.escalate(session, unclaimed.id, unclaimed.version, "ivan", "Same bank account as a known ring.")
    assert changes == [("ivy", "escalated_by", None, "ivy"),
                       ("ivy", "escalation_reason", None, "The claimant threatened staff."),
                       ("sam", "escalated_by", "ivy", None),
                       ("sam", "escalation_reason", "The claimant threatened staff.", None)]
    store.purge_before(store_url, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    with Session(engine) as session:
        assert {event.old_value or event.new_value for event in store.case_events(session, case_id)
                if event.field == "escalation_reason"} == {store.PURGED_TEXT}
        assert session.get(Case, case_id).escalation_reason is None


@pytest.mark.slow
def test_a_bulk_step_takes_the_workflow_s_step_on_each_case_and_skips_those_changed_or_refused(engine, scored):
    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        run_id = store.latest_run(session).run_id
        first, second, stale = (store.claim_next(session, run_id, "ivy") for _ in range(3))
        new_case = store.list_cases(session, run_id, store.CaseFilter(status="new"))[0][0]
        store.add_note(session, stale.id, "ivy", "a note moves no version")
        stale_version = stale.version
        store.start_review(session, stale.id, stale.version, "ivy")  # after the list was read
        read = {first.id: first.version, second.id: second.version, stale.id: stale_version,
                new_case.id: new_case.version}
        assert store.bulk_step(session, {first.id: first.version}, "ivy", "unassign").refused == {
            first.id: "the investigator role cannot unassign a case"}
        result = store.bulk_step(session, read, "sam", "unassign")
        assert (result.done, result.changed) == ([first.id, second.id], [stale.id])
        assert result.refused == {new_case.id: f"case {new_case.id} is new: cannot unassign it"}
        assert {session.get(Case, case_id).status for case_id in (first.id, second.id)} == {"new"}
        assert session.get(Case, stale.id).status == "in_review"
        assert [(event.actor, event.old_value, event.new_value) for event in store.case_events(session, first.id)
                if event.field == "status"][-1] == ("sam", "assigned", "new")

        in_review = session.get(Case, stale.id)
        with pytest.raises(store.CaseworkError, match="a closing note for the cases closed at once is required"):
            store.bulk_step(session, {stale.id: in_review.version}, "sam", "close")
        closed = store.bulk_step(session, {stale.id: in_review.version, first.id: session.get(Case, first.id).version},
                                 "sam", "close", "Out of scope: the claim ended before the review.")
        assert closed.done == [stale.id] and list(closed.refused) == [first.id]
        case = session.get(Case, stale.id)
        assert (case.status, case.outcome, case.closing_note) == (
            "closed", "not_investigated", "Out of scope: the claim ended before the review.")
        reopened = store.bulk_step(session, {stale.id: case.version}, "sam", "reopen")
        assert reopened.done == [stale.id] and session.get(Case, stale.id).status == "assigned"
        with pytest.raises(store.CaseworkError, match="'start' is not a step taken on many cases at once"):
            store.bulk_step(session, {}, "sam", "start")
