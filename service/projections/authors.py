"""Authors as moderators see them: each author's comments by status, first and last seen,
and their current sanction; and which comments are whose, newest first.

No personal data here (no names, no notes): names are read from `comment_state` and notes
from the author's own sealed stream, so erasing an author leaves nothing of them in these
tables to purge. Every event on an author's stream moves the author's `version`, whatever
its kind, so the version here is the one If-Match names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import DeferredWrites, LockedRead, UTCDateTime, metadata
from ..domain.events import (
    AuthorBanned,
    AuthorNoted,
    AuthorSanctionLifted,
    AuthorSuspended,
    AuthorWarned,
    CommentApproved,
    CommentRejected,
    CommentSubmitted,
)
from ..domain.sanctions import BANNED, SUSPENDED, current_sanction
from .base import (
    Change,
    HeldRows,
    Projection,
    RowBatch,
    bulk_insert,
    rows_by_keys,
    update_statement,
)
from .comments import comment_state

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AUTHOR_STREAM_PREFIX = "author-"

author_standing = sa.Table(
    "author_standing",
    metadata,
    sa.Column("author_id", sa.String(100), primary_key=True),
    sa.Column("first_seen_at", UTCDateTime(), nullable=True),
    sa.Column("last_seen_at", UTCDateTime(), nullable=True),
    sa.Column("pending", sa.Integer(), nullable=False),
    sa.Column("approved", sa.Integer(), nullable=False),
    sa.Column("rejected", sa.Integer(), nullable=False),
    sa.Column("warnings", sa.Integer(), nullable=False),
    sa.Column("notes", sa.Integer(), nullable=False),
    sa.Column("sanction", sa.String(20), nullable=True),
    sa.Column("sanction_until", UTCDateTime(), nullable=True),
    sa.Column("sanction_reason", sa.String(100), nullable=True),
    sa.Column("sanctioned_at", UTCDateTime(), nullable=True),
    sa.Column("sanctioned_by", sa.String(100), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
)

author_comments = sa.Table(
    "author_comments",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("author_id", sa.String(100), nullable=False),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("submitted_position", Position, nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.Index(None, "author_id", "submitted_position"),
    # "rejected in the last 7 days" on every queue card: a range of this index, not a walk
    # through all of a prolific author's comments
    sa.Index(None, "author_id", "status", "decided_at"),
)

RECENT = timedelta(days=7)  # "rejected_last_7_days"
_COUNTS = ("pending", "approved", "rejected", "warnings", "notes")


def empty_standing(author_id: str) -> dict[str, Any]:
    return {"author_id": author_id, "first_seen_at": None, "last_seen_at": None,
            **dict.fromkeys(_COUNTS, 0), "sanction": None, "sanction_until": None,
            "sanction_reason": None, "sanctioned_at": None, "sanctioned_by": None,
            "version": 0}


class AuthorProjection(Projection):
    name = "authors"
    live_tables = (author_standing, author_comments)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        if isinstance(conn, DeferredWrites) and self._apply_inline(conn, changes):
            return
        standing, whose = self.tables
        comments = RowBatch(whose, "comment_id")
        # whose comment each decision is about: this batch's submissions, else stored rows
        author_of = {e.comment_id: e.author_id for _, e in changes
                     if isinstance(e, CommentSubmitted)}
        unknown = sorted({e.comment_id for _, e in changes
                          if isinstance(e, CommentApproved | CommentRejected)}
                         - author_of.keys())
        if unknown:
            author_of.update(rows_by_keys(conn, whose, "comment_id", unknown,
                                          ("comment_id", "author_id")))
        wanted = set(author_of.values()) | {
            r.stream_id for r, _ in changes if r.stream_id.startswith(AUTHOR_STREAM_PREFIX)}
        rows: dict[str, dict[str, Any]] = {}
        if self.replay:  # every author's row held across the replay's batches
            held = self._held
            if held is None:
                held = self._held = HeldRows(standing, ["author_id"])
            held.load(conn, wanted)

            def author(author_id: str) -> dict[str, Any]:
                row = held.get(author_id)
                return row if row is not None else held.add(empty_standing(author_id))
        else:
            if wanted:
                for row in rows_by_keys(conn, standing, "author_id", wanted):
                    rows[row.author_id] = dict(row._mapping)

            def author(author_id: str) -> dict[str, Any]:
                return rows.setdefault(author_id, empty_standing(author_id))
        stored = set(rows)

        for recorded, event in changes:
            if recorded.stream_id.startswith(AUTHOR_STREAM_PREFIX):
                author(recorded.stream_id)["version"] = recorded.version
            match event:
                case CommentSubmitted():
                    row = author(event.author_id)
                    row["pending"] += 1
                    row["first_seen_at"] = row["first_seen_at"] or event.submitted_at
                    row["last_seen_at"] = event.submitted_at
                    comments.insert(dict(
                        comment_id=event.comment_id, author_id=event.author_id,
                        article_id=event.article_id, status="pending",
                        submitted_position=recorded.position, decided_at=None))
                case CommentApproved() | CommentRejected():
                    status = "approved" if isinstance(event, CommentApproved) else "rejected"
                    if event.comment_id in author_of:
                        row = author(author_of[event.comment_id])
                        row[event.previous_status] -= 1
                        row[status] += 1
                    comments.update(event.comment_id, status=status,
                                    decided_at=event.decided_at)
                case AuthorWarned():
                    author(event.author_id)["warnings"] += 1
                case AuthorNoted():
                    author(event.author_id)["notes"] += 1
                case AuthorSuspended():
                    _sanction(author(event.author_id), SUSPENDED, event.until, event.reason,
                              event.suspended_at, event.moderator_id)
                case AuthorBanned():
                    _sanction(author(event.author_id), BANNED, None, event.reason,
                              event.banned_at, event.moderator_id)
                case AuthorSanctionLifted():
                    _sanction(author(event.author_id), None, None, None, None, None)
        comments.flush(conn)
        if self.replay:
            held.bound(conn)
            return
        bulk_insert(conn, standing, [r for a, r in rows.items() if a not in stored])
        updates = [{"_key": a, **{f"_{k}": v for k, v in r.items() if k != "author_id"}}
                   for a, r in rows.items() if a in stored]
        if updates:
            names = tuple(c.name for c in standing.columns if c.name != "author_id")
            conn.execute(update_statement(standing, "author_id", names), updates)

    _held: HeldRows | None = None

    def flush(self, conn: Connection) -> None:
        if self._held is not None:
            self._held.flush(conn)

    def _apply_inline(self, conn: DeferredWrites, changes: Sequence[Change]) -> bool:
        """One command's events written without reading a row under the log's lock: the
        counts move by increments (an upsert for a submission, an update of the comment's
        author for a decision), so nothing need be read first. False, having written
        nothing, for what it does not cover (events of author streams, a decision on a
        comment submitted in the same batch): the general path does those."""
        standing, whose = self.tables
        submitted: dict[str, list[Any]] = {}  # author -> [count, first, last]
        decided: list[Any] = []
        mine: set[str] = set()
        for recorded, event in changes:
            if recorded.stream_id.startswith(AUTHOR_STREAM_PREFIX) or isinstance(
                    event, AuthorWarned | AuthorNoted | AuthorSuspended | AuthorBanned
                    | AuthorSanctionLifted):
                return False
            if isinstance(event, CommentSubmitted):
                mine.add(event.comment_id)
                seen = submitted.setdefault(event.author_id, [0, event.submitted_at, None])
                seen[0] += 1
                seen[2] = event.submitted_at
            elif isinstance(event, CommentApproved | CommentRejected):
                if event.comment_id in mine:
                    return False
                decided.append(event)
        if len({e.comment_id for e in decided}) != len(decided):
            return False
        comments = RowBatch(whose, "comment_id")
        for recorded, event in changes:
            if isinstance(event, CommentSubmitted):
                comments.insert(dict(
                    comment_id=event.comment_id, author_id=event.author_id,
                    article_id=event.article_id, status="pending",
                    submitted_position=recorded.position, decided_at=None))
        for author_id, (count, first, last) in submitted.items():
            conn.execute(_statement(("author_seen", standing, conn.dialect.name)), {
                **empty_standing(author_id), "pending": count, "first_seen_at": first,
                "last_seen_at": last})
        for event in decided:
            status = "approved" if isinstance(event, CommentApproved) else "rejected"
            if event.previous_status != status:
                conn.execute(_statement(("author_moved", standing, whose,
                                         event.previous_status, status)),
                             {"comment_id": event.comment_id})
            comments.update(event.comment_id, status=status, decided_at=event.decided_at)
        comments.flush(conn)
        return True


def _seen_upsert(standing: sa.Table, dialect: str) -> Any:
    """A submission: the author's row created, or its pending count moved up."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(standing).values(
        {c.name: sa.bindparam(c.name, type_=c.type) for c in standing.columns})
    return statement.on_conflict_do_update(
        index_elements=["author_id"],
        set_={"pending": standing.c.pending + statement.excluded.pending,
              "first_seen_at": sa.func.coalesce(standing.c.first_seen_at,
                                                statement.excluded.first_seen_at),
              "last_seen_at": statement.excluded.last_seen_at})


