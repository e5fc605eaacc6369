"""A closing whose outcome needs four eyes records who confirmed it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # fraud outcomes closed before this revision await confirmation too: no second person confirmed them
    with op.batch_alter_table("cases") as cases:
        cases.add_column(sa.Column("confirmed_by", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.drop_column("confirmed_by")
