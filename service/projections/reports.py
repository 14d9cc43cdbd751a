"""Reader reports: which published comments have open reports, how many per reason, and
who (as a keyed hash, never an address) has already reported each comment.

A comment is on the reported queue while it has open reports; a dismissal or a rejection
resolves them (the row stays, with no open reports, and the next report opens it again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import DeferredWrites, UTCDateTime, metadata
from ..domain.events import (
    CommentApproved,
    CommentRejected,
    CommentReported,
    CommentReportsDismissed,
)
from .base import Change, Projection, RowBatch, bulk_insert, rows_by_keys
from .comments import comment_state

reported_comments = sa.Table(
    "reported_comments",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("open_reports", sa.Integer(), nullable=False),
    sa.Column("total_reports", sa.Integer(), nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=True),
    sa.Column("last_reported_at", UTCDateTime(), nullable=False),
    sa.Column("withheld", sa.Boolean(), nullable=False),
    # the comment's risk (0 unscreened) and submission time, copied from comment_state
    # when it is first reported, so the queue's order is one index of this table
    sa.Column("risk", sa.Float(), nullable=False),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Index(None, "open_reports"),
)
# the reported queue's order (most open reports, riskiest, oldest, then id): a page after a
# keyset cursor is a range of this index
sa.Index("ix_reported_comments_queue_order", reported_comments.c.open_reports.desc(),
         reported_comments.c.risk.desc(), reported_comments.c.submitted_at,
         reported_comments.c.comment_id)

report_reasons = sa.Table(
    "report_reasons",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("reason", sa.String(50), primary_key=True),
    sa.Column("open_reports", sa.Integer(), nullable=False),
)

# keyed hashes of the reporters' addresses, only to count each reporter once per comment
comment_reporters = sa.Table(
    "comment_reporters",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("reporter", sa.String(64), primary_key=True),
)


Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# every resolution of open reports, for /v1/stats: how many, how, and how long they waited
report_resolutions = sa.Table(
    "report_resolutions",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=False),
    sa.Column("comment_id", sa.String(36), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # dismissed or rejected
    sa.Column("reports", sa.Integer(), nullable=False),
    sa.Column("resolved_at", UTCDateTime(), nullable=False),
    sa.Column("seconds", sa.Float(), nullable=False),  # from the first open report
    sa.Index(None, "resolved_at"),
)


class ReportProjection(Projection):
    name = "reports"
    live_tables = (reported_comments, report_reasons, comment_reporters, report_resolutions)
    reads = (comment_state,)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._reported: set[str] = set()  # a replay's comments with a report row

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        table, reasons, reporters, resolutions = self.tables
        relevant = [(r, e) for r, e in changes if isinstance(
            e, CommentReported | CommentReportsDismissed | CommentRejected | CommentApproved)]
        if self.replay:
            # a decision changes nothing here for a comment never reported, and a replay
            # knows every comment it has given a row: no lookup for the others
            reported = self._reported
            reported.update(e.comment_id for _, e in relevant
                            if isinstance(e, CommentReported))
            relevant = [(r, e) for r, e in relevant if e.comment_id in reported]
        if not relevant:
            return
        if isinstance(conn, DeferredWrites) and _resolve_inline(conn, self.tables, relevant):
            return
        ids = sorted({e.comment_id for _, e in relevant})
        rows: dict[str, dict[str, Any]] = {}
        counts: dict[tuple[str, str], int] = {}
        rows.update({r.comment_id: dict(r._mapping)
                     for r in rows_by_keys(conn, table, "comment_id", ids)})
        counts.update({(r.comment_id, r.reason): r.open_reports
                       for r in rows_by_keys(conn, reasons, "comment_id", ids)})
        stored, stored_counts = set(rows), dict(counts)
        (state,) = self.sources
        first = sorted({e.comment_id for _, e in relevant
                        if isinstance(e, CommentReported) and e.comment_id not in stored})
        ordering: dict[str, tuple[float, Any]] = {}
        for i in range(0, len(first), 500):
            ordering.update({r.comment_id: (r.risk or 0.0, r.submitted_at) for r in conn.execute(
                sa.select(state.c.comment_id, state.c.risk, state.c.submitted_at)
                .where(state.c.comment_id.in_(first[i:i + 500])))})
        seen: list[dict[str, str]] = []
        resolved: list[dict[str, Any]] = []
        for recorded, event in relevant:
            row = rows.get(event.comment_id)
            if isinstance(event, CommentReported):
                if row is None:
                    risk, submitted_at = ordering.get(event.comment_id,
                                                      (0.0, event.reported_at))
                    row = rows[event.comment_id] = dict(
                        comment_id=event.comment_id, article_id=event.article_id,
                        open_reports=0, total_reports=0, opened_at=None,
                        last_reported_at=event.reported_at, withheld=False, risk=risk,
                        submitted_at=submitted_at)
                row["total_reports"] += 1
                row["last_reported_at"] = event.reported_at
                row["withheld"] = row["withheld"] or event.withheld
                if event.counted:
                    row["open_reports"] += 1
                    row["opened_at"] = row["opened_at"] or event.reported_at
                    key = (event.comment_id, event.reason)
                    counts[key] = counts.get(key, 0) + 1
                    if event.reporter is not None:
                        seen.append({"comment_id": event.comment_id,
                                     "reporter": event.reporter})
            elif row is not None:  # resolved: dismissed, rejected (or approved again)
                if row["open_reports"] and not isinstance(event, CommentApproved):
                    at = event.dismissed_at if isinstance(event, CommentReportsDismissed) \
                        else event.decided_at
                    resolved.append(dict(
                        position=recorded.position, comment_id=event.comment_id,
                        kind="dismissed" if isinstance(event, CommentReportsDismissed)
                        else "rejected", reports=row["open_reports"], resolved_at=at,
                        seconds=max(0.0, (at - row["opened_at"]).total_seconds())))
                row.update(open_reports=0, opened_at=None, withheld=False)
                for key in [k for k in counts if k[0] == event.comment_id]:
                    counts[key] = 0
        batch = RowBatch(table, "comment_id")
        for comment_id, row in rows.items():
            if comment_id in stored:
                batch.update(comment_id, **{k: v for k, v in row.items()
                                            if k != "comment_id"})
            else:
                batch.insert(row)
        batch.flush(conn)
        for key, n in counts.items():
            if key not in stored_counts:
                if n:
                    conn.execute(reasons.insert().values(comment_id=key[0], reason=key[1],
                                                         open_reports=n))
            elif n == 0:
                conn.execute(reasons.delete().where(reasons.c.comment_id == key[0],
                                                    reasons.c.reason == key[1]))
            elif n != stored_counts[key]:
                conn.execute(reasons.update().where(reasons.c.comment_id == key[0],
                                                    reasons.c.reason == key[1])
                             .values(open_reports=n))
        bulk_insert(conn, reporters, seen)
        bulk_insert(conn, resolutions, resolved)


def _resolve_inline(conn: DeferredWrites, tables: tuple[sa.Table, ...],
                    relevant: Sequence[Change]) -> bool:
    """Decisions on comments, each its own, written without reading under the log's lock
    (the usual decision has no reports: nothing to read, three writes that match no row).
    False, having written nothing, when a report or a dismissal is among them."""
    if any(isinstance(e, CommentReported | CommentReportsDismissed) for _, e in relevant) \
            or len({e.comment_id for _, e in relevant}) != len(relevant):
        return False
    table, reasons, _, resolutions = tables
    for recorded, event in relevant:
        key = {"_comment": event.comment_id}
        if isinstance(event, CommentRejected):
            conn.execute(_inline(("resolve", table, resolutions)), {
                **key, "_position": recorded.position, "_at": event.decided_at})
        conn.execute(_inline(("reset", table)), key)
        conn.execute(_inline(("forget", reasons)), key)
    return True


_INLINE: dict[tuple, Any] = {}


def _inline(shape: tuple) -> Any:
    found = _INLINE.get(shape)
    if found is None:
        kind, table, *rest = shape
        comment = table.c.comment_id == sa.bindparam("_comment")
        if kind == "resolve":  # before the reset: how many were open, since when
            (resolutions,) = rest
            at = sa.bindparam("_at", type_=UTCDateTime())
            waited = sa.cast(sa.extract("epoch", at - table.c.opened_at), sa.Float)
            found = resolutions.insert().from_select(
                ["position", "comment_id", "kind", "reports", "resolved_at", "seconds"],
                sa.select(sa.bindparam("_position", type_=Position), table.c.comment_id,
                          sa.literal("rejected"), table.c.open_reports, at,
                          sa.func.greatest(sa.cast(0.0, sa.Float), waited))
                .where(comment, table.c.open_reports > 0))
        elif kind == "reset":
            found = table.update().where(comment).values(
                open_reports=0, opened_at=None, withheld=False)
        else:
            found = table.delete().where(comment)
        if len(_INLINE) > 256:
            _INLINE.clear()
        _INLINE[shape] = found
    return found


def resolution_stats(conn: Connection, since: Any, until: Any) -> dict[str, Any]:
    """Resolutions in [since, until): how many of each kind, and the median wait."""
    t = report_resolutions
    query = sa.select(t.c.kind, t.c.seconds)
    if since is not None:
        query = query.where(t.c.resolved_at >= sa.literal(since, UTCDateTime()))
    if until is not None:
        query = query.where(t.c.resolved_at < sa.literal(until, UTCDateTime()))
    kinds = {"dismissed": 0, "rejected": 0}
    waits = []
    for row in conn.execute(query):
        kinds[row.kind] += 1
        waits.append(row.seconds)
    waits.sort()
    median = None
    if waits:
        mid = len(waits) // 2
        median = waits[mid] if len(waits) % 2 else (waits[mid - 1] + waits[mid]) / 2
    return {"resolved": sum(kinds.values()), **kinds, "median_seconds_to_resolution": median}


def has_reported(conn: Connection, comment_id: str, reporter: str) -> bool:
    t = comment_reporters
    return conn.execute(sa.select(sa.literal(1)).where(
        t.c.comment_id == comment_id, t.c.reporter == reporter)).first() is not None


def reported_page(conn: Connection, *, article_id: str | None,
                  after: tuple[int, float, Any, str] | None,
                  limit: int) -> tuple[list[dict[str, Any]], int]:
    """Comments with open reports: most reports first, then riskiest, then oldest (then by
    id), after the keyset `after` = (open_reports, risk, submitted_at, comment_id) of the
    last row of the previous page. Each row carries its `order_key` for the next cursor."""
    t, c = reported_comments, comment_state
    where = [t.c.open_reports > 0]
    if article_id is not None:
        where.append(t.c.article_id == article_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one()
    if after is not None:
        opened, risk, submitted_at, comment_id = after
        at = sa.literal(submitted_at, UTCDateTime())
        where += [t.c.open_reports <= opened, sa.or_(
            t.c.open_reports < opened,
            sa.and_(t.c.open_reports == opened, sa.or_(
                t.c.risk < risk,
                sa.and_(t.c.risk == risk, sa.or_(
                    t.c.submitted_at > at,
                    sa.and_(t.c.submitted_at == at, t.c.comment_id > comment_id))))))]
    query = (sa.select(c, t.c.open_reports, t.c.total_reports, t.c.opened_at,
                       t.c.last_reported_at, t.c.withheld.label("withheld"),
                       t.c.risk.label("order_risk"), t.c.submitted_at.label("order_at"))
             .join(c, c.c.comment_id == t.c.comment_id).where(*where)
             .order_by(t.c.open_reports.desc(), t.c.risk.desc(), t.c.submitted_at,
                       t.c.comment_id)
             .limit(limit))
    items = []
    for r in conn.execute(query):
        item = dict(r._mapping)
        item["order_key"] = (item["open_reports"], item.pop("order_risk"), item.pop("order_at"),
                             item["comment_id"])
        items.append(item)
    ids = [i["comment_id"] for i in items]
    by_reason: dict[str, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for r in conn.execute(sa.select(report_reasons)
                              .where(report_reasons.c.comment_id.in_(ids))):
            by_reason[r.comment_id][r.reason] = r.open_reports
    for item in items:
        item["reports"] = by_reason[item["comment_id"]]
    return items, int(total)
