"""Reader reports on published comments: readers report, moderators dismiss.

Reporting is public and rate-limited per client address like submitting; the reader is
known only as a keyed hash of that address, sealed in the event. A moderator dismisses a
comment's open reports with If-Match on its version (it stays published), or rejects it
as any decision (a changed decision, so with a note); either takes it off
`GET /v1/queue?state=reported`.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from flask.views import MethodView

from ..application.reports import DismissReports, ReportComment
from .articles import IDEMPOTENCY_HEADER, _client_address, _idempotency_key
from .auth import MODERATORS, context, requires
from .comments import IF_MATCH
from .etags import etag, required_if_match
from .requests import Blueprint
from .runtime import runtime
from .schemas import (
    DismissalSchema,
    DismissInSchema,
    ReportInSchema,
    ReportSchema,
    VersionConflictSchema,
)

blp = Blueprint("reports", __name__, url_prefix="/v1/comments",
                description="Reader reports on published comments, and their dismissal.")


@blp.route("/<uuid:comment_id>/reports")
class Reports(MethodView):
    @blp.arguments(ReportInSchema)
    @blp.response(202, ReportSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT",
                      description="not_reportable: the comment is not published.")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, body, comment_id: UUID):
        """Report a published comment to the moderators, citing a guideline."""
        result = runtime().services.reports.report(ReportComment(
            str(comment_id), body["reason"], body["note"], _client_address(),
            _idempotency_key()), context())
        headers = {"Idempotent-Replayed": "true"} if result["replayed"] else {}
        return ({"comment_id": result["comment_id"], "counted": result["counted"],
                 "withheld": result["withheld"],
                 "reported_at": datetime.fromisoformat(result["reported_at"])}, 202, headers)


@blp.route("/<uuid:comment_id>/reports/dismiss", parameters=[IF_MATCH])
class Dismiss(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(DismissInSchema, required=False)
    @blp.response(200, DismissalSchema, headers={
        "ETag": {"description": "The comment's new version.", "schema": {"type": "string"}}})
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=VersionConflictSchema,
                      description="No open reports (decision_refused), or a stale version.")
    @blp.alt_response(428, response="PRECONDITION_REQUIRED")
    def post(self, body, comment_id: UUID):
        """Dismiss a comment's open reports: it stays published."""
        result = runtime().services.reports.dismiss(DismissReports(
            str(comment_id), required_if_match("comment"),
            body.get("note")), context())
        return result, 200, {"ETag": etag(result["version"])}