def _moved(standing: sa.Table, whose: sa.Table, before: str, after: str) -> Any:
    """A decision: one count of the comment's author down, another up."""
    author = sa.select(whose.c.author_id).where(
        whose.c.comment_id == sa.bindparam("comment_id")).scalar_subquery()
    return standing.update().where(standing.c.author_id == author).values(
        {before: standing.c[before] - 1, after: standing.c[after] + 1})


_INLINE: dict[tuple, Any] = {}


def _statement(shape: tuple) -> Any:
    found = _INLINE.get(shape)
    if found is None:
        kind, *rest = shape
        found = _seen_upsert(*rest) if kind == "author_seen" else _moved(*rest)
        if len(_INLINE) > 256:
            _INLINE.clear()
        _INLINE[shape] = found
    return found


def _sanction(row: dict[str, Any], kind: str | None, until: datetime | None,
              reason: str | None, at: datetime | None, by: str | None) -> None:
    row.update(sanction=kind, sanction_until=until, sanction_reason=reason,
               sanctioned_at=at, sanctioned_by=by)


# -- reads ------------------------------------------------------------------------------

def get_standing(conn: Connection, author_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(author_standing)
                       .where(author_standing.c.author_id == author_id)).one_or_none()
    return dict(row._mapping) if row else None


