"""The event log's tables. Append-only is enforced by triggers created in the migration."""

from __future__ import annotations

import sqlalchemy as sa

from ..db import JSONDoc, UTCDateTime, metadata

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False, unique=True),
    sa.Column("stream_id", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("schema_version", sa.SmallInteger(), nullable=False),
    sa.Column("data", JSONDoc, nullable=False),
    sa.Column("metadata", JSONDoc, nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    # SHA-256 over the previous event's hash and this event as stored (see chain.py)
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
    sa.UniqueConstraint("stream_id", "version"),
    sa.CheckConstraint("version >= 1", name="version_positive"),
    sa.CheckConstraint("position >= 1", name="position_positive"),
    sa.Index(None, "type", "position"),
    sa.Index(None, "recorded_at"),
)

# One row. Every append increments it late in its transaction and holds its lock until
# commit, so positions are handed out in commit order and a rollback burns none.
event_store_head = sa.Table(
    "event_store_head",
    metadata,
    sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("last_position", Position, nullable=False),
    sa.Column("last_recorded_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("id = 1", name="single_row"),
)

# Per-subject encryption keys: deleting a row makes that subject's personal data in the
# log unreadable without touching a single event (crypto-shredding).
subject_keys = sa.Table(
    "subject_keys",
    metadata,
    sa.Column("subject_id", sa.String(100), primary_key=True),
    sa.Column("key", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

# A secret made when the schema is created; turns e-mail addresses into stable pseudonyms.
installation = sa.Table(
    "installation",
    metadata,
    sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("pseudonym_key", sa.LargeBinary(), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)
