"""Every administrative action, one row each, for GET /v1/audit/actions.

Registering articles, creating and revoking tokens, and registering, changing, disabling,
deleting and re-keying webhook endpoints are events in the log like any decision; this read
model keeps who did which, when, with the event's stored data (which never holds a token,
a token hash or a secret), indexed by actor and type so an auditor's filters are index
lookups on both databases.

A type added to ADMIN_ACTION_TYPES needs a migration that copies the events of that type
already in the log (as 0009 and 0012 do), so the live table stays what a replay gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import JSONDoc, UTCDateTime, metadata
from ..domain.events import ADMIN_ACTION_TYPES
from .base import Change, Projection, bulk_insert

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

admin_actions = sa.Table(
    "admin_actions",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("stream_id", sa.String(200), nullable=False),
    sa.Column("actor_id", sa.String(100), nullable=False),
    sa.Column("actor_role", sa.String(20), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("data", JSONDoc, nullable=False),
    sa.Index(None, "actor_id", "position"),
    sa.Index(None, "type", "position"),
    sa.Index(None, "recorded_at"),
)

_TYPES = frozenset(ADMIN_ACTION_TYPES)


def action_row(recorded: Any) -> dict[str, Any]:
    """The row for one recorded administrative event (also used by the migration)."""
    actor = (recorded.metadata or {}).get("actor") or {}
    return {
        "position": recorded.position, "type": recorded.type,
        "stream_id": recorded.stream_id,
        "actor_id": str(actor.get("id") or "unknown")[:100],
        "actor_role": str(actor.get("role") or "unknown")[:20],
        "recorded_at": recorded.recorded_at, "data": recorded.data,
    }


class AdminActionsProjection(Projection):
    name = "admin_actions"
    live_tables = (admin_actions,)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        (table,) = self.tables
        bulk_insert(conn, table, [action_row(recorded) for recorded, _ in changes
                                  if recorded.type in _TYPES])


def actions(
    conn: Connection,
    *,
    actor: str | None = None,
    type_: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Actions in log order, filtered; `after` is the last position already seen."""
    t = admin_actions
    query = sa.select(t).order_by(t.c.position).limit(limit)
    if actor is not None:
        query = query.where(t.c.actor_id == actor)
    if type_ is not None:
        query = query.where(t.c.type == type_)
    if since is not None:
        query = query.where(t.c.recorded_at >= since)
    if until is not None:
        query = query.where(t.c.recorded_at < until)
    if after is not None:
        query = query.where(t.c.position > after)
    return [dict(r._mapping) for r in conn.execute(query)]
