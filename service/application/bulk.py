"""Bulk decisions: many approvals and rejections in one request, each decided on its own.

Every item is its own command and transaction, with its own version check, exactly as if
sent alone: one item's conflict or refusal leaves the others alone. With an idempotency
key the results so far are kept in each decision's own transaction, so no decision
commits without its result: a retry answers the kept results and appends nothing for
them (they would only conflict with themselves: each names the version it saw), and
decides only the items no earlier attempt reached (one cut short by a database outage).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError

from ..domain.errors import DomainError
from .commands import ApproveComment, Context, RejectComment
from .handlers import Moderation, Recorded
from .idempotency import recall, remember, remember_more, request_fingerprint

log = logging.getLogger(__name__)

MAX_ITEMS = 100
SCOPE = "decisions"


@dataclass(frozen=True)
class BulkItem:
    comment_id: str
    expected_version: int
    action: str  # "approve" or "reject"
    reasons: object = None
    note: object = None


class BulkDecisions:
    def __init__(self, moderation: Moderation):
        self.moderation = moderation

    def decide(self, items: list[BulkItem], ctx: Context, *,
               render: Callable[[DomainError], dict[str, Any]],
               idempotency_key: str | None = None) -> tuple[list[dict[str, Any]], bool]:
        """(one result per item, replayed). `render` turns a refusal into the error body
        the single endpoint would answer."""
        fingerprint = request_fingerprint({"items": [item.__dict__ for item in items],
                                           "actor": ctx.actor.id})
        if idempotency_key is None:
            return [self._one(item, ctx, render) for item in items], False
        with self.moderation.unit_of_work() as uow:
            pseudonym = uow.vault.pseudonym("request", fingerprint)
        kept = self._recall(idempotency_key, pseudonym)
        if kept is not None and len(kept) == len(items):
            return kept, True
        results = list(kept or [])
        recorded = [kept is not None]  # a row to update, or none yet to insert

        def keep(writer: Any, done: Recorded) -> None:  # in the decision's transaction
            so_far = {"results": [*results, _decided(done)]}
            if recorded[0]:
                remember_more(writer, SCOPE, idempotency_key, so_far)
            else:
                remember(writer, SCOPE, idempotency_key, pseudonym, so_far,
                         self.moderation.clock())

        try:
            for item in items[len(results):]:
                results.append(self._one(item, ctx, render, keep))
                recorded[0] = recorded[0] or results[-1]["ok"]
            if results[len(kept or []):] and not results[-1]["ok"]:
                self._keep_refusals(idempotency_key, pseudonym, results, recorded[0])
        except IntegrityError:  # a concurrent attempt kept its results first
            earlier = self._recall(idempotency_key, pseudonym)
            if earlier is not None and len(earlier) == len(items):
                return earlier, True
            raise
        return results, False

    def _keep_refusals(self, key: str, pseudonym: str, results: list[dict[str, Any]],
                       recorded: bool) -> None:
        """The refusals after the last decision, kept on their own: nothing committed
        waits for this, so a database that fails here fails no answer (a retry would
        only be refused again)."""
        try:
            with self.moderation.unit_of_work() as uow:
                if recorded:
                    remember_more(uow.conn, SCOPE, key, {"results": results})
                else:
                    remember(uow.conn, SCOPE, key, pseudonym, {"results": results},
                             self.moderation.clock())
                uow.commit()
        except IntegrityError:
            raise
        except DBAPIError:
            log.warning("bulk decisions: refusals not kept for key %s", key, exc_info=True)

    def _recall(self, key: str, pseudonym: str) -> list[dict[str, Any]] | None:
        with self.moderation.unit_of_work() as uow:
            earlier = recall(uow.conn, SCOPE, key, pseudonym)
        return None if earlier is None else earlier["results"]

    def _one(self, item: BulkItem, ctx: Context,
             render: Callable[[DomainError], dict[str, Any]],
             keep: Callable | None = None) -> dict[str, Any]:
        try:
            if item.action == "approve":
                done = self.moderation.approve(ApproveComment(
                    item.comment_id, item.expected_version, item.note), ctx, within=keep)
            else:
                done = self.moderation.reject(RejectComment(
                    item.comment_id, item.expected_version, item.reasons, item.note), ctx,
                    within=keep)
        except DomainError as exc:
            body = render(exc)
            return {"comment_id": item.comment_id, "ok": False, "status": body["status"],
                    "error": body}
        return _decided(done)


def _decided(done: Recorded) -> dict[str, Any]:
    return {"comment_id": done.id, "ok": True, "status": 200,
            "decision": {"id": done.id, "status": done.status, "version": done.version,
                         "position": done.position,
                         "decided_at": done.at if isinstance(done.at, str)
                         else done.at.isoformat()}}
