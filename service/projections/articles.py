"""Articles and their comment counts by status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import UTCDateTime, metadata
from ..domain.events import (
    ArticleRegistered,
    CommentApproved,
    CommentRejected,
    CommentSubmitted,
)
from .base import Change, Projection, add_counts, bulk_insert

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
)


class ArticleProjection(Projection):
    name = "articles"
    live_tables = (articles,)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        (table,) = self.tables
        registered = []
        counts: dict[tuple, dict[str, int]] = {}
        for _, event in changes:
            match event:
                case ArticleRegistered():
                    registered.append(dict(
                        article_id=event.article_id, title=event.title, url=event.url,
                        language=event.language, published_at=event.published_at,
                        summary=event.summary, registered_at=event.registered_at,
                        pending=0, approved=0, rejected=0))
                case CommentSubmitted():
                    _bump(counts, event.article_id, pending=1)
                case CommentApproved() | CommentRejected():
                    new = "approved" if isinstance(event, CommentApproved) else "rejected"
                    _bump(counts, event.article_id, **{event.previous_status: -1, new: 1})
        bulk_insert(conn, table, registered)
        add_counts(conn, table, counts, ["article_id"])


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
