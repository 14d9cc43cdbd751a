"""Articles readers comment on. Registered once; a comment must name a known article.

A moderator may close an article to new comments (with a message for readers) and reopen it;
each is an event on the article's stream, so the thread's state is its history folded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .errors import DecisionRefused, InvalidInput
from .events import ArticleClosed, ArticleRegistered, ArticleReopened, DomainEvent
from .text import clean_name, optional_text

CLOSING_MESSAGE_MAX = 500

ARTICLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def valid_article_id(value: object) -> str:
    if not isinstance(value, str) or not ARTICLE_ID.fullmatch(value):
        raise InvalidInput(
            "invalid article id",
            {"article_id": ["1-100 letters, digits, '.', '_' or '-', starting with a letter "
                            "or digit."]},
        )
    return value


def register_article(
    *,
    article_id: object,
    title: object,
    url: object,
    language: object,
    published_at: datetime | None,
    summary: object,
    now: datetime,
) -> ArticleRegistered:
    return ArticleRegistered(
        article_id=valid_article_id(article_id),
        title=clean_name(title, "title", max_len=300),
        url=optional_text(url, "url", max_len=2000),
        language=optional_text(language, "language", max_len=20),
        published_at=published_at,
        summary=optional_text(summary, "summary", max_len=5000),
        registered_at=now,
    )


@dataclass
class Article:
    """An article's commenting state, folded from its own stream."""

    id: str
    version: int = 0
    closed: bool = False
    message: str | None = None

    @classmethod
    def from_history(cls, article_id: str, events: list[DomainEvent]) -> Article:
        article = cls(id=article_id)
        for event in events:
            article.apply(event)
        return article

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        match event:
            case ArticleClosed():
                self.closed, self.message = True, event.message
            case ArticleReopened():
                self.closed, self.message = False, None

    def close(self, moderator_id: str, message: object, now: datetime) -> ArticleClosed:
        clean = optional_text(message, "message", max_len=CLOSING_MESSAGE_MAX)
        if self.closed:
            raise DecisionRefused(f"article {self.id} is already closed")
        return ArticleClosed(self.id, clean, moderator_id, now)

    def reopen(self, moderator_id: str, now: datetime) -> ArticleReopened:
        if not self.closed:
            raise DecisionRefused(f"article {self.id} is not closed")
        return ArticleReopened(self.id, moderator_id, now)
