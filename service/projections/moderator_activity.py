"""Decisions per moderator per day: who carries the load, and how often decisions are reversed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import metadata
from ..domain.events import CommentApproved, CommentRejected
from .base import Change, HeldRows, Projection, add_counts

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

    _held: HeldRows | None = None

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        (table,) = self.tables
        counts: dict[tuple, dict[str, int]] = {}
        for _, event in changes:
            if not isinstance(event, CommentApproved | CommentRejected):
                continue
            row = counts.setdefault((event.moderator_id, event.decided_at.date()), {})
            name = "approved" if isinstance(event, CommentApproved) else "rejected"
            row[name] = row.get(name, 0) + 1
            if event.previous_status != "pending":
                row["reversals"] = row.get("reversals", 0) + 1
        if not self.replay:
            add_counts(conn, table, counts, ["moderator_id", "day"])
            return
        # a replay: every moderator's days held in memory (a few thousand rows a year)
        held = self._held
        if held is None:
            held = self._held = HeldRows(table, ["moderator_id", "day"], whole=True)
        for key, increments in counts.items():
            row = held.get(key) or held.add(dict(
                moderator_id=key[0], day=key[1], approved=0, rejected=0, reversals=0))
            for name, n in increments.items():
                row[name] += n

    def flush(self, conn: Connection) -> None:
        if self._held is not None:
            self._held.flush(conn)


def activity(conn: Connection, since=None, until=None) -> list[dict[str, Any]]:  # noqa: ANN001
    t = moderator_daily
    query = sa.select(t).order_by(t.c.day, t.c.moderator_id)
    if since is not None:
        query = query.where(t.c.day >= since)
    if until is not None:
        query = query.where(t.c.day <= until)
    return [dict(r._mapping) for r in conn.execute(query)]
