"""Eight reviewers working one list at once on PostgreSQL: no case claimed twice, no outcome lost."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import audit, store
from casework.imports import import_run
from casework.store import OUTCOMES, Case, Event, StaleCaseError
from features.contract import TYPOLOGIES
from tests.casework.conftest import add_accounts, temporary_postgres

REVIEWERS = 8


def _review(engine, run_id: str, name: str, done: list, errors: list) -> None:
    """Claim, review and close cases until none is left; now and then save a stale read."""
    chooser = random.Random(name)
    try:
        while True:
            with Session(engine) as session, session.begin():
                case = store.claim_next(session, run_id, name)
                if case is None:
                    return
                audit.record(session, name, "claim case", str(case.id))
                case_id, version = case.id, case.version
            outcome = chooser.choice(OUTCOMES)
            with Session(engine) as session, session.begin():
                case = store.start_review(session, case_id, version, name)
                typology = TYPOLOGIES[case.subject_type][0] if outcome == "fraud" else None
                case = store.close(session, case_id, case.version, name, outcome, f"closed by {name}", typology)
                audit.record(session, name, "close case", str(case_id), outcome)
            # a save from a page opened before the close must be refused, not overwrite the outcome
            with Session(engine) as session, session.begin(), pytest.raises(StaleCaseError):
                store.reopen(session, case_id, version, name)
            done.append((case_id, name, outcome))
    except Exception as error:  # reported by the test, with the reviewer's name
        errors.append((name, error))


@pytest.mark.slow
def test_eight_reviewers_never_share_a_case_nor_lose_an_outcome(scored):
    with temporary_postgres("concurrency") as url:
        engine = store.open_store(url)
        add_accounts(engine, {f"reviewer{n}": "investigator" for n in range(REVIEWERS)})
        result = import_run(engine, scored["first"])
        assert result.new_cases >= 150
        done: list[tuple[int, str, str]] = []
        errors: list[tuple[str, Exception]] = []
        reviewers = [threading.Thread(target=_review, args=(engine, result.run_id, f"reviewer{n}", done, errors))
                     for n in range(REVIEWERS)]
        for reviewer in reviewers:
            reviewer.start()
        for reviewer in reviewers:
            reviewer.join()
        assert not errors, errors

        claims = Counter(case_id for case_id, _, _ in done)
        assert len(claims) == result.new_cases and set(claims.values()) == {1}
        assert len({name for _, name, _ in done}) > 1  # the work was shared
        with Session(engine) as session:
            cases = {case.id: case for case in session.scalars(select(Case))}
            assignments = Counter(event.case_id for event in session.scalars(
                select(Event).where(Event.field == "assignee")))
            check = audit.verify(session)
        for case_id, name, outcome in done:
            case = cases[case_id]
            assert (case.status, case.assignee, case.outcome, case.closing_note) == (
                "closed", name, outcome, f"closed by {name}")
        assert set(assignments.values()) == {1}
        assert check.intact and check.entries == 2 * len(done) + 1  # and the import
        engine.dispose()
