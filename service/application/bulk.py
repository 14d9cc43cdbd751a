"""Bulk decisions: many approvals and rejections in one request, each decided on its own.

Every item is its own command and transaction, with its own version check, exactly as if
sent alone: one item's conflict or refusal leaves the others alone. With an idempotency
key the list of results is kept, so a retry answers the same results and appends nothing
(its items would only conflict with themselves anyway: each names the version it saw).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..domain.errors import DomainError
from .commands import ApproveComment, Context, RejectComment
from .handlers import Moderation
from .idempotency import recall, remember, request_fingerprint

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
        if idempotency_key is not None:
            earlier = self._recall(idempotency_key, fingerprint)
            if earlier is not None:
                return earlier, True
        results = [self._one(item, ctx, render) for item in items]
        if idempotency_key is not None:
            try:
                with self.moderation.unit_of_work() as uow:
                    remember(uow.conn, SCOPE, idempotency_key,
                             uow.vault.pseudonym("request", fingerprint),
                             {"results": results}, self.moderation.clock())
                    uow.commit()
            except IntegrityError:  # a concurrent retry kept its results first
                earlier = self._recall(idempotency_key, fingerprint)
                if earlier is not None:
                    return earlier, True
                raise
        return results, False

    def _recall(self, key: str, fingerprint: str) -> list[dict[str, Any]] | None:
        with self.moderation.unit_of_work() as uow:
            earlier = recall(uow.conn, SCOPE, key, uow.vault.pseudonym("request", fingerprint))
        return None if earlier is None else earlier["results"]

    def _one(self, item: BulkItem, ctx: Context,
             render: Callable[[DomainError], dict[str, Any]]) -> dict[str, Any]:
        try:
            if item.action == "approve":
                done = self.moderation.approve(ApproveComment(
                    item.comment_id, item.expected_version, item.note), ctx)
            else:
                done = self.moderation.reject(RejectComment(
                    item.comment_id, item.expected_version, item.reasons, item.note), ctx)
        except DomainError as exc:
            body = render(exc)
            return {"comment_id": item.comment_id, "ok": False, "status": body["status"],
                    "error": body}
        return {"comment_id": done.id, "ok": True, "status": 200,
                "decision": {"id": done.id, "status": done.status, "version": done.version,
                             "position": done.position,
                             "decided_at": done.at if isinstance(done.at, str)
                             else done.at.isoformat()}}
