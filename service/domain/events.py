"""Domain events: past-tense facts, the only thing the system ever stores.

Each class carries its stable wire name in `TYPE`; class names may change, wire names never.
Personal data (author name, e-mail, network address, body) is `None` once it has been erased.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ArticleRegistered:
    TYPE = "article.registered"
    article_id: str
    title: str
    url: str | None
    language: str | None
    published_at: datetime | None
    summary: str | None
    registered_at: datetime


@dataclass(frozen=True)
class CommentSubmitted:
    TYPE = "comment.submitted"
    comment_id: str
    article_id: str
    parent_id: str | None
    author_id: str
    author_name: str | None
    author_email: str | None
    network_address: str | None
    body: str | None
    submitted_at: datetime
    erased: bool = False  # set on read when the author's key is gone; never stored


@dataclass(frozen=True)
class Flag:
    """One advisory reason a comment may need care; never a decision."""

    code: str
    guideline: str | None
    evidence: str | None  # quotes the text: sealed like it, None once the author is erased


@dataclass(frozen=True)
class CommentScreened:
    TYPE = "comment.screened"
    comment_id: str
    flags: tuple[Flag, ...]
    risk: float
    screener: str
    screened_at: datetime
    author_id: str | None = None  # whose key seals the evidence


@dataclass(frozen=True)
class CommentApproved:
    TYPE = "comment.approved"
    comment_id: str
    article_id: str
    previous_status: str
    moderator_id: str
    note: str | None
    decided_at: datetime


@dataclass(frozen=True)
class CommentRejected:
    TYPE = "comment.rejected"
    comment_id: str
    article_id: str
    previous_status: str
    moderator_id: str
    reasons: tuple[str, ...]
    guideline_version: str
    note: str | None
    decided_at: datetime


@dataclass(frozen=True)
class ArticleClosed:
    """No more submissions: `message` is shown to readers (and to a refused submitter)."""

    TYPE = "article.closed"
    article_id: str
    message: str | None
    moderator_id: str
    closed_at: datetime


@dataclass(frozen=True)
class ArticleReopened:
    TYPE = "article.reopened"
    article_id: str
    moderator_id: str
    reopened_at: datetime


@dataclass(frozen=True)
class CommentReported:
    """A reader reported a published comment. The reporter is a keyed hash of their network
    address, sealed with their note under a key of this report's own (`report_subject`,
    random), so nothing in the log links two reports by one reader. `counted` is false for
    a reporter's second report of the same comment; `withheld` says the open reports reached
    MODERATION_REPORTS_WITHHOLD_AT and the comment left the public thread."""

    TYPE = "comment.reported"
    PERSONAL = ("reporter", "note")
    SUBJECT = "report_subject"
    comment_id: str
    article_id: str
    reason: str
    report_subject: str
    reporter: str | None
    note: str | None
    counted: bool
    withheld: bool
    reported_at: datetime


@dataclass(frozen=True)
class CommentReportsDismissed:
    """A moderator kept a reported comment published; its open reports are resolved."""

    TYPE = "comment.reports_dismissed"
    comment_id: str
    article_id: str
    moderator_id: str
    dismissed: int
    note: str | None
    dismissed_at: datetime


# -- authors: what moderators did about a (pseudonymous) author, on the author's stream ---
# `PERSONAL` fields (a moderator's words about a person) are sealed under the author's key
# like the comment text, so erasing the author erases them too; None once erased or for a
# reader who may not see personal data.


@dataclass(frozen=True)
class AuthorWarned:
    TYPE = "author.warned"
    PERSONAL = ("note",)
    author_id: str
    moderator_id: str
    reason: str
    note: str | None
    warned_at: datetime


@dataclass(frozen=True)
class AuthorSuspended:
    TYPE = "author.suspended"
    PERSONAL = ("note",)
    author_id: str
    moderator_id: str
    until: datetime
    reason: str
    note: str | None
    suspended_at: datetime


@dataclass(frozen=True)
class AuthorBanned:
    TYPE = "author.banned"
    PERSONAL = ("note",)
    author_id: str
    moderator_id: str
    reason: str
    note: str | None
    reject_pending: bool
    banned_at: datetime


@dataclass(frozen=True)
class AuthorSanctionLifted:
    TYPE = "author.sanction_lifted"
    PERSONAL = ("note",)
    author_id: str
    moderator_id: str
    lifted: str  # "suspended" or "banned": what was lifted
    note: str | None
    lifted_at: datetime


@dataclass(frozen=True)
class AuthorNoted:
    TYPE = "author.noted"
    PERSONAL = ("text",)
    author_id: str
    moderator_id: str
    text: str | None
    noted_at: datetime


AUTHOR_EVENTS = (AuthorWarned, AuthorSuspended, AuthorBanned, AuthorSanctionLifted,
                 AuthorNoted)
AuthorEvent = (
    AuthorWarned | AuthorSuspended | AuthorBanned | AuthorSanctionLifted | AuthorNoted
)


# -- administrative actions: who changed the service's access and its outward links -------
# Never a token, its hash or a signing secret; endpoint URLs only as their origin and a
# SHA-256 of the whole URL (paths and queries often carry a receiver's capability).


@dataclass(frozen=True)
class TokenCreated:
    TYPE = "token.created"
    token_id: int
    name: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class TokenRevoked:
    TYPE = "token.revoked"
    token_id: int
    name: str
    role: str
    revoked_at: datetime


@dataclass(frozen=True)
class WebhookEndpointCreated:
    TYPE = "webhook_endpoint.created"
    endpoint_id: int
    url_origin: str
    url_sha256: str
    event_types: tuple[str, ...]
    description: str
    include_body: bool
    created_at: datetime


@dataclass(frozen=True)
class WebhookEndpointUpdated:
    TYPE = "webhook_endpoint.updated"
    endpoint_id: int
    version: int
    changes: dict  # field -> new value (url as url_origin and url_sha256); enabled: True
    updated_at: datetime


@dataclass(frozen=True)
class WebhookEndpointDisabled:
    TYPE = "webhook_endpoint.disabled"
    endpoint_id: int
    reason: str
    disabled_at: datetime


@dataclass(frozen=True)
class WebhookEndpointDeleted:
    TYPE = "webhook_endpoint.deleted"
    endpoint_id: int
    deleted_at: datetime


@dataclass(frozen=True)
class WebhookSecretRotated:
    TYPE = "webhook_secret.rotated"
    endpoint_id: int
    rotated_at: datetime
    previous_signs_until: datetime


ADMIN_EVENTS = (TokenCreated, TokenRevoked, WebhookEndpointCreated, WebhookEndpointUpdated,
                WebhookEndpointDisabled, WebhookEndpointDeleted, WebhookSecretRotated)
AdminEvent = (
    TokenCreated | TokenRevoked | WebhookEndpointCreated | WebhookEndpointUpdated
    | WebhookEndpointDisabled | WebhookEndpointDeleted | WebhookSecretRotated
)


@dataclass(frozen=True)
class AuditCheckpoint:
    """A signed statement that the log's event at `head_position` has hash `head_hash`
    (see service/audit/signing.py for the exact bytes signed)."""

    TYPE = "audit.checkpoint"
    head_position: int
    head_hash: str
    signed_at: datetime
    key_id: str
    public_key: str
    signature: str


@dataclass(frozen=True)
class AuthorErased:
    """An admin erased an author: their key is destroyed, every plaintext copy purged.
    Holds no personal data: the pseudonymous author id, the comments it covered, the note."""

    TYPE = "author.erased"
    author_id: str
    comment_ids: tuple[str, ...]
    note: str
    erased_at: datetime


@dataclass(frozen=True)
class AuthorLookedUp:
    """An admin found which author id an e-mail address belongs to."""

    TYPE = "author.looked_up"
    author_id: str
    looked_up_at: datetime


@dataclass(frozen=True)
class AuthorExported:
    """An admin exported everything held about an author (a subject-access request)."""

    TYPE = "author.exported"
    author_id: str
    exported_at: datetime


@dataclass(frozen=True)
class AddressesSwept:
    """The keys of these days' network addresses were destroyed (retention ran out)."""

    TYPE = "addresses.swept"
    days: tuple[str, ...]
    retention_days: int
    swept_at: datetime


