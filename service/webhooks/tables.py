"""The webhook tables: endpoints and their secrets, the delivery outbox and its attempts.

One module for all four, as the event store keeps its own: the endpoints' writes cascade to
the deliveries, the outbox reads the endpoints, and neither needs the other's code for it.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..db import JSONDoc, UTCDateTime, metadata
from ..domain.subscriptions import MAX_DESCRIPTION

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(MAX_DESCRIPTION), nullable=False),
    sa.Column("event_types", JSONDoc, nullable=False),
    sa.Column("include_body", sa.Boolean(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_at", UTCDateTime(), nullable=True),
    sa.Column("disabled_reason", sa.String(500), nullable=True),
    # Start of the current run of failed attempts; any success clears it.
    sa.Column("failing_since", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
)

webhook_endpoint_secrets = sa.Table(
    "webhook_endpoint_secrets",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.Integer(),
              sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    sa.Column("secret", sa.String(300), nullable=False),  # wrapped by the master key
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # NULL for the current secret; set when a rotation retires it.
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Index(None, "endpoint_id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("endpoint_id", sa.Integer(),
              sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),  # the webhook-id
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("event_position", Position, nullable=True),  # NULL for pings
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("include_body", sa.Boolean(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),  # automatic attempts made
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("manual_requested_at", UTCDateTime(), nullable=True),
    sa.Column("due_at", UTCDateTime(), nullable=True),
    sa.Column("locked_until", UTCDateTime(), nullable=True),
    sa.Column("lock_token", sa.String(36), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("succeeded_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("endpoint_id", "event_id"),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
    sa.Index(None, "due_at"),
    sa.Index(None, "endpoint_id", "created_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", Id,
              sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # auto or manual
    sa.Column("number", sa.Integer(), nullable=True),  # automatic attempt number; NULL manual
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("duration_ms", sa.Integer(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),  # NULL: no HTTP response
    sa.Column("succeeded", sa.Boolean(), nullable=False),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Column("response_body", sa.Text(), nullable=True),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("kind IN ('auto', 'manual')", name="kind_known"),
    sa.Index(None, "delivery_id", "id"),
)
