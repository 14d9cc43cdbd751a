"""What readers see: approved comments per article, oldest first. Nothing else ever leaks here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import UTCDateTime, metadata
from ..domain.events import (
    AuthorErased,
    CommentApproved,
    CommentRejected,
    CommentReported,
    CommentReportsDismissed,
    CommentSubmitted,
)
from .base import Change, Projection, RowBatch

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Submissions wait here, unseen, so that approval can publish them without reading another
# projection's tables; the public query reads only rows with `approved_at` set.
public_comments = sa.Table(
    "public_comments",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True),
    sa.Column("author_name", sa.Text(), nullable=True),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("submitted_position", Position, nullable=False),
    sa.Column("approved_at", UTCDateTime(), nullable=True),
    # the author was erased: the comment stays as a placeholder (no name, no text) so
    # replies keep their place in the thread
    sa.Column("erased", sa.Boolean(), nullable=False),
    # enough open reader reports (MODERATION_REPORTS_WITHHOLD_AT): out of the thread until
    # a moderator dismisses them or rejects the comment
    sa.Column("withheld", sa.Boolean(), nullable=False),
    sa.Index(None, "article_id", "submitted_position",
             postgresql_where=sa.text("approved_at IS NOT NULL"),
             sqlite_where=sa.text("approved_at IS NOT NULL")),
)


class PublicThreadProjection(Projection):
    name = "public_threads"
    live_tables = (public_comments,)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        (table,) = self.tables
        rows = RowBatch(table, "comment_id")
        for recorded, event in changes:
            match event:
                case CommentSubmitted():
                    rows.insert(dict(
                        comment_id=event.comment_id, article_id=event.article_id,
                        parent_id=event.parent_id, author_name=event.author_name,
                        body=event.body, submitted_at=event.submitted_at,
                        submitted_position=recorded.position, approved_at=None,
                        erased=False, withheld=False))
                case CommentApproved():
                    rows.update(event.comment_id, approved_at=event.decided_at,
                                withheld=False)
                case CommentReported() if event.withheld:
                    rows.update(event.comment_id, withheld=True)
                case CommentReportsDismissed():
                    rows.update(event.comment_id, withheld=False)
                case CommentRejected():
                    rows.update(event.comment_id, approved_at=None, withheld=False)
                case AuthorErased():
                    for comment_id in event.comment_ids:
                        rows.update(comment_id, author_name=None, body=None, erased=True)
        rows.flush(conn)


def public_thread(
    conn: Connection, article_id: str, *, after: int | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Approved comments of one article, oldest first; `after` is a submitted_position."""
    t = public_comments
    query = (
        sa.select(t.c.comment_id, t.c.article_id, t.c.parent_id, t.c.author_name, t.c.body,
                  t.c.submitted_at, t.c.approved_at, t.c.submitted_position, t.c.erased)
        .where(t.c.article_id == article_id, t.c.approved_at.is_not(None),
               t.c.withheld.is_(False))
        .order_by(t.c.submitted_position)
        .limit(limit)
    )
    if after is not None:
        query = query.where(t.c.submitted_position > after)
    return [dict(r._mapping) for r in conn.execute(query)]
