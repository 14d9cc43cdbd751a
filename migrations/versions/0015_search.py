"""Search: each comment's text folded for matching, with its filters.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

The read model's checkpoint starts at 0. On a database that already holds events it is
therefore behind the log until it is replayed: `moderation serve` does that before it
starts (or run `moderation projections rebuild`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "comment_search",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("author_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("folded", sa.Text(), nullable=True),
        sa.Column("submitted_position", Position, nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_comment_search")),
    )
    op.create_index(op.f("ix_comment_search_submitted_position"), "comment_search",
                    ["submitted_position"])
    checkpoints = sa.table("projection_checkpoints", sa.column("name"), sa.column("position"))
    op.bulk_insert(checkpoints, [{"name": "search", "position": 0}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM projection_checkpoints WHERE name = 'search'"))
    op.drop_index(op.f("ix_comment_search_submitted_position"), table_name="comment_search")
    op.drop_table("comment_search")
