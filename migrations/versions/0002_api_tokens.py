"""API tokens and the decision log read model.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

The decision log's checkpoint starts at 0. On a database that already holds events the new
read model is therefore behind the log until it is replayed: `moderation serve` does that
before it starts (or run `moderation projections rebuild`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)
PROJECTION = "decision_log"


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(12), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.CheckConstraint("role IN ('moderator', 'auditor', 'admin')",
                           name=op.f("ck_api_tokens_role_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "decision_log",
        sa.Column("position", Position, autoincrement=False, nullable=False),
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("moderator_id", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("previous_status", sa.String(20), nullable=False),
        sa.Column("reasons", JSONDoc, nullable=False),
        sa.Column("guideline_version", sa.String(40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_at", UTC, nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("seconds_to_decision", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_decision_log")),
    )
    op.create_index(op.f("ix_decision_log_moderator_id_position"), "decision_log",
                    ["moderator_id", "position"])
    op.create_index(op.f("ix_decision_log_article_id_position"), "decision_log",
                    ["article_id", "position"])
    op.create_index(op.f("ix_decision_log_comment_id_position"), "decision_log",
                    ["comment_id", "position"])
    op.create_index(op.f("ix_decision_log_decided_at"), "decision_log", ["decided_at"])
    op.create_table(
        "decision_reasons",
        sa.Column("position", Position, autoincrement=False, nullable=False),
        sa.Column("ordinal", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("position", "ordinal", name=op.f("pk_decision_reasons")),
    )
    op.create_index(op.f("ix_decision_reasons_reason_position"), "decision_reasons",
                    ["reason", "position"])
    op.create_table(
        "decision_log_submissions",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_decision_log_submissions")),
    )
    checkpoints = sa.table("projection_checkpoints", sa.column("name"), sa.column("position"))
    op.bulk_insert(checkpoints, [{"name": PROJECTION, "position": 0}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM projection_checkpoints WHERE name = :name")
               .bindparams(name=PROJECTION))
    for table in ("decision_log_submissions", "decision_reasons", "decision_log",
                  "api_tokens"):
        op.drop_table(table)
