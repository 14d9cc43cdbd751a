"""Every moderation decision, one row each, for audit listings and statistics.

The log keeps what an auditor asks about (who, what, when, which reasons under which
guideline version, and whether it reversed an earlier decision) plus the time from
submission to decision. Submission times are remembered in this projection's own table,
so it never reads another projection's tables. Reasons are also kept one per row in
`decision_reasons`, so filtering by reason is an index lookup on both databases instead of
a JSON search.

A moderator's dismissal of a comment's reports (`comment.reports_dismissed`: it stays
published) is a decision too, of its own type `reports_dismissed`, with no reasons; the
statistics of approvals and rejections (counts, reversals, time to decision) leave it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import DeferredWrites, JSONDoc, UTCDateTime, metadata
from ..domain.events import (
    CommentApproved,
    CommentRejected,
    CommentReportsDismissed,
    CommentSubmitted,
)
from .base import Change, Projection, bulk_insert, chunks, rows_by_keys, split_at_erasures

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

APPROVED, REJECTED, REPORTS_DISMISSED = "approved", "rejected", "reports_dismissed"
DECISION_TYPES = (APPROVED, REJECTED, REPORTS_DISMISSED)
VERDICTS = (APPROVED, REJECTED)  # what the statistics count

decision_log = sa.Table(
    "decision_log",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("comment_id", sa.String(36), nullable=False),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("moderator_id", sa.String(100), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("previous_status", sa.String(20), nullable=False),
    sa.Column("reasons", JSONDoc, nullable=False),
    sa.Column("guideline_version", sa.String(40), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("seconds_to_decision", sa.Float(), nullable=False),
    sa.Column("erased", sa.Boolean(), nullable=False),  # the comment's author was erased
    sa.Index(None, "moderator_id", "position"),
    sa.Index(None, "article_id", "position"),
    sa.Index(None, "comment_id", "position"),
    sa.Index(None, "decided_at"),
)

# One row per reason cited by a decision; `ordinal` keeps the moderator's order and makes
# the key independent of text collation (rebuild comparisons walk keys in order).
decision_reasons = sa.Table(
    "decision_reasons",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("ordinal", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Index(None, "reason", "position"),
)

# When each comment was submitted, remembered for the decisions that follow.
decision_log_submissions = sa.Table(
    "decision_log_submissions",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Column("erased", sa.Boolean(), nullable=False),
)


class DecisionLogProjection(Projection):
    name = "decision_log"
    live_tables = (decision_log, decision_reasons, decision_log_submissions)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        log, _, submissions = self.tables
        for run, erasure in split_at_erasures(changes):
            self._apply_run(conn, run)
            if erasure is not None:
                for ids in chunks(sorted(erasure.comment_ids)):
                    conn.execute(log.update().where(log.c.comment_id.in_(ids))
                                 .values(erased=True))
                    conn.execute(submissions.update()
                                 .where(submissions.c.comment_id.in_(ids))
                                 .values(erased=True))

    def _decided_inline(self, conn: DeferredWrites, decided: list) -> None:
        """One command's decisions: each row takes its comment's submission time from the
        submissions table in the insert itself, so nothing is read under the log's lock.
        A decision on a comment never submitted fails the command, as a read would."""
        log, reasons, submissions = self.tables
        shape = (log, submissions)
        statement = _INLINE.get(shape)
        if statement is None:
            if len(_INLINE) > 64:
                _INLINE.clear()
            statement = _INLINE[shape] = _decided_inline_statement(log, submissions)
        reason_rows = []
        for recorded, event in decided:
            if isinstance(event, CommentReportsDismissed):
                row = dict(decision=REPORTS_DISMISSED, previous_status=APPROVED, reasons=[],
                           guideline_version=None, decided_at=event.dismissed_at)
            else:
                rejected = isinstance(event, CommentRejected)
                codes = list(event.reasons) if rejected else []
                row = dict(decision=REJECTED if rejected else APPROVED,
                           previous_status=event.previous_status, reasons=codes,
                           guideline_version=event.guideline_version if rejected else None,
                           decided_at=event.decided_at)
                reason_rows += [{"position": recorded.position, "ordinal": i, "reason": code}
                                for i, code in enumerate(codes)]
            # a decision on a comment never submitted fails, as the general path's lookup
            conn.execute_expecting(statement, {f"_{k}": v for k, v in {
                **row, "position": recorded.position, "comment_id": event.comment_id,
                "article_id": event.article_id, "moderator_id": event.moderator_id,
                "note": event.note}.items()}, 1, "decision_log",
                lambda _n, comment_id=event.comment_id: KeyError(comment_id))
        bulk_insert(conn, reasons, reason_rows)

    def _apply_run(self, conn: Connection, changes: Sequence[Change]) -> None:
        log, reasons, submissions = self.tables
        submitted: dict[str, tuple[datetime, bool]] = {}
        decided = []
        for recorded, event in changes:
            if isinstance(event, CommentSubmitted):
                submitted[event.comment_id] = (event.submitted_at, False)
            elif isinstance(event, CommentApproved | CommentRejected | CommentReportsDismissed):
                decided.append((recorded, event))
        bulk_insert(conn, submissions, [
            {"comment_id": cid, "submitted_at": at, "erased": erased}
            for cid, (at, erased) in submitted.items()])
        if not decided:
            return
        if isinstance(conn, DeferredWrites) and not submitted:
            self._decided_inline(conn, decided)
            return
        earlier = sorted({e.comment_id for _, e in decided} - submitted.keys())
        found = rows_by_keys(conn, submissions, "comment_id", earlier,
                             ("comment_id", "submitted_at", "erased"))
        submitted.update({r.comment_id: (r.submitted_at, r.erased) for r in found})
        log_rows, reason_rows = [], []
        for recorded, event in decided:
            submitted_at, erased = submitted[event.comment_id]
            if isinstance(event, CommentReportsDismissed):
                log_rows.append(dict(
                    position=recorded.position, comment_id=event.comment_id,
                    article_id=event.article_id, moderator_id=event.moderator_id,
                    decision=REPORTS_DISMISSED, previous_status=APPROVED, reasons=[],
                    guideline_version=None, note=event.note, decided_at=event.dismissed_at,
                    submitted_at=submitted_at,
                    seconds_to_decision=(event.dismissed_at - submitted_at).total_seconds(),
                    erased=erased,
                ))
                continue
            rejected = isinstance(event, CommentRejected)
            codes = list(event.reasons) if rejected else []
            log_rows.append(dict(
                position=recorded.position, comment_id=event.comment_id,
                article_id=event.article_id, moderator_id=event.moderator_id,
                decision=REJECTED if rejected else APPROVED,
                previous_status=event.previous_status, reasons=codes,
                guideline_version=event.guideline_version if rejected else None,
                note=event.note, decided_at=event.decided_at, submitted_at=submitted_at,
                seconds_to_decision=(event.decided_at - submitted_at).total_seconds(),
                erased=erased,
            ))
            reason_rows += [{"position": recorded.position, "ordinal": i, "reason": code}
                            for i, code in enumerate(codes)]
        bulk_insert(conn, log, log_rows)
        bulk_insert(conn, reasons, reason_rows)


def _decided_inline_statement(log: sa.Table, submissions: sa.Table) -> Any:
    """A decision's row with its comment's submission time and erasure, taken from the
    submissions table in the insert itself (no read under the log's lock)."""
    s = submissions
    names = [c.name for c in log.columns if c.name not in ("submitted_at",
                                                           "seconds_to_decision", "erased")]
    values = [sa.bindparam(f"_{n}", type_=log.c[n].type) for n in names]
    decided_at = next(v for v, n in zip(values, names, strict=True) if n == "decided_at")
    return log.insert().from_select(
        [*names, "submitted_at", "seconds_to_decision", "erased"],
        sa.select(*values, s.c.submitted_at,
                  sa.cast(sa.extract("epoch", decided_at - s.c.submitted_at), sa.Float),
                  s.c.erased).where(s.c.comment_id == sa.bindparam("_comment_id")))


_INLINE: dict[tuple, Any] = {}


def decisions(
    conn: Connection,
    *,
    moderator: str | None = None,
    reason: str | None = None,
    article_id: str | None = None,
    comment_id: str | None = None,
    decision: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Decisions in log order, filtered; `after` is the last position already seen."""
    t = decision_log
    query = sa.select(t).order_by(t.c.position).limit(limit)
    if moderator is not None:
        query = query.where(t.c.moderator_id == moderator)
    if article_id is not None:
        query = query.where(t.c.article_id == article_id)
    if comment_id is not None:
        query = query.where(t.c.comment_id == comment_id)
    if decision is not None:
        query = query.where(t.c.decision == decision)
    if reason is not None:
        r = decision_reasons
        query = query.where(sa.exists().where(r.c.position == t.c.position, r.c.reason == reason))
    if since is not None:
        query = query.where(t.c.decided_at >= since)
    if until is not None:
        query = query.where(t.c.decided_at < until)
    if after is not None:
        query = query.where(t.c.position > after)
    return [dict(r._mapping) for r in conn.execute(query)]


def erased_positions(conn: Connection, positions: Sequence[int]) -> set[int]:
    """Which of these decisions (by log position) are about an erased author's comment."""
    found: set[int] = set()
    for some in chunks(sorted(positions)):
        found.update(conn.execute(
            sa.select(decision_log.c.position)
            .where(decision_log.c.position.in_(some), decision_log.c.erased)).scalars())
    return found


def _window(query: sa.Select, since: datetime | None, until: datetime | None) -> sa.Select:
    t = decision_log
    if since is not None:
        query = query.where(t.c.decided_at >= since)
    if until is not None:
        query = query.where(t.c.decided_at < until)
    return query


def counts_by_moderator(conn: Connection, since: datetime | None,
                        until: datetime | None) -> dict[str, dict[str, int]]:
    t = decision_log
    reversal = sa.case((t.c.previous_status != "pending", 1), else_=0)
    query = _window(
        sa.select(t.c.moderator_id, t.c.decision, sa.func.count().label("n"),
                  sa.func.sum(reversal).label("reversals"))
        .where(t.c.decision.in_(VERDICTS))
        .group_by(t.c.moderator_id, t.c.decision), since, until)
    out: dict[str, dict[str, int]] = {}
    for row in conn.execute(query):
        entry = out.setdefault(row.moderator_id,
                               {"approved": 0, "rejected": 0, "reversals": 0, "total": 0})
        entry[row.decision] += row.n
        entry["reversals"] += int(row.reversals or 0)
        entry["total"] += row.n
    return out


def counts_by_reason(conn: Connection, since: datetime | None,
                     until: datetime | None) -> dict[str, int]:
    t, r = decision_log, decision_reasons
    query = _window(
        sa.select(r.c.reason, sa.func.count().label("n"))
        .select_from(r.join(t, r.c.position == t.c.position))
        .group_by(r.c.reason), since, until)
    return {row.reason: row.n for row in conn.execute(query)}


def time_to_decision(conn: Connection, since: datetime | None,
                     until: datetime | None) -> tuple[int, float | None, float | None]:
    """Count, median and 95th percentile of seconds from submission to first decision.

    Reversals are left out: they measure second thoughts, not how long readers wait.
    Percentiles interpolate linearly between ranks (PostgreSQL's percentile_cont). On
    PostgreSQL they are computed in the database; elsewhere the window's durations are
    fetched and sorted in Python, which is fine for a few million decisions per window
    (8 bytes each) but grows linearly with the window.
    """
    t = decision_log
    first = sa.and_(t.c.previous_status == "pending", t.c.decision.in_(VERDICTS))
    if conn.dialect.name == "postgresql":
        query = _window(sa.select(
            sa.func.count(),
            sa.func.percentile_cont(0.5).within_group(t.c.seconds_to_decision),
            sa.func.percentile_cont(0.95).within_group(t.c.seconds_to_decision),
        ).where(first), since, until)
        n, p50, p95 = conn.execute(query).one()
        return n, p50, p95
    values = sorted(conn.execute(
        _window(sa.select(t.c.seconds_to_decision).where(first), since, until)).scalars())
    return len(values), percentile(values, 0.5), percentile(values, 0.95)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not sorted_values:
        return None
    rank = fraction * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)
