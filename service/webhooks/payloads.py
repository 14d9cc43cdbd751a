"""What a webhook says: a small, stable `{"type", "timestamp", "data"}` document.

`data` holds ids, the article, the comment's (or article's) status, reasons, the actor and
times: enough to act on, and for anything more a consumer asks the API. Personal data stays
out: no author name, e-mail or network address, no moderator note, no screening evidence
(it quotes the text). `author.erased` names the author id and the comments it covers, so a
subscriber can delete its own copies. The comment body is included only for endpoints that
opted in, and only in `comment.submitted`; it is not stored with the delivery but read from
the event log at send time, so erasing the author (crypto-shredding) erases it from later
sends too (it becomes null).

The body is serialized once, deterministically (sorted keys, compact), and stored; retries
and manual redeliveries send the same bytes with a fresh timestamp and signature.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..domain.events import (
    ArticleClosed,
    ArticleReopened,
    AuditCheckpoint,
    AuthorBanned,
    AuthorErased,
    AuthorNoted,
    AuthorSanctionLifted,
    AuthorSuspended,
    AuthorWarned,
    CommentApproved,
    CommentRejected,
    CommentReported,
    CommentReportsDismissed,
    CommentScreened,
    CommentSubmitted,
    DomainEvent,
)
from ..domain.subscriptions import PING, SUBSCRIBABLE
from ..eventstore import RecordedEvent

BODY_EVENT = CommentSubmitted.TYPE


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_payload(recorded: RecordedEvent, event: DomainEvent) -> dict[str, Any] | None:
    """The webhook document for a recorded event, or None for types we do not send."""
    if recorded.type not in SUBSCRIBABLE:
        return None
    actor = (recorded.metadata or {}).get("actor") or {}
    data: dict[str, Any] = {
        "event_id": recorded.event_id,
        "position": recorded.position,
        "actor": {"id": actor.get("id"), "role": actor.get("role")},
    }
    if isinstance(event, AuditCheckpoint):  # the signed fields exactly as stored
        data.update({k: recorded.data[k] for k in (
            "head_position", "head_hash", "signed_at", "key_id", "public_key", "signature")})
        return {"type": recorded.type, "timestamp": iso(recorded.recorded_at), "data": data}
    if hasattr(event, "comment_id"):
        data["comment_id"] = event.comment_id
    if isinstance(event, AuthorErased):
        # a subscriber deletes what it holds about these comments and this author
        data.update(author_id=event.author_id, comment_ids=list(event.comment_ids),
                    erased_at=iso(event.erased_at))
    elif isinstance(event, ArticleClosed):
        # the closing message is the moderators' public text for readers, not personal data
        data.update(article_id=event.article_id, status="closed", message=event.message,
                    moderator_id=event.moderator_id, closed_at=iso(event.closed_at))
    elif isinstance(event, ArticleReopened):
        data.update(article_id=event.article_id, status="open",
                    moderator_id=event.moderator_id, reopened_at=iso(event.reopened_at))
    elif isinstance(event, AuthorWarned | AuthorSuspended | AuthorBanned
                    | AuthorSanctionLifted | AuthorNoted):
        # a moderator's note or text about the author is personal data: never sent
        data.update(author_id=event.author_id, moderator_id=event.moderator_id)
        if isinstance(event, AuthorWarned):
            data.update(reason=event.reason, warned_at=iso(event.warned_at))
        elif isinstance(event, AuthorSuspended):
            data.update(reason=event.reason, until=iso(event.until),
                        suspended_at=iso(event.suspended_at))
        elif isinstance(event, AuthorBanned):
            data.update(reason=event.reason, reject_pending=event.reject_pending,
                        banned_at=iso(event.banned_at))
        elif isinstance(event, AuthorSanctionLifted):
            data.update(lifted=event.lifted, lifted_at=iso(event.lifted_at))
        else:
            data.update(noted_at=iso(event.noted_at))
    elif isinstance(event, CommentReported):
        # who reported and what they wrote are personal data: never sent
        data.update(article_id=event.article_id, reason=event.reason, counted=event.counted,
                    withheld=event.withheld, reported_at=iso(event.reported_at))
    elif isinstance(event, CommentReportsDismissed):
        data.update(article_id=event.article_id, moderator_id=event.moderator_id,
                    dismissed=event.dismissed, dismissed_at=iso(event.dismissed_at))
    elif isinstance(event, CommentSubmitted):
        data.update(article_id=event.article_id, parent_id=event.parent_id,
                    author_id=event.author_id, status="pending",
                    submitted_at=iso(event.submitted_at))
    elif isinstance(event, CommentScreened):
        data.update(flags=[{"code": f.code, "guideline": f.guideline} for f in event.flags],
                    risk=event.risk, screener=event.screener,
                    screened_at=iso(event.screened_at))
    elif isinstance(event, CommentApproved):
        data.update(article_id=event.article_id, status="approved",
                    previous_status=event.previous_status, moderator_id=event.moderator_id,
                    decided_at=iso(event.decided_at))
    elif isinstance(event, CommentRejected):
        data.update(article_id=event.article_id, status="rejected",
                    previous_status=event.previous_status, moderator_id=event.moderator_id,
                    reasons=list(event.reasons), guideline_version=event.guideline_version,
                    decided_at=iso(event.decided_at))
    else:  # a subscribable type whose class we do not know how to describe
        return None
    return {"type": recorded.type, "timestamp": iso(recorded.recorded_at), "data": data}


def ping_payload(message_id: str, endpoint_id: int, now: datetime) -> dict[str, Any]:
    return {"type": PING, "timestamp": iso(now),
            "data": {"message_id": message_id, "endpoint_id": endpoint_id}}


def serialize(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def with_body(stored: str, body: str | None, erased: bool = False) -> str:
    """The stored document with the comment body added (null, and `erased`, once the
    author was erased)."""
    document = json.loads(stored)
    document["data"]["body"] = body
    document["data"]["erased"] = erased
    return serialize(document)
