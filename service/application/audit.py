"""Audit reads: the decision log and moderation statistics, for auditors and dashboards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from ..db import read_transaction
from ..domain.events import AUTHOR_EVENTS, AuthorNoted, CommentReported
from ..eventstore import EventStore
from ..projections import admin_actions, articles, decision_log, queue, reports


class AuditQueries:
    def __init__(self, engine: Engine, clock: Callable[[], datetime],
                 store: EventStore | None = None):
        self.engine = engine
        self.clock = clock
        self.store = store or EventStore(clock)

    def decisions(self, *, moderator: str | None = None, reason: str | None = None,
                  article_id: str | None = None, comment_id: str | None = None,
                  decision: str | None = None,
                  since: datetime | None = None, until: datetime | None = None,
                  after: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Decisions in log order, including reversals and report dismissals; `after` is a
        log position."""
        with read_transaction(self.engine) as conn:
            rows = decision_log.decisions(
                conn, moderator=moderator, reason=reason, article_id=article_id,
                comment_id=comment_id, decision=decision, since=since, until=until,
                after=after, limit=limit)
        for row in rows:  # a dismissal keeps the comment as it was: it changes no decision
            row["reversal"] = (row["previous_status"] != "pending"
                               and row["decision"] != decision_log.REPORTS_DISMISSED)
        return rows

    def actions(self, *, actor: str | None = None, type_: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                after: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Administrative actions in log order; `after` is a log position."""
        with read_transaction(self.engine) as conn:
            return admin_actions.actions(conn, actor=actor, type_=type_, since=since,
                                         until=until, after=after, limit=limit)

    def stats(self, *, since: datetime | None = None,
              until: datetime | None = None) -> dict[str, Any]:
        """Queue health now, and decisions made in [since, until)."""
        now = self.clock()
        with read_transaction(self.engine) as conn:
            depth = articles.pending_total(conn)
            oldest = queue.oldest_pending(conn)
            per_moderator = decision_log.counts_by_moderator(conn, since, until)
            per_reason = decision_log.counts_by_reason(conn, since, until)
            count, median, p95 = decision_log.time_to_decision(conn, since, until)
            kinds = [c.TYPE for c in AUTHOR_EVENTS if c is not AuthorNoted]
            counted = self.store.count_by_type(
                conn, types=[CommentReported.TYPE, *kinds], since=since, until=until)
            resolutions = reports.resolution_stats(conn, since, until)
        totals = {"approved": 0, "rejected": 0, "reversals": 0, "total": 0}
        for entry in per_moderator.values():
            for key in totals:
                totals[key] += entry[key]
        return {
            "generated_at": now,
            "since": since,
            "until": until,
            "queue": {
                "depth": depth,
                "oldest_submitted_at": oldest["submitted_at"] if oldest else None,
                "oldest_age_seconds": (
                    max(0.0, (now - oldest["submitted_at"]).total_seconds()) if oldest else None),
            },
            "decisions": totals,
            "decisions_per_reason": per_reason,
            "decisions_per_moderator": per_moderator,
            "time_to_decision": {"count": count, "median_seconds": median,
                                 "p95_seconds": p95},
            "reports": {"received": counted[CommentReported.TYPE], **resolutions},
            "sanctions": {t.removeprefix("author."): counted[t] for t in kinds},
        }
