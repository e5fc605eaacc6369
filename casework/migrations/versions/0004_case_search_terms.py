"""Cases are found by their subject's names, NINOs, references and postcodes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from casework.search import search_terms

    terms = op.create_table(
        "case_search_terms",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("term", sa.String(128), primary_key=True),
    )
    op.create_index("ix_case_search_terms_term", "case_search_terms", ["term"])
    # the cases imported before: indexed from the records their pages show (a purged case has none)
    cases = op.get_bind().execute(sa.text(
        "SELECT cases.id, cases.subject_ref, case_details.records FROM cases "
        "JOIN case_details ON case_details.case_id = cases.id WHERE cases.purged_on IS NULL"))
    found_by = search_terms({case_id: (subject_ref, json.loads(records)) for case_id, subject_ref, records in cases})
    rows = [{"case_id": case_id, "term": term} for case_id, terms in found_by.items() for term in sorted(terms)]
    if rows:
        op.bulk_insert(terms, rows)


def downgrade() -> None:
    op.drop_table("case_search_terms")
