"""Administrative actions also list address sweeps and author sanctions and notes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Events of those types already in the log are copied into `admin_actions`, exactly as a
replay would write them; the read model's checkpoint does not move.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)
TYPES = ("addresses.swept", "author.warned", "author.suspended", "author.banned",
         "author.sanction_lifted", "author.noted")
PAGE = 2000

events = sa.table(
    "events",
    sa.column("position", Position), sa.column("stream_id", sa.String()),
    sa.column("type", sa.String()), sa.column("data", JSONDoc),
    sa.column("metadata", JSONDoc), sa.column("recorded_at", UTC),
)
actions = sa.table(
    "admin_actions",
    sa.column("position", Position), sa.column("type", sa.String()),
    sa.column("stream_id", sa.String()), sa.column("actor_id", sa.String()),
    sa.column("actor_role", sa.String()), sa.column("recorded_at", UTC),
    sa.column("data", JSONDoc),
)


def upgrade() -> None:
    conn = op.get_bind()
    after = 0
    while True:
        page = conn.execute(
            sa.select(events.c.position, events.c.stream_id, events.c.type, events.c.data,
                      events.c.metadata, events.c.recorded_at)
            .where(events.c.type.in_(TYPES), events.c.position > after)
            .order_by(events.c.position).limit(PAGE)).all()
        if not page:
            return
        rows = []
        for position, stream_id, type_, data, meta, recorded_at in page:
            actor = (meta or {}).get("actor") or {}
            rows.append({
                "position": position, "type": type_, "stream_id": stream_id,
                "actor_id": str(actor.get("id") or "unknown")[:100],
                "actor_role": str(actor.get("role") or "unknown")[:20],
                "recorded_at": recorded_at, "data": data,
            })
        conn.execute(actions.insert(), rows)
        after = page[-1][0]


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(actions.delete().where(actions.c.type.in_(TYPES)))
