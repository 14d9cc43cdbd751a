"""Current state of every comment: what a moderator sees when opening one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import JSONDoc, UTCDateTime, metadata
from ..domain.events import (
    AuthorErased,
    CommentApproved,
    CommentRejected,
    CommentReported,
    CommentReportsDismissed,
    CommentScreened,
    CommentSubmitted,
)
from .base import Change, Projection, RowBatch, chunks

comment_state = sa.Table(
    "comment_state",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("parent_id", sa.String(36), nullable=True),
    sa.Column("author_id", sa.String(100), nullable=False),
    sa.Column("author_name", sa.Text(), nullable=True),
    sa.Column("author_email", sa.Text(), nullable=True),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reasons", JSONDoc, nullable=False),
    sa.Column("guideline_version", sa.String(40), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("decided_by", sa.String(100), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("flags", JSONDoc, nullable=False),
    sa.Column("risk", sa.Float(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("last_position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
              nullable=False),
    # the author was erased: name, e-mail, body and screening evidence are null
    sa.Column("erased", sa.Boolean(), nullable=False),
    sa.Index(None, "author_id"),
)


class CommentStateProjection(Projection):
    name = "comment_state"
    live_tables = (comment_state,)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        (table,) = self.tables
        rows = RowBatch(table, "comment_id")
        for recorded, event in changes:
            moved = {"version": recorded.version, "last_position": recorded.position}
            match event:
                case CommentSubmitted():
                    rows.insert(dict(
                        comment_id=event.comment_id, article_id=event.article_id,
                        parent_id=event.parent_id, author_id=event.author_id,
                        author_name=event.author_name, author_email=event.author_email,
                        body=event.body, status="pending", reasons=[],
                        guideline_version=None, note=None, decided_by=None, decided_at=None,
                        submitted_at=event.submitted_at, flags=[], risk=None, erased=False,
                        **moved))
                case CommentScreened():
                    flags = [{"code": f.code, "guideline": f.guideline, "evidence": f.evidence}
                             for f in event.flags]
                    rows.update(event.comment_id, flags=flags, risk=event.risk, **moved)
                case CommentApproved():
                    rows.update(event.comment_id, status="approved", reasons=[],
                                guideline_version=None, note=event.note,
                                decided_by=event.moderator_id, decided_at=event.decided_at,
                                **moved)
                case CommentRejected():
                    rows.update(event.comment_id, status="rejected",
                                reasons=list(event.reasons),
                                guideline_version=event.guideline_version, note=event.note,
                                decided_by=event.moderator_id, decided_at=event.decided_at,
                                **moved)
                case CommentReported() | CommentReportsDismissed():
                    rows.update(event.comment_id, **moved)  # the version If-Match names
                case AuthorErased():
                    rows.flush(conn)  # the erasure applies to everything before it
                    for ids in chunks(sorted(event.comment_ids)):
                        for row in conn.execute(sa.select(table.c.comment_id, table.c.flags)
                                                .where(table.c.comment_id.in_(ids))):
                            rows.update(row.comment_id, author_name=None, author_email=None,
                                        body=None, erased=True,
                                        flags=[{**f, "evidence": None} for f in row.flags])
        rows.flush(conn)


def get_comment(conn: Connection, comment_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(comment_state).where(comment_state.c.comment_id == comment_id)
    ).one_or_none()
    return dict(row._mapping) if row else None


def get_comments(conn: Connection, comment_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not comment_ids:
        return {}
    rows = conn.execute(
        sa.select(comment_state).where(comment_state.c.comment_id.in_(comment_ids))
    )
    return {r.comment_id: dict(r._mapping) for r in rows}


def author_comment_ids(conn: Connection, author_id: str) -> list[str]:
    """The author's comments, oldest first."""
    t = comment_state
    return list(conn.execute(sa.select(t.c.comment_id).where(t.c.author_id == author_id)
                             .order_by(t.c.submitted_at, t.c.comment_id)).scalars())


def author_history(conn: Connection, author_id: str, body: str | None,
                   exclude: str) -> tuple[int, bool]:
    """How many earlier comments the author has, and whether one had exactly this text."""
    t = comment_state
    same = sa.case((t.c.body == body, 1), else_=0) if body is not None else sa.literal(0)
    earlier, repeats = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(same), 0))
        .where(t.c.author_id == author_id, t.c.comment_id != exclude)
    ).one()
    return int(earlier), bool(repeats)
