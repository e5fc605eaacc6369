"""A closed case records the typology of the fraud or error found.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.add_column(sa.Column("typology", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        cases.drop_column("typology")
