"""Decisions per moderator per day: who carries the load, and how often decisions are reversed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import metadata
from ..domain.events import CommentApproved, CommentRejected, DomainEvent
from ..eventstore import RecordedEvent
from .base import Projection, upsert_add

moderator_daily = sa.Table(
    "moderator_daily",
    metadata,
    sa.Column("moderator_id", sa.String(100), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("approved", sa.Integer(), nullable=False),
    sa.Column("rejected", sa.Integer(), nullable=False),
    sa.Column("reversals", sa.Integer(), nullable=False),
)


class ModeratorActivityProjection(Projection):
    name = "moderator_daily"
    live_tables = (moderator_daily,)

    def apply(self, conn: Connection, event: DomainEvent, recorded: RecordedEvent) -> None:
        (table,) = self.tables
        if not isinstance(event, CommentApproved | CommentRejected):
            return
        key = {"moderator_id": event.moderator_id, "day": event.decided_at.date()}
        counts = {"approved" if isinstance(event, CommentApproved) else "rejected": 1}
        if event.previous_status != "pending":
            counts["reversals"] = 1
        upsert_add(conn, table, key, counts)


def activity(conn: Connection, since=None, until=None) -> list[dict[str, Any]]:  # noqa: ANN001
    t = moderator_daily
    query = sa.select(t).order_by(t.c.day, t.c.moderator_id)
    if since is not None:
        query = query.where(t.c.day >= since)
    if until is not None:
        query = query.where(t.c.day <= until)
    return [dict(r._mapping) for r in conn.execute(query)]
