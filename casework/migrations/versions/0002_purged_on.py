"""Cases record when retention purged what identified their subject.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.add_column(sa.Column("purged_on", sa.Date))


def downgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.drop_column("purged_on")
