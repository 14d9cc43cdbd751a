"""Report resolutions: when and how each comment's open reports were resolved, for
/v1/stats (resolved, dismissed, rejected, median time from report to resolution).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

On a database that already holds events the reports read model's checkpoint is set back to
0, so it is replayed (with this table) before use: `moderation serve` does that before it
starts (or run `moderation projections rebuild`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_resolutions",
        sa.Column("position", Position, autoincrement=False, nullable=False),
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("resolved_at", UTC, nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_report_resolutions")),
    )
    op.create_index(op.f("ix_report_resolutions_resolved_at"), "report_resolutions",
                    ["resolved_at"])
    op.execute(sa.text("UPDATE projection_checkpoints SET position = 0 "
                       "WHERE name = 'reports' AND EXISTS (SELECT 1 FROM events WHERE "
                       "type IN ('comment.reports_dismissed', 'comment.rejected'))"))


def downgrade() -> None:
    op.drop_index(op.f("ix_report_resolutions_resolved_at"), table_name="report_resolutions")
    op.drop_table("report_resolutions")
