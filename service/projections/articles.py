"""Articles and their comment counts by status."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import UTCDateTime, metadata
from ..domain.events import (
    ArticleRegistered,
    CommentApproved,
    CommentRejected,
    CommentSubmitted,
    DomainEvent,
)
from ..eventstore import RecordedEvent
from .base import Projection, upsert_add

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

    def apply(self, conn: Connection, event: DomainEvent, recorded: RecordedEvent) -> None:
        (table,) = self.tables
        match event:
            case ArticleRegistered():
                conn.execute(table.insert().values(
                    article_id=event.article_id, title=event.title, url=event.url,
                    language=event.language, published_at=event.published_at,
                    summary=event.summary, registered_at=event.registered_at,
                    pending=0, approved=0, rejected=0,
                ))
            case CommentSubmitted():
                upsert_add(conn, table, {"article_id": event.article_id}, {"pending": 1})
            case CommentApproved() | CommentRejected():
                new = "approved" if isinstance(event, CommentApproved) else "rejected"
                upsert_add(conn, table, {"article_id": event.article_id},
                           {event.previous_status: -1, new: 1})


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
