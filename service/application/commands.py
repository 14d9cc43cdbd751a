"""Commands: what callers ask for, in plain values. Validation happens in the domain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Actor:
    """Who acts, taken from a verified credential, never from a request body."""

    id: str
    role: str


READER = Actor(id="reader", role="reader")


@dataclass(frozen=True)
class Context:
    actor: Actor = READER
    correlation_id: str | None = None
    causation_id: str | None = None

    def metadata(self) -> dict[str, object]:
        meta: dict[str, object] = {"actor": {"id": self.actor.id, "role": self.actor.role}}
        if self.correlation_id:
            meta["correlation_id"] = self.correlation_id
        if self.causation_id:
            meta["causation_id"] = self.causation_id
        return meta


@dataclass(frozen=True)
class RegisterArticle:
    article_id: str
    title: str
    url: str | None = None
    language: str | None = None
    published_at: datetime | None = None
    summary: str | None = None


@dataclass(frozen=True)
class SubmitComment:
    article_id: str
    author_name: object
    body: object
    author_email: object = None
    parent_id: str | None = None
    network_address: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class ApproveComment:
    comment_id: str
    expected_version: int
    note: object = None


@dataclass(frozen=True)
class RejectComment:
    comment_id: str
    expected_version: int
    reasons: object
    note: object = None


@dataclass(frozen=True)
class CloseArticle:
    article_id: str
    message: object = None
    expected_version: int | None = None


@dataclass(frozen=True)
class ReopenArticle:
    article_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class WarnAuthor:
    author_id: str
    expected_version: int
    reason: object
    note: object = None


@dataclass(frozen=True)
class SuspendAuthor:
    author_id: str
    expected_version: int
    until: datetime | None
    reason: object
    note: object = None


@dataclass(frozen=True)
class BanAuthor:
    author_id: str
    expected_version: int
    reason: object
    note: object = None
    reject_pending: bool = False


@dataclass(frozen=True)
class LiftSanction:
    author_id: str
    expected_version: int
    note: object = None


@dataclass(frozen=True)
class NoteAuthor:
    author_id: str
    expected_version: int
    text: object
