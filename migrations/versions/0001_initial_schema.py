"""Initial schema: the event log, its head row, personal-data keys and the read models.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)

PG_APPEND_ONLY = """
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only: % refused', TG_OP
    USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
"""
SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END""",
    """CREATE TRIGGER events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END""",
]
PROJECTIONS = ("comment_state", "moderation_queue", "public_threads", "articles",
               "moderator_daily")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("position", Position, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("schema_version", sa.SmallInteger(), nullable=False),
        sa.Column("data", JSONDoc, nullable=False),
        sa.Column("metadata", JSONDoc, nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.CheckConstraint("position >= 1", name=op.f("ck_events_position_positive")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_events_version_positive")),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
        sa.UniqueConstraint("stream_id", "version", name=op.f("uq_events_stream_id_version")),
    )
    op.create_index(op.f("ix_events_recorded_at"), "events", ["recorded_at"])
    op.create_index(op.f("ix_events_type_position"), "events", ["type", "position"])
    op.create_table(
        "event_store_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("last_position", Position, nullable=False),
        sa.Column("last_recorded_at", UTC, nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_event_store_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_store_head")),
    )
    op.execute("INSERT INTO event_store_head (id, last_position) VALUES (1, 0)")
    op.create_table(
        "subject_keys",
        sa.Column("subject_id", sa.String(100), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject_keys")),
    )
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("pseudonym_key", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_installation_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.bulk_insert(installation, [{"id": 1, "pseudonym_key": os.urandom(32)}])
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(100), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("result", JSONDoc, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    _create_read_models()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND_ONLY)
    else:
        for statement in SQLITE_APPEND_ONLY:
            op.execute(statement)


def _create_read_models() -> None:
    checkpoints = op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", Position, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projection_checkpoints")),
    )
    op.bulk_insert(checkpoints, [{"name": name, "position": 0} for name in PROJECTIONS])
    op.create_table(
        "comment_state",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("author_id", sa.String(100), nullable=False),
        sa.Column("author_name", sa.Text(), nullable=True),
        sa.Column("author_email", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reasons", JSONDoc, nullable=False),
        sa.Column("guideline_version", sa.String(40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("flags", JSONDoc, nullable=False),
        sa.Column("risk", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_position", Position, nullable=False),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_comment_state")),
    )
    op.create_index(op.f("ix_comment_state_author_id"), "comment_state", ["author_id"])
    op.create_table(
        "moderation_queue",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("submitted_position", Position, nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_moderation_queue")),
        sa.UniqueConstraint("submitted_position",
                            name=op.f("uq_moderation_queue_submitted_position")),
    )
    op.create_index(op.f("ix_moderation_queue_article_id_submitted_position"),
                    "moderation_queue", ["article_id", "submitted_position"])
    op.create_index(op.f("ix_moderation_queue_risk_submitted_position"),
                    "moderation_queue", ["risk", "submitted_position"])
    op.create_table(
        "moderation_queue_flags",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("submitted_position", Position, nullable=False),
        sa.PrimaryKeyConstraint("comment_id", "code", name=op.f("pk_moderation_queue_flags")),
    )
    op.create_index(op.f("ix_moderation_queue_flags_code_submitted_position"),
                    "moderation_queue_flags", ["code", "submitted_position"])
    op.create_table(
        "public_comments",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("parent_id", sa.String(36), nullable=True),
        sa.Column("author_name", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("submitted_position", Position, nullable=False),
        sa.Column("approved_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_public_comments")),
    )
    op.create_index(
        op.f("ix_public_comments_article_id_submitted_position"), "public_comments",
        ["article_id", "submitted_position"],
        postgresql_where=sa.text("approved_at IS NOT NULL"),
        sqlite_where=sa.text("approved_at IS NOT NULL"),
    )
    op.create_table(
        "articles",
        sa.Column("article_id", sa.String(100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("language", sa.String(20), nullable=True),
        sa.Column("published_at", UTC, nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("registered_at", UTC, nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_articles")),
    )
    op.create_table(
        "moderator_daily",
        sa.Column("moderator_id", sa.String(100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("approved", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("reversals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("moderator_id", "day", name=op.f("pk_moderator_daily")),
    )


def downgrade() -> None:
    for table in ("moderator_daily", "articles", "public_comments", "moderation_queue",
                  "moderation_queue_flags", "comment_state", "projection_checkpoints",
                  "idempotency_keys", "installation", "subject_keys", "event_store_head",
                  "events"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
