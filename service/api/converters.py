"""URL converters whose patterns also document the path parameters in OpenAPI."""

from __future__ import annotations

from werkzeug.routing import BaseConverter

from ..domain.article import ARTICLE_ID


class ArticleIdConverter(BaseConverter):
    """An article id as the domain defines it; anything else is simply not a route (404)."""

    regex = ARTICLE_ID.pattern.removeprefix("^").removesuffix("$")


def article_id_schema(_converter: BaseConverter) -> dict[str, object]:
    return {"type": "string", "pattern": ARTICLE_ID.pattern, "minLength": 1, "maxLength": 100}


class AuthorIdConverter(BaseConverter):
    """An author id as the service makes them ("author-" and 32 hex digits), so a path
    such as /v1/authors/lookup is never read as an author."""

    regex = r"author-[0-9a-f]{32}"


def author_id_schema(_converter: BaseConverter) -> dict[str, object]:
    return {"type": "string", "pattern": f"^{AuthorIdConverter.regex}$"}
