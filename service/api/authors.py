"""Authors, for moderators: their record, their comments, and sanctions.

An author is the pseudonymous `author_id` a comment shows. Every change (warning,
suspension, ban, lift, note) names the author's version: `If-Match` with the ETag of
`GET /v1/authors/{author_id}` (428 without it, 409 `version_conflict` with
`current_version` when someone changed the author first).
"""

from __future__ import annotations

from datetime import datetime

from flask.views import MethodView

from ..application.commands import BanAuthor, LiftSanction, NoteAuthor, SuspendAuthor, WarnAuthor
from . import cursors
from .auth import MODERATORS, context, requires
from .etags import etag, if_match_parameter, required_if_match
from .requests import Blueprint
from .runtime import runtime
from .schemas import (
    AuthorChangeSchema,
    AuthorCommentsPageSchema,
    AuthorNoteInSchema,
    AuthorSchema,
    BanInSchema,
    HistorySchema,
    LiftInSchema,
    PageArgsSchema,
    StreamConflictSchema,
    SuspensionInSchema,
    WarningInSchema,
)

blp = Blueprint("authors", __name__, url_prefix="/v1/authors",
                description="Authors: their record and comments; warnings, suspensions, bans "
                            "and notes.")

IF_MATCH = if_match_parameter(
    "The author's version, as the ETag of GET /v1/authors/{author_id} gives it.",
    required=True)
ETAG = {"ETag": {"description": "The author's new version.", "schema": {"type": "string"}}}


def _changed(result) -> tuple[dict, int, dict]:  # noqa: ANN001
    return ({"author_id": result.author_id, "type": result.type, "version": result.version,
             "position": result.position, "at": result.at, "rejected": list(result.rejected)},
            200, {"ETag": etag(result.version)})


def _change_doc(schema, *, required: bool = True):  # noqa: ANN001, ANN202
    """The decorators of every author change, in the order the other resources use:
    the role check outermost (401/403 before any body is looked at)."""
    def decorate(func):  # noqa: ANN001, ANN202
        func = blp.alt_response(428, response="PRECONDITION_REQUIRED")(func)
        func = blp.alt_response(409, schema=StreamConflictSchema,
                                description="Not allowed from the current standing "
                                            "(decision_refused), or a stale version.")(func)
        func = blp.alt_response(404, response="NOT_FOUND")(func)
        func = blp.response(200, AuthorChangeSchema, headers=ETAG)(func)
        func = blp.arguments(schema, required=required)(func)
        return requires(*MODERATORS)(func)
    return decorate


@blp.route("/<author_id:author_id>")
class Author(MethodView):
    @requires(*MODERATORS)
    @blp.response(200, AuthorSchema, headers={
        "ETag": {"description": "The author's version.", "schema": {"type": "string"}}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, author_id):
        """Show an author: names used, counts, first and last seen, sanctions and notes."""
        profile = runtime().services.authors.profile(author_id)
        return profile, 200, {"ETag": etag(profile["version"])}


@blp.route("/<author_id:author_id>/comments")
class AuthorComments(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AuthorCommentsPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, author_id):
        """List an author's comments, newest first, whatever their status."""
        before = cursors.decode("author-comments", args["cursor"])
        limit = args["limit"]
        rows = runtime().services.authors.comments(author_id, before=before, limit=limit + 1)
        return {"items": rows[:limit],
                "next_cursor": cursors.next_cursor("author-comments", rows, limit,
                                                   "submitted_position")}


@blp.route("/<author_id:author_id>/events")
class AuthorEvents(MethodView):
    @requires(*MODERATORS)
    @blp.response(200, HistorySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, author_id):
        """List every event of an author's stream, oldest first."""
        return {"items": runtime().services.authors.history(author_id)}


@blp.route("/<author_id:author_id>/warnings", parameters=[IF_MATCH])
class Warnings(MethodView):
    @_change_doc(WarningInSchema)
    def post(self, body, author_id):
        """Warn an author, citing a guideline."""
        return _changed(runtime().services.sanctions.warn(WarnAuthor(
            author_id, required_if_match("author"), body["reason"],
            body["note"]), context()))


@blp.route("/<author_id:author_id>/suspensions", parameters=[IF_MATCH])
class Suspensions(MethodView):
    @_change_doc(SuspensionInSchema)
    def post(self, body, author_id):
        """Suspend an author until a time: their submissions are refused until then."""
        until: datetime = body["until"]
        return _changed(runtime().services.sanctions.suspend(SuspendAuthor(
            author_id, required_if_match("author"), until, body["reason"],
            body["note"]), context()))


@blp.route("/<author_id:author_id>/bans", parameters=[IF_MATCH])
class Bans(MethodView):
    @_change_doc(BanInSchema)
    def post(self, body, author_id):
        """Ban an author; with reject_pending, also reject each of their pending comments."""
        return _changed(runtime().services.sanctions.ban(BanAuthor(
            author_id, required_if_match("author"), body["reason"], body["note"],
            body["reject_pending"]), context()))


@blp.route("/<author_id:author_id>/sanctions/lift", parameters=[IF_MATCH])
class Lift(MethodView):
    @_change_doc(LiftInSchema, required=False)
    def post(self, body, author_id):
        """Lift an author's live suspension or ban."""
        return _changed(runtime().services.sanctions.lift(LiftSanction(
            author_id, required_if_match("author"), body.get("note")), context()))


@blp.route("/<author_id:author_id>/notes", parameters=[IF_MATCH])
class Notes(MethodView):
    @_change_doc(AuthorNoteInSchema)
    def post(self, body, author_id):
        """Add a moderator's note to an author's record."""
        return _changed(runtime().services.sanctions.note(NoteAuthor(
            author_id, required_if_match("author"), body["text"]), context()))
