"""Articles, whether they take comments (open or closed, with the closing message), and
their comment counts by status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import UTCDateTime, metadata
from ..domain.events import (
    ArticleClosed,
    ArticleRegistered,
    ArticleReopened,
    CommentApproved,
    CommentRejected,
    CommentSubmitted,
)
from ..eventstore import RecordedEvent
from .base import Change, HeldRows, Projection, RowBatch, add_counts

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("article_id", sa.String(100), primary_key=True),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("url", sa.Text(), nullable=True),
    sa.Column("language", sa.String(20), nullable=True),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Column("summary", sa.Text(), nullable=True),
    sa.Column("registered_at", UTCDateTime(), nullable=False),
    sa.Column("pending", sa.Integer(), nullable=False),
    sa.Column("approved", sa.Integer(), nullable=False),
    sa.Column("rejected", sa.Integer(), nullable=False),
    sa.Column("closed", sa.Boolean(), nullable=False),
    sa.Column("closed_message", sa.Text(), nullable=True),
    sa.Column("closed_at", UTCDateTime(), nullable=True),
    sa.Column("closed_by", sa.String(100), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
)


class ArticleProjection(Projection):
    name = "articles"
    live_tables = (articles,)

    _held: HeldRows | None = None

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        if self.replay:
            self._replay(conn, changes)
            return
        (table,) = self.tables
        rows = RowBatch(table, "article_id")
        counts: dict[tuple, dict[str, int]] = {}
        for recorded, event in changes:
            match event:
                case ArticleRegistered():
                    rows.insert(_registered(recorded, event))
                case ArticleClosed():
                    rows.update(event.article_id, closed=True, closed_message=event.message,
                                closed_at=event.closed_at, closed_by=event.moderator_id,
                                version=recorded.version)
                case ArticleReopened():
                    rows.update(event.article_id, closed=False, closed_message=None,
                                closed_at=None, closed_by=None, version=recorded.version)
                case CommentSubmitted():
                    _bump(counts, event.article_id, pending=1)
                case CommentApproved() | CommentRejected():
                    new = "approved" if isinstance(event, CommentApproved) else "rejected"
                    _bump(counts, event.article_id, **{event.previous_status: -1, new: 1})
        rows.flush(conn)
        add_counts(conn, table, counts, ["article_id"])

    def _replay(self, conn: Connection, changes: Sequence[Change]) -> None:
        """The same changes applied to every article's row held in memory, in log order."""
        (table,) = self.tables
        held = self._held
        if held is None:
            held = self._held = HeldRows(table, ["article_id"])
        held.load(conn, {e.article_id for _, e in changes if hasattr(e, "article_id")})

        def count(article_id: str, **deltas: int) -> None:
            row = held.get(article_id)
            if row is None:  # as `upsert_add` makes a missing row: zeros, then the counts
                row = held.add({"article_id": article_id, **{
                    c.name: 0 for c in table.columns if c.name != "article_id"}})
            for name, delta in deltas.items():
                row[name] += delta

        for recorded, event in changes:
            match event:
                case ArticleRegistered():
                    held.add(_registered(recorded, event))
                case ArticleClosed():
                    if (row := held.get(event.article_id)) is not None:
                        row.update(closed=True, closed_message=event.message,
                                   closed_at=event.closed_at, closed_by=event.moderator_id,
                                   version=recorded.version)
                case ArticleReopened():
                    if (row := held.get(event.article_id)) is not None:
                        row.update(closed=False, closed_message=None, closed_at=None,
                                   closed_by=None, version=recorded.version)
                case CommentSubmitted():
                    count(event.article_id, pending=1)
                case CommentApproved() | CommentRejected():
                    new = "approved" if isinstance(event, CommentApproved) else "rejected"
                    count(event.article_id, **{event.previous_status: -1, new: 1})
        held.bound(conn)

    def flush(self, conn: Connection) -> None:
        if self._held is not None:
            self._held.flush(conn)


def _bump(counts: dict[tuple, dict[str, int]], article_id: str, **deltas: int) -> None:
    row = counts.setdefault((article_id,), {})
    for name, delta in deltas.items():
        row[name] = row.get(name, 0) + delta


def get_article(conn: Connection, article_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(articles).where(articles.c.article_id == article_id)
    ).one_or_none()
    return dict(row._mapping) if row else None


def pending_total(conn: Connection, article_id: str | None = None) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(articles.c.pending), 0))
    if article_id is not None:
        query = query.where(articles.c.article_id == article_id)
    return int(conn.execute(query).scalar_one())


def _registered(recorded: RecordedEvent, event: ArticleRegistered) -> dict:
    """A newly registered article's row: open, no comments counted yet."""
    return dict(
        article_id=event.article_id, title=event.title, url=event.url,
        language=event.language, published_at=event.published_at,
        summary=event.summary, registered_at=event.registered_at,
        pending=0, approved=0, rejected=0, closed=False, closed_message=None,
        closed_at=None, closed_by=None, version=recorded.version)
