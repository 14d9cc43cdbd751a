"""Bulk decisions: up to 100 approvals and rejections in one request, each its own decision.

Each item names the version it was decided on (`expected_version`) and is checked and
recorded alone; the answer lists, per item, the decision or the error body a single
`approve`/`reject` would have answered. `Idempotency-Key` makes a retry answer the same
results and record nothing.
"""

from __future__ import annotations

from datetime import datetime

from flask.views import MethodView

from ..application.bulk import BulkItem
from .articles import IDEMPOTENCY_HEADER, _idempotency_key
from .auth import MODERATORS, context, requires
from .errors import domain_error_body
from .requests import Blueprint
from .runtime import runtime
from .schemas import BulkInSchema, BulkResultsSchema

blp = Blueprint("decisions", __name__, url_prefix="/v1/decisions",
                description="Many decisions in one request, each decided on its own.")


@blp.route("")
class Decisions(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(BulkInSchema)
    @blp.response(200, BulkResultsSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    def post(self, body):
        """Approve or reject up to 100 comments, each on its own version."""
        items = [BulkItem(i["comment_id"], i["expected_version"], i["action"], i["reasons"],
                          i["note"]) for i in body["decisions"]]
        results, replayed = runtime().services.bulk.decide(
            items, context(), render=domain_error_body, idempotency_key=_idempotency_key())
        for result in results:
            if result["ok"]:
                at = result["decision"]["decided_at"]
                result["decision"]["decided_at"] = datetime.fromisoformat(at) \
                    if isinstance(at, str) else at
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return {"results": results}, 200, headers
