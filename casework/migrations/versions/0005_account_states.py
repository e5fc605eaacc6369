"""Accounts record their last sign-in, and when an administrator disabled or deleted them.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("last_sign_in_at", sa.DateTime))
        users.add_column(sa.Column("disabled_at", sa.DateTime))
        users.add_column(sa.Column("deleted_at", sa.DateTime))


def downgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.drop_column("deleted_at")
        users.drop_column("disabled_at")
        users.drop_column("last_sign_in_at")
