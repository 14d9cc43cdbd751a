"""Domain events: past-tense facts, the only thing the system ever stores.

Each class carries its stable wire name in `TYPE`; class names may change, wire names never.
Personal data (author name, e-mail, network address, body) is `None` once it has been erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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


@dataclass(frozen=True)
class Flag:
    """One advisory reason a comment may need care; never a decision."""

    code: str
    guideline: str | None
    evidence: str


@dataclass(frozen=True)
class CommentScreened:
    TYPE = "comment.screened"
    comment_id: str
    flags: tuple[Flag, ...]
    risk: float
    screener: str
    screened_at: datetime


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


DomainEvent = (
    ArticleRegistered | CommentSubmitted | CommentScreened | CommentApproved | CommentRejected
)
DECISIONS = (CommentApproved, CommentRejected)
EVENT_TYPES: dict[str, type] = {
    cls.TYPE: cls
    for cls in (ArticleRegistered, CommentSubmitted, CommentScreened, CommentApproved,
                CommentRejected)
}


def comment_stream(comment_id: str) -> str:
    return f"comment-{comment_id}"


def article_stream(article_id: str) -> str:
    return f"article-{article_id}"