# Events stored field for field (scalars, tuples, dicts, times), decoded generically.
PLAIN_EVENTS = (*ADMIN_EVENTS, AuditCheckpoint, AuthorErased, AuthorLookedUp, AuthorExported,
                AddressesSwept)

DomainEvent = (
    ArticleRegistered | CommentSubmitted | CommentScreened | CommentApproved | CommentRejected
    | ArticleClosed | ArticleReopened | CommentReported | CommentReportsDismissed
    | AuthorEvent | AdminEvent | AuditCheckpoint
    | AuthorErased | AuthorLookedUp | AuthorExported | AddressesSwept
)
DECISIONS = (CommentApproved, CommentRejected)
EVENT_TYPES: dict[str, type] = {
    cls.TYPE: cls
    for cls in (ArticleRegistered, CommentSubmitted, CommentScreened, CommentApproved,
                CommentRejected, ArticleClosed, ArticleReopened, CommentReported,
                CommentReportsDismissed, *AUTHOR_EVENTS,
                *PLAIN_EVENTS)
}
# What GET /v1/audit/actions lists: everything done to the service rather than to a comment.
ADMIN_ACTION_TYPES = (
    ArticleRegistered.TYPE, ArticleClosed.TYPE, ArticleReopened.TYPE,
    *(cls.TYPE for cls in ADMIN_EVENTS),
    AuthorLookedUp.TYPE, AuthorExported.TYPE, AuthorErased.TYPE, AddressesSwept.TYPE,
    AuthorWarned.TYPE, AuthorSuspended.TYPE, AuthorBanned.TYPE, AuthorSanctionLifted.TYPE,
    AuthorNoted.TYPE,
)


def comment_stream(comment_id: str) -> str:
    return f"comment-{comment_id}"


def article_stream(article_id: str) -> str:
    return f"article-{article_id}"


def token_stream(token_id: int) -> str:
    return f"token-{token_id}"


def webhook_endpoint_stream(endpoint_id: int) -> str:
    return f"webhook-endpoint-{endpoint_id}"


CHECKPOINT_STREAM = "audit-checkpoints"


def url_fingerprint(url: str) -> tuple[str, str]:
    """(origin, SHA-256 hex) of a URL: where it points, and a digest that changes with any
    part of it, without recording a path or query that may be a receiver's secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    return origin, hashlib.sha256(url.encode("utf-8")).hexdigest()


def author_stream(author_id: str) -> str:
    """An author's own stream. Author ids already read `author-<pseudonym>`, so the id is
    the stream name (`author-<hex>`), not `author-author-<hex>`."""
    return author_id if author_id.startswith("author-") else f"author-{author_id}"


RETENTION_STREAM = "retention-addresses"
