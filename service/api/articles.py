"""Articles and their public comment threads: what the news site's pages talk to."""

from __future__ import annotations

import ipaddress
import re

from flask import request
from flask.views import MethodView

from ..application.commands import CloseArticle, RegisterArticle, ReopenArticle, SubmitComment
from ..application.errors import ArticleNotFound
from . import cursors
from .auth import ADMINS, AUDITORS, MODERATORS, context, requires
from .errors import ApiError
from .etags import etag, if_match_parameter, if_match_version
from .requests import Blueprint
from .runtime import runtime
from .schemas import (
    ArticleClosedSchema,
    ArticleInSchema,
    ArticleSchema,
    CloseArticleInSchema,
    HistorySchema,
    PageArgsSchema,
    PublicPageSchema,
    ReopenArticleInSchema,
    StreamConflictSchema,
    SubmissionInSchema,
    SubmissionSchema,
    to_utc,
)

blp = Blueprint("articles", __name__, url_prefix="/v1/articles",
                description="Articles and their approved comments; submitting comments.")

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
IDEMPOTENCY_HEADER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[!-~]+$"},
    "description": "Makes retries safe: the same key with the same body returns the same "
                   "comment and records it once; the same key with another body is refused "
                   "(422 idempotency_key_reused).",
}
SUBMIT_NOTES = (
    "Rate-limited per client address (429 with Retry-After). The comment stays pending, "
    "invisible to readers, until a moderator approves it. `Location` points at the comment. "
    "A closed article answers 409 article_closed with its closed_message."
)
IF_MATCH = if_match_parameter(
    "Optional: the article version (ETag of GET /v1/articles/{id}) this is based on; a "
    "stale one answers 409 version_conflict.", required=False)
ETAG = {"ETag": {"description": "The article's version.", "schema": {"type": "string"}}}


@blp.route("")
class Articles(MethodView):
    @requires(*ADMINS)
    @blp.arguments(ArticleInSchema)
    @blp.response(201, ArticleSchema)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body):
        """Register an article readers may comment on."""
        services = runtime().services
        services.moderation.register_article(RegisterArticle(
            article_id=body["id"], title=body["title"], url=body["url"],
            language=body["language"], published_at=to_utc(body["published_at"]),
            summary=body["summary"]), context())
        article = services.queries.article(body["id"])
        return article, 201, {"Location": f"/v1/articles/{body['id']}"}


@blp.route("/<article_id:article_id>")
class Article(MethodView):
    @blp.response(200, ArticleSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, article_id):
        """Show an article, whether it takes comments, and how many it has published."""
        article = _article(article_id)
        return article, 200, {"ETag": etag(article["version"])}


@blp.route("/<article_id:article_id>/close", parameters=[IF_MATCH])
class CloseArticleView(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(CloseArticleInSchema, required=False)
    @blp.response(200, ArticleSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=StreamConflictSchema,
                      description="Already closed, or a stale If-Match.")
    def post(self, body, article_id):
        """Close an article to new comments, with an optional message for readers."""
        services = runtime().services
        services.moderation.close_article(CloseArticle(
            article_id, body.get("message"), if_match_version("article")),
            context())
        article = _article(article_id)
        return article, 200, {"ETag": etag(article["version"])}


@blp.route("/<article_id:article_id>/reopen", parameters=[IF_MATCH])
class ReopenArticleView(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(ReopenArticleInSchema, required=False)
    @blp.response(200, ArticleSchema, headers=ETAG)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=StreamConflictSchema,
                      description="Not closed, or a stale If-Match.")
    def post(self, body, article_id):
        """Reopen a closed article to new comments."""
        services = runtime().services
        services.moderation.reopen_article(ReopenArticle(
            article_id, if_match_version("article")), context())
        article = _article(article_id)
        return article, 200, {"ETag": etag(article["version"])}


@blp.route("/<article_id:article_id>/events")
class ArticleEvents(MethodView):
    @requires(*AUDITORS)
    @blp.response(200, HistorySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, article_id):
        """List every event of an article's stream (registered, closed, reopened)."""
        items = runtime().services.queries.article_history(article_id)
        if items is None:
            raise ArticleNotFound(f"article {article_id} does not exist")
        return {"items": items}


@blp.route("/<article_id:article_id>/comments")
class ArticleComments(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, PublicPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, article_id):
        """List an article's approved comments, oldest first."""
        _article(article_id)
        after = cursors.decode("public", args["cursor"])
        limit = args["limit"]
        rows = runtime().services.queries.public_thread(article_id, after=after,
                                                         limit=limit + 1)
        return {"items": rows[:limit],
                "next_cursor": cursors.next_cursor("public", rows, limit,
                                                   "submitted_position")}

    @blp.arguments(SubmissionInSchema)
    @blp.response(202, SubmissionSchema, headers={
        "Location": {"description": "URL of the new comment.", "schema": {"type": "string"}},
    })
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=ArticleClosedSchema,
                      description="The article is closed to new comments.")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    @blp.doc(parameters=[IDEMPOTENCY_HEADER], description=SUBMIT_NOTES)
    def post(self, body, article_id):
        """Submit a comment for moderation."""
        result = runtime().services.moderation.submit_comment(SubmitComment(
            article_id=article_id, author_name=body["author"]["name"],
            author_email=body["author"]["email"], body=body["body"],
            parent_id=body["parent_id"], network_address=_client_address(),
            idempotency_key=_idempotency_key()), context())
        headers = {"Location": f"/v1/comments/{result.id}"}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        return ({"id": result.id, "article_id": article_id, "status": result.status,
                 "submitted_at": result.at, "version": result.version},
                202, headers)


def _article(article_id: str) -> dict:
    article = runtime().services.queries.article(article_id)
    if article is None:
        raise ArticleNotFound(f"article {article_id} does not exist")
    return article


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, "invalid_idempotency_key",
                       "Idempotency-Key must be 1-200 visible ASCII characters.",
                       {"Idempotency-Key": ["1-200 visible ASCII characters, no spaces."]})
    return key


def _client_address() -> str | None:
    """The caller's address (ProxyFix has applied trusted X-Forwarded-For hops)."""
    try:
        return str(ipaddress.ip_address(request.remote_addr or ""))
    except ValueError:
        return None
