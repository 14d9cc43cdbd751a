"""One comment, for moderators: its state (now or in the past), its history, and decisions.

`ETag` on GET is the comment's version as a strong tag, e.g. `"3"`. A decision must say
which version it was made on: `If-Match: "3"` (or `3`). Without it the answer is 428; if
someone else decided in between, 409 with the current state and the winning decision.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Response
from flask.views import MethodView

from ..application.commands import ApproveComment, RejectComment
from ..domain.comment import Comment
from ..domain.events import CommentSubmitted
from .auth import MODERATORS, actor, context, requires
from .etags import etag, if_match_parameter, if_none_match_tags, required_if_match
from .requests import Blueprint
from .runtime import runtime
from .schemas import (
    ApproveInSchema,
    ClaimSchema,
    CommentArgsSchema,
    DecisionSchema,
    HistoricalCommentSchema,
    HistorySchema,
    RejectInSchema,
    VersionConflictSchema,
    to_utc,
)

blp = Blueprint("comments", __name__, url_prefix="/v1/comments",
                description="A comment's state, history and moderation decisions.")

IF_MATCH = if_match_parameter(
    'The version the decision is based on, as the ETag gives it: "3".', required=True)
IF_NONE_MATCH = {
    "in": "header", "name": "If-None-Match", "required": False,
    "schema": {"type": "string"},
    "description": "An ETag from an earlier GET; 304 when the comment has not changed.",
}
CONFLICT = "Someone else decided first: the body has the current state and that decision."


@blp.route("/<uuid:comment_id>", parameters=[IF_NONE_MATCH])
class CommentResource(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(CommentArgsSchema, location="query")
    @blp.response(200, HistoricalCommentSchema, headers={
        "ETag": {"description": 'The version, e.g. "3" (only for the current state).',
                 "schema": {"type": "string"}}},
        description="The comment. With as_of or at_position, its state at that point "
                    "(as_of_position set); otherwise its current state.")
    @blp.alt_response(304, description="Not modified (If-None-Match matched).")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, comment_id: UUID):
        """Show a comment's full state, now or at a past moment or log position."""
        queries = runtime().services.queries
        if args["as_of"] is not None or args["at_position"] is not None:
            comment, position = queries.comment_as_of(
                str(comment_id), position=args["at_position"], at=to_utc(args["as_of"]))
            return _historical(comment, position)
        state = queries.comment(str(comment_id))
        tag = etag(state["version"])
        if tag in if_none_match_tags():
            return Response(status=304, headers={"ETag": tag})
        return state, 200, {"ETag": tag}


@blp.route("/<uuid:comment_id>/events")
class CommentEvents(MethodView):
    @requires(*MODERATORS)
    @blp.response(200, HistorySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, comment_id: UUID):
        """List every event of a comment, oldest first."""
        return {"items": runtime().services.queries.history(str(comment_id), personal=True)}


@blp.route("/<uuid:comment_id>/approve", parameters=[IF_MATCH])
class Approve(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(ApproveInSchema, required=False)
    @blp.response(200, DecisionSchema, headers={
        "ETag": {"description": "The comment's new version.", "schema": {"type": "string"}}})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=VersionConflictSchema, description=CONFLICT)
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def post(self, body, comment_id: UUID):
        """Approve a comment, publishing it."""
        result = runtime().services.moderation.approve(ApproveComment(
            comment_id=str(comment_id), expected_version=required_if_match("comment"),
            note=body["note"]), context())
        return _decided(result)


@blp.route("/<uuid:comment_id>/reject", parameters=[IF_MATCH])
class Reject(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(RejectInSchema)
    @blp.response(200, DecisionSchema, headers={
        "ETag": {"description": "The comment's new version.", "schema": {"type": "string"}}})
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=VersionConflictSchema, description=CONFLICT)
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def post(self, body, comment_id: UUID):
        """Reject a comment, citing guideline reasons."""
        result = runtime().services.moderation.reject(RejectComment(
            comment_id=str(comment_id), expected_version=required_if_match("comment"),
            reasons=body["reasons"], note=body["note"]), context())
        return _decided(result)


@blp.route("/<uuid:comment_id>/claim")
class CommentClaim(MethodView):
    @requires(*MODERATORS)
    @blp.response(200, ClaimSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT", description="Another moderator's live claim.")
    def post(self, comment_id: UUID):
        """Claim a comment for a few minutes: advisory, anyone may still decide."""
        claim = runtime().services.claims.claim(str(comment_id), actor().id)
        return claim.__dict__

    @requires(*MODERATORS)
    @blp.response(204)
    @blp.alt_response(409, response="CONFLICT", description="Another moderator's live claim.")
    def delete(self, comment_id: UUID):
        """Release one's own claim on a comment (nothing to release is fine)."""
        runtime().services.claims.release(str(comment_id), actor().id)


def _decided(result: Any) -> tuple[dict, int, dict]:
    return ({"id": result.id, "status": result.status, "version": result.version,
             "position": result.position, "decided_at": result.at},
            200, {"ETag": etag(result.version)})


def _historical(comment: Comment, position: int) -> dict[str, Any]:
    submitted = next(e for e in comment.history if isinstance(e, CommentSubmitted))
    state = {
        "comment_id": comment.id, "article_id": comment.article_id,
        "parent_id": comment.parent_id, "author_id": comment.author_id,
        "author_name": submitted.author_name, "author_email": submitted.author_email,
        "body": submitted.body, "status": comment.status.value,
        "reasons": list(comment.reasons), "guideline_version": comment.guideline_version,
        "note": comment.note, "decided_by": comment.decided_by,
        "decided_at": comment.decided_at, "submitted_at": comment.submitted_at,
        "flags": [{"code": f.code, "guideline": f.guideline,
                   "evidence": None if submitted.erased else f.evidence}
                  for f in comment.flags],
        "risk": comment.risk, "erased": submitted.erased, "version": comment.version,
        "as_of_position": position,
    }
    return state
