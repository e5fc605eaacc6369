"""Finding cases by their subject's name, NINO, reference or postcode.

Each case is indexed under terms (:class:`casework.store.CaseSearchTerm`) taken from its subject's
own claims as the latest run read them: every claim reference, NINO and postcode of the same person
(upper case, without spaces or punctuation), and every word of their first names and surnames
(normalised as linking normalises names: accents dropped, upper case). The index is written when a
run is imported and removed with what identifies the subject when retention purges a case.

A query holding a digit is a reference, NINO or postcode: a case matches when one of its terms
starts with the query without its spaces ("sw1a 1aa" finds SW1A1AA). Any other query is a name: a
case matches when every word of it starts one of the case's name words ("jo smi" finds John
Smith). Only caseworkers search: the panel sees no identifier, so it may not look one up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import and_, case, delete, select
from sqlalchemy.orm import Session

from casework.store import CLOSED, Case, CaseSearchTerm
from features.linking import normalise_name, normalise_postcode

SEARCH_LIMIT = 100
"""Cases one search shows; a query that finds more asks for more of the name or number."""
QUERY_LIMIT = 100
"""Characters a query may hold: longer than any name or identifier it can find."""
TERM_LENGTH = 128
"""Characters of a term the index keeps (a longer name is found by its first 128)."""
_CLAIM_TABLES = (("benefit_claims", "claim_id"), ("housing_claims", "housing_claim_id"))
_REFERENCE_COLUMNS = tuple(key for _, key in _CLAIM_TABLES)
_IDENTIFIER_COLUMNS = ("nino", "postcode")
_NAME_COLUMNS = ("first_name", "surname")


def _normalised(normalise: Any, values: list[str]) -> list[str | None]:
    """``values`` through a linking normaliser in one pass; None for what normalises to nothing."""
    if not values:
        return []
    return [value if isinstance(value, str) and value else None
            for value in normalise(pd.Series(values, dtype=object)).tolist()]


def search_terms(subjects: Mapping[Any, tuple[str, Mapping[str, Any]]]) -> dict[Any, set[str]]:
    """The terms each case is found by, from its subject's reference and records (:mod:`casework.imports`).

    Parameters
    ----------
    subjects : mapping
        By case (any key): the subject's reference and records.

    >>> sorted(search_terms({7: ("BC1", {"benefit_claims": [{"claim_id": "BC1", "nino": "ab 12 34 56 c",
    ...     "postcode": "sw1a 1aa", "first_name": "José", "surname": "O'Brien-Smith"}]})})[7])
    ['AB123456C', 'BC1', 'JOSE', 'OBRIEN', 'SMITH', 'SW1A1AA']
    """
    identifiers: list[tuple[Any, str]] = []
    names: list[tuple[Any, str]] = []
    for key, (subject_ref, records) in subjects.items():
        rows = [row for table, _ in _CLAIM_TABLES for row in records.get(table, [])]
        address = records.get("address") or {}
        identifiers += [(key, str(value)) for value in (
            subject_ref, address.get("postcode"),
            *(row.get(column) for row in rows for column in (*_REFERENCE_COLUMNS, *_IDENTIFIER_COLUMNS)))
            if value]
        names += [(key, str(row[column])) for row in rows for column in _NAME_COLUMNS if row.get(column)]
    terms: dict[Any, set[str]] = {key: set() for key in subjects}
    for (key, _), term in zip(identifiers, _normalised(normalise_postcode, [raw for _, raw in identifiers]),
                              strict=True):
        if term:
            terms[key].add(term[:TERM_LENGTH])
    for (key, _), name in zip(names, _normalised(normalise_name, [raw for _, raw in names]), strict=True):
        terms[key].update(word[:TERM_LENGTH] for word in (name or "").split())
    return terms


def index_rows(session: Session, terms_by_case: Mapping[int, set[str]]) -> list[dict[str, Any]]:
    """Drop the index rows of these cases; return the rows of their terms now, for the caller to insert.

    The caller inserts them as it inserts the rest (an import: with one COPY on PostgreSQL).
    """
    case_ids = list(terms_by_case)
    for start in range(0, len(case_ids), 1_000):  # SQLite bounds the parameters of one statement
        session.execute(delete(CaseSearchTerm).where(CaseSearchTerm.case_id.in_(case_ids[start:start + 1_000])))
    return [{"case_id": case_id, "term": term} for case_id, terms in terms_by_case.items() for term in sorted(terms)]


def _matches(term: str) -> Any:
    return Case.id.in_(select(CaseSearchTerm.case_id).where(CaseSearchTerm.term.startswith(term, autoescape=True)))


def find_cases(session: Session, query: str, limit: int = SEARCH_LIMIT) -> tuple[list[Case], bool]:
    """The cases ``query`` finds (see the module docstring), open ones first, then the latest.

    Returns
    -------
    cases, more : list of Case, bool
        Up to ``limit`` cases, and whether the query finds more than that.
    """
    query = query[:QUERY_LIMIT]
    if any(character.isdigit() for character in query):
        words = [word for word in _normalised(normalise_postcode, [query]) if word]
    else:
        words = [word for name in _normalised(normalise_name, [query]) if name for word in name.split()]
    if not words:
        return [], False
    condition = and_(*(_matches(word[:TERM_LENGTH]) for word in words))
    found = session.scalars(select(Case).where(condition).order_by(
        case((Case.status == CLOSED, 1), else_=0), Case.id.desc()).limit(limit + 1)).all()
    return list(found[:limit]), len(found) > limit
