"""Reader reports and their resolution: report (public), dismiss (a moderator).

A report is one transaction: the reporter's keyed hash (never the address) decides whether
it counts, `comment.reported` is appended on the comment's stream with the hash and note
sealed under a key of the report's own, and the projections follow. Retries with the same
Idempotency-Key answer the first result and append nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..domain.events import comment_stream
from ..domain.reports import dismiss_reports, report_comment
from ..eventstore import WrongExpectedVersion
from ..projections import reports as reports_model
from .commands import Context
from .handlers import Moderation, _comment_id
from .idempotency import recall, remember, request_fingerprint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportComment:
    comment_id: str
    reason: object
    note: object = None
    network_address: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class DismissReports:
    comment_id: str
    expected_version: int
    note: object = None


class ReaderReports:
    def __init__(self, moderation: Moderation, withhold_at: int = 0):
        self.moderation = moderation
        self.clock = moderation.clock
        self.catalogue = moderation.catalogue
        self.withhold_at = max(0, withhold_at)

    def report(self, cmd: ReportComment, ctx: Context) -> dict[str, Any]:
        comment_id = _comment_id(cmd.comment_id, "comment_id")
        fingerprint = request_fingerprint({"comment_id": comment_id, "reason": cmd.reason,
                                           "note": cmd.note})
        for attempt in (1, 2, 3):
            try:
                return self._report(comment_id, cmd, ctx, fingerprint)
            except WrongExpectedVersion:  # another report or decision came first: again
                if attempt == 3:
                    raise
            except IntegrityError:  # the same idempotency key raced: answer the winner
                if cmd.idempotency_key is None or attempt == 3:
                    raise
        raise AssertionError("unreachable")

    def _report(self, comment_id: str, cmd: ReportComment, ctx: Context,
                fingerprint: str) -> dict[str, Any]:
        scope = f"report:{comment_id}"
        with self.moderation.unit_of_work() as uow:
            if cmd.idempotency_key is not None:
                fingerprint = uow.vault.pseudonym("request", fingerprint)
                earlier = recall(uow.conn, scope, cmd.idempotency_key, fingerprint)
                if earlier is not None:
                    return {**earlier, "replayed": True}
            comment = uow.load_comment(comment_id)
            reporter = uow.vault.pseudonym("reporter", cmd.network_address) \
                if cmd.network_address else None
            already = reporter is not None and reports_model.has_reported(
                uow.conn, comment_id, reporter)
            subject = "report-" + uuid.uuid4().hex
            uow.vault.mark_new(subject)
            event = report_comment(
                comment, reason=cmd.reason, note=cmd.note, report_subject=subject,
                reporter=reporter, already_counted=already, withhold_at=self.withhold_at,
                now=self.clock(), catalogue=self.catalogue)
            [rec] = uow.record(comment_stream(comment_id), [event], comment.version,
                               ctx.metadata())
            result = {"comment_id": comment_id, "counted": event.counted,
                      "withheld": event.withheld, "version": rec.version,
                      "position": rec.position, "reported_at": event.reported_at.isoformat()}
            if cmd.idempotency_key is not None:
                remember(uow.conn, scope, cmd.idempotency_key, fingerprint, result,
                         self.clock())
            uow.commit()
        log.info("comment %s reported (%s, counted=%s) at position %d", comment_id,
                 event.reason, event.counted, rec.position)
        return {**result, "replayed": False}

    def dismiss(self, cmd: DismissReports, ctx: Context) -> dict[str, Any]:
        comment_id = _comment_id(cmd.comment_id, "comment_id")
        try:
            with self.moderation.unit_of_work() as uow:
                comment = uow.load_comment(comment_id)
                if comment.version != cmd.expected_version:
                    raise self.moderation.version_conflict(comment_id, cmd.expected_version)
                event = dismiss_reports(comment, ctx.actor.id, cmd.note, self.clock())
                [rec] = uow.record(comment_stream(comment_id), [event], comment.version,
                                   ctx.metadata())
                uow.commit()
        except WrongExpectedVersion:
            raise self.moderation.version_conflict(comment_id, cmd.expected_version) from None
        log.info("reports on %s dismissed by %s", comment_id, ctx.actor.id)
        return {"id": comment_id, "status": "approved", "version": rec.version,
                "position": rec.position, "decided_at": datetime.fromisoformat(
                    event.dismissed_at.isoformat()), "dismissed": event.dismissed}
