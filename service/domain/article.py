"""Articles readers comment on. Registered once; a comment must name a known article."""

from __future__ import annotations

import re
from datetime import datetime

from .errors import InvalidInput
from .events import ArticleRegistered
from .text import clean_text, optional_text

ARTICLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def valid_article_id(value: object) -> str:
    if not isinstance(value, str) or not ARTICLE_ID.match(value):
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
        title=clean_text(title, "title", min_len=1, max_len=300),
        url=optional_text(url, "url", max_len=2000),
        language=optional_text(language, "language", max_len=20),
        published_at=published_at,
        summary=optional_text(summary, "summary", max_len=5000),
        registered_at=now,
    )
