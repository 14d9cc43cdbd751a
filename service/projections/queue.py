"""The moderation queue: pending comments, paged by keyset so page 10,000 is as fast as page 1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import UTCDateTime, metadata
from ..domain.events import (
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
)
from .base import Change, Projection, RowBatch, bulk_insert, delete_keys

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

moderation_queue = sa.Table(
    "moderation_queue",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("submitted_position", Position, nullable=False, unique=True),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("risk", sa.Float(), nullable=False),
    sa.Index(None, "article_id", "submitted_position"),
    sa.Index(None, "risk", "submitted_position"),
)

# Which screening flags each waiting comment carries, so a moderator can work one kind.
queue_flags = sa.Table(
    "moderation_queue_flags",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("code", sa.String(50), primary_key=True),
    sa.Column("submitted_position", Position, nullable=False),
    sa.Index(None, "code", "submitted_position"),
)


class QueueProjection(Projection):
    name = "moderation_queue"
    live_tables = (moderation_queue, queue_flags)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        table, flags = self.tables
        rows = RowBatch(table, "comment_id")
        new_flags: dict[str, list[str]] = {}  # comment -> its latest flag codes
        stale: set[str] = set()  # comments whose stored flag rows must go
        for recorded, event in changes:
            match event:
                case CommentSubmitted():
                    rows.insert(dict(
                        comment_id=event.comment_id, article_id=event.article_id,
                        submitted_position=recorded.position, submitted_at=event.submitted_at,
                        risk=0.0))
                case CommentScreened():
                    rows.update(event.comment_id, risk=event.risk)
                    stale.add(event.comment_id)
                    new_flags[event.comment_id] = sorted({f.code for f in event.flags})
                case CommentApproved() | CommentRejected():
                    rows.delete(event.comment_id)
                    stale.add(event.comment_id)
                    new_flags.pop(event.comment_id, None)
        waiting = {cid: row["submitted_position"] for cid, row in rows.inserts.items()}
        stale -= waiting.keys()
        earlier = [cid for cid in new_flags if cid not in waiting]
        if earlier:
            found = conn.execute(sa.select(table.c.comment_id, table.c.submitted_position)
                                 .where(table.c.comment_id.in_(earlier)))
            waiting.update({r.comment_id: r.submitted_position for r in found})
        rows.flush(conn)
        delete_keys(conn, flags, "comment_id", stale)
        flag_rows = [{"comment_id": cid, "code": code, "submitted_position": waiting[cid]}
                     for cid, codes in new_flags.items() if cid in waiting for code in codes]
        bulk_insert(conn, flags, flag_rows)


SORTS = ("oldest", "newest", "risk")


def queue_page(
    conn: Connection,
    *,
    sort: str = "oldest",
    article_id: str | None = None,
    flag: str | None = None,
    after: int | None = None,
    after_risk: float | None = None,
    limit: int = 50,
    hidden: sa.Select | None = None,
) -> list[dict[str, Any]]:
    """One page of pending comments, by keyset: `after` is the last `submitted_position`
    already seen (and, when sorting by risk, `after_risk` that row's risk). `hidden`
    selects comment ids to leave out (the caller's business, e.g. others' claims)."""
    q = moderation_queue
    query = sa.select(q)
    if hidden is not None:
        query = query.where(q.c.comment_id.not_in(hidden))
    if article_id is not None:
        query = query.where(q.c.article_id == article_id)
    if flag is not None:
        query = query.where(q.c.comment_id.in_(
            sa.select(queue_flags.c.comment_id).where(queue_flags.c.code == flag)))
    if sort == "risk":
        # riskiest first; equal risk newest first, so one index serves it (scanned backwards)
        if after is not None and after_risk is not None:
            query = query.where(sa.or_(
                q.c.risk < after_risk,
                sa.and_(q.c.risk == after_risk, q.c.submitted_position < after)))
        query = query.order_by(q.c.risk.desc(), q.c.submitted_position.desc())
    elif sort == "newest":
        if after is not None:
            query = query.where(q.c.submitted_position < after)
        query = query.order_by(q.c.submitted_position.desc())
    else:
        if after is not None:
            query = query.where(q.c.submitted_position > after)
        query = query.order_by(q.c.submitted_position)
    return [dict(r._mapping) for r in conn.execute(query.limit(limit))]


def count_pending(conn: Connection, *, article_id: str | None = None,
                  flag: str | None = None) -> int:
    q = moderation_queue
    query = sa.select(sa.func.count()).select_from(q)
    if article_id is not None:
        query = query.where(q.c.article_id == article_id)
    if flag is not None:
        query = query.where(q.c.comment_id.in_(
            sa.select(queue_flags.c.comment_id).where(queue_flags.c.code == flag)))
    return int(conn.execute(query).scalar_one())


def oldest_pending(conn: Connection) -> dict[str, Any] | None:
    q = moderation_queue
    row = conn.execute(sa.select(q).order_by(q.c.submitted_position).limit(1)).one_or_none()
    return dict(row._mapping) if row else None
