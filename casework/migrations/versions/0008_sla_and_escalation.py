"""A case records when it entered its status (its SLA clock), and who escalated it and why.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.add_column(sa.Column("status_since", sa.DateTime))
        cases.add_column(sa.Column("escalated_by", sa.String(64)))
        cases.add_column(sa.Column("escalation_reason", sa.Text))
    # the cases kept before: their clock starts at their latest change of status (every case has one,
    # its import's), else when the run that opened them was imported
    op.execute(
        "UPDATE cases SET status_since = COALESCE("
        "(SELECT MAX(events.at) FROM events WHERE events.case_id = cases.id AND events.field = 'status'), "
        "(SELECT runs.imported_at FROM runs WHERE runs.run_id = cases.opened_run_id))")
    # left nullable in the schema: on SQLite a NOT NULL would rebuild the table the others' keys point to


def downgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.drop_column("escalation_reason")
        cases.drop_column("escalated_by")
        cases.drop_column("status_since")
