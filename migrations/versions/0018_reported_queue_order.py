"""Reported queue order: each reported comment keeps its risk and submission time, and one
index holds the queue's order, so its pages are keyset ranges instead of offsets.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

The new columns are filled from comment_state, where the reports read model now copies
them from when a comment is first reported (risk 0 for one never screened): no replay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
INDEX = "ix_reported_comments_queue_order"


def upgrade() -> None:
    with op.batch_alter_table("reported_comments") as batch:
        batch.add_column(sa.Column("risk", sa.Float(), nullable=True))
        batch.add_column(sa.Column("submitted_at", UTC, nullable=True))
    op.execute(sa.text(
        "UPDATE reported_comments SET "
        "risk = COALESCE((SELECT c.risk FROM comment_state c "
        "WHERE c.comment_id = reported_comments.comment_id), 0), "
        "submitted_at = COALESCE((SELECT c.submitted_at FROM comment_state c "
        "WHERE c.comment_id = reported_comments.comment_id), last_reported_at)"))
    with op.batch_alter_table("reported_comments") as batch:
        batch.alter_column("risk", existing_type=sa.Float(), nullable=False)
        batch.alter_column("submitted_at", existing_type=UTC, nullable=False)
    op.create_index(INDEX, "reported_comments", [sa.text("open_reports DESC"),
                                                 sa.text("risk DESC"), "submitted_at",
                                                 "comment_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="reported_comments")
    with op.batch_alter_table("reported_comments") as batch:
        batch.drop_column("submitted_at")
        batch.drop_column("risk")
