"""Reader reports: the reported queue's read model, and withholding from the public thread.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

No report exists before this revision, so the new tables start empty, every public comment
starts not withheld, and the read model's checkpoint starts at the log's head.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
PROJECTION = "reports"


def upgrade() -> None:
    with op.batch_alter_table("public_comments") as batch:
        batch.add_column(sa.Column("withheld", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "reported_comments",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("open_reports", sa.Integer(), nullable=False),
        sa.Column("total_reports", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTC, nullable=True),
        sa.Column("last_reported_at", UTC, nullable=False),
        sa.Column("withheld", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_reported_comments")),
    )
    op.create_index(op.f("ix_reported_comments_open_reports"), "reported_comments",
                    ["open_reports"])
    op.create_table(
        "report_reasons",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("open_reports", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("comment_id", "reason", name=op.f("pk_report_reasons")),
    )
    op.create_table(
        "comment_reporters",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("reporter", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("comment_id", "reporter", name=op.f("pk_comment_reporters")),
    )
    head = op.get_bind().execute(sa.text(
        "SELECT last_position FROM event_store_head WHERE id = 1")).scalar_one_or_none() or 0
    checkpoints = sa.table("projection_checkpoints", sa.column("name"), sa.column("position"))
    op.bulk_insert(checkpoints, [{"name": PROJECTION, "position": head}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM projection_checkpoints WHERE name = :name")
               .bindparams(name=PROJECTION))
    for table in ("comment_reporters", "report_reasons", "reported_comments"):
        op.drop_table(table)
    with op.batch_alter_table("public_comments") as batch:
        batch.drop_column("withheld")