def standings(conn: Connection, author_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    ids = sorted(set(author_ids))
    if not ids:
        return {}
    rows = conn.execute(sa.select(author_standing)
                        .where(author_standing.c.author_id.in_(ids)))
    return {r.author_id: dict(r._mapping) for r in rows}


def rejected_since(conn: Connection, author_ids: Sequence[str],
                   since: datetime) -> dict[str, int]:
    """How many of each author's comments were rejected (as they stand now) since then."""
    ids = sorted(set(author_ids))
    if not ids:
        return {}
    t = author_comments
    rows = conn.execute(
        sa.select(t.c.author_id, sa.func.count())
        .where(t.c.author_id.in_(ids), t.c.status == "rejected",
               t.c.decided_at >= sa.literal(since, UTCDateTime()))
        .group_by(t.c.author_id))
    return {r[0]: int(r[1]) for r in rows}


def pending_comment_ids(conn: Connection, author_id: str) -> list[str]:
    t = author_comments
    return list(conn.execute(
        sa.select(t.c.comment_id).where(t.c.author_id == author_id, t.c.status == "pending")
        .order_by(t.c.submitted_position)).scalars())


def names_used(conn: Connection, author_id: str) -> list[str]:
    """The display names an author has signed with (from comment_state, which erasure
    purges), most recent first."""
    t = comment_state
    rows = conn.execute(
        sa.select(t.c.author_name, sa.func.max(t.c.submitted_at).label("last"))
        .where(t.c.author_id == author_id, t.c.author_name.is_not(None))
        .group_by(t.c.author_name).order_by(sa.desc("last"), t.c.author_name))
    return [r.author_name for r in rows]


def comments_page(conn: Connection, author_id: str, *, before: int | None,
                  limit: int) -> list[dict[str, Any]]:
    """An author's comments, newest first, any status: keyset on the submission's
    position (`before` is the last one already seen)."""
    t = author_comments
    query = (sa.select(comment_state, t.c.submitted_position)
             .join(comment_state, comment_state.c.comment_id == t.c.comment_id)
             .where(t.c.author_id == author_id))
    if before is not None:
        query = query.where(t.c.submitted_position < before)
    query = query.order_by(t.c.submitted_position.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]


def submission_gate(conn: Connection, article_id: str,
                    author_id: str) -> tuple[Any, Any]:
    """In one statement: the article's (closed, closed_message, published_at, version) and the
    author's (sanction, sanction_until), either None when there is no row."""
    read = gate_read(article_id, author_id)
    return gate_answer(conn.execute(read.statement, read.params).one())


def gate_read(article_id: str, author_id: str) -> LockedRead:
    """The gate as a read to answer under the log's head lock (see `gate_answer`)."""
    return LockedRead(_gate(), {"article_id": article_id, "author_id": author_id})


def gate_answer(row: Any) -> tuple[Any, Any]:
    """What `submission_gate` returns, from the gate's row."""
    article = None if row.closed is None else (bool(row.closed), row.closed_message,
                                               row.published_at, row.article_version)
    return article, (row.sanction, row.until)


_GATE: list[sa.Select] = []


def _gate() -> sa.Select:
    """The gate's statement, built once (it runs in every submission)."""
    if not _GATE:
        from .articles import articles

        a, s = articles, author_standing
        article = a.c.article_id == sa.bindparam("article_id")
        author = s.c.author_id == sa.bindparam("author_id")
        _GATE.append(sa.select(
            sa.select(a.c.closed).where(article).scalar_subquery().label("closed"),
            sa.select(a.c.closed_message).where(article).scalar_subquery()
            .label("closed_message"),
            sa.select(a.c.published_at).where(article).scalar_subquery()
            .label("published_at"),
            sa.select(a.c.version).where(article).scalar_subquery()
            .label("article_version"),
            sa.select(s.c.sanction).where(author).scalar_subquery().label("sanction"),
            sa.select(s.c.sanction_until).where(author).scalar_subquery().label("until"),
        ))
    return _GATE[0]


def summary(row: dict[str, Any], now: datetime, recent_rejections: int) -> dict[str, Any]:
    """An author's counts and live sanction, as the queue and the profile show them."""
    decided = row["approved"] + row["rejected"]
    live = current_sanction(row["sanction"], row["sanction_until"], now)
    return {
        "author_id": row["author_id"],
        "counts": {"pending": row["pending"], "approved": row["approved"],
                   "rejected": row["rejected"],
                   "total": row["pending"] + row["approved"] + row["rejected"]},
        "rejection_rate": round(row["rejected"] / decided, 4) if decided else None,
        "rejected_last_7_days": recent_rejections,
        "warnings": row["warnings"],
        "sanction": None if live is None else {
            "type": live, "until": row["sanction_until"], "reason": row["sanction_reason"],
            "since": row["sanctioned_at"], "by": row["sanctioned_by"]},
    }


def summaries(conn: Any, author_ids: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    rows = standings(conn, author_ids)
    recent = rejected_since(conn, list(rows), now - RECENT)
    return {a: summary(r, now, recent.get(a, 0)) for a, r in rows.items()}
