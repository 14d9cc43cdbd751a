"""Authors: each author's counts, sanction and comments, the read model behind
GET /v1/authors/{id}, the queue's author column and the refusal of sanctioned authors.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

The read model's checkpoint starts at 0. On a database that already holds events it is
therefore behind the log until it is replayed: `moderation serve` does that before it
starts (or run `moderation projections rebuild`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)
PROJECTION = "authors"


def upgrade() -> None:
    op.create_table(
        "author_standing",
        sa.Column("author_id", sa.String(100), nullable=False),
        sa.Column("first_seen_at", UTC, nullable=True),
        sa.Column("last_seen_at", UTC, nullable=True),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Integer(), nullable=False),
        sa.Column("sanction", sa.String(20), nullable=True),
        sa.Column("sanction_until", UTC, nullable=True),
        sa.Column("sanction_reason", sa.String(100), nullable=True),
        sa.Column("sanctioned_at", UTC, nullable=True),
        sa.Column("sanctioned_by", sa.String(100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("author_id", name=op.f("pk_author_standing")),
    )
    op.create_table(
        "author_comments",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("author_id", sa.String(100), nullable=False),
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("submitted_position", Position, nullable=False),
        sa.Column("decided_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_author_comments")),
    )
    op.create_index(op.f("ix_author_comments_author_id_submitted_position"),
                    "author_comments", ["author_id", "submitted_position"])
    checkpoints = sa.table("projection_checkpoints", sa.column("name"), sa.column("position"))
    op.bulk_insert(checkpoints, [{"name": PROJECTION, "position": 0}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM projection_checkpoints WHERE name = :name")
               .bindparams(name=PROJECTION))
    op.drop_index(op.f("ix_author_comments_author_id_submitted_position"),
                  table_name="author_comments")
    op.drop_table("author_comments")
    op.drop_table("author_standing")
