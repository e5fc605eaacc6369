"""The case store: runs, cases, their score history and events, accounts, the access log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        sa.Column("run_dir", sa.Text, nullable=False),
        sa.Column("data_dir", sa.Text, nullable=False),
        sa.Column("subjects_scored", sa.Integer, nullable=False),
        sa.Column("work_list_size", sa.Integer, nullable=False),
        sa.Column("control_size", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject_ref", sa.String(64), nullable=False, index=True),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("pseudonym", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("outcome", sa.String(20)),
        sa.Column("closing_note", sa.Text),
        sa.Column("closed_on", sa.Date),
        sa.Column("control", sa.Boolean, nullable=False),
        sa.Column("priority", sa.Float, nullable=False),
        sa.Column("opened_run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("latest_run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("related", sa.Text, nullable=False),
        sa.Column("top_feature", sa.String(64)),
        sa.Column("la_code", sa.String(16)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_cases_run_status_priority", "cases", ["latest_run_id", "status", "priority"])
    op.create_index("ix_cases_run_rank", "cases", ["latest_run_id", "rank"])
    # What a case shows in full, apart from the cases the work list scans
    op.create_table(
        "case_details",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("records", sa.Text, nullable=False),
    )
    op.create_table(
        "case_scores",
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("control", sa.Boolean, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
    )
    op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "access_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    # One row: the number of entries and the hash of the last; appending updates it first, which
    # serialises writers, and it shows a deleted tail.
    head = op.create_table(
        "access_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "entries": 0, "hash": "0" * 64}])
    # The key of pseudonyms and session cookies: made once per store, so every server agrees on it.
    keys = op.create_table(
        "store_keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    op.bulk_insert(keys, [{"name": "secret", "value": secrets.token_hex(32)}])


def downgrade() -> None:
    for table in ("store_keys", "access_head", "access_log", "users", "events", "case_scores", "case_details",
                  "cases",
                  "runs"):
        op.drop_table(table)
