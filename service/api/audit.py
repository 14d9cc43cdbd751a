"""The decision audit log: who decided what, when, why, under which guideline version."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask.views import MethodView

from . import cursors
from .auth import AUDITORS, requires
from .requests import Blueprint
from .runtime import runtime
from .schemas import (
    ActionArgsSchema,
    ActionPageSchema,
    AuditPageSchema,
    CheckpointPageSchema,
    ConsistencyArgsSchema,
    ConsistencyProofSchema,
    DecisionArgsSchema,
    ExportArgsSchema,
    InclusionProofSchema,
    PageArgsSchema,
    ProofArgsSchema,
)

# Administrative actions are for auditors and admins; moderators decide, they do not audit
# who holds access.
ACTION_READERS = ("auditor", "admin")

blp = Blueprint("audit", __name__, url_prefix="/v1/audit",
                description="Every moderation decision, reversals included, and every "
                            "administrative action.")


@blp.route("/decisions")
class Decisions(MethodView):
    @requires(*AUDITORS)
    @blp.arguments(DecisionArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, args):
        """List decisions in log order, filtered by moderator, reason, article or time."""
        limit = args["limit"]
        rows = runtime().audit.decisions(
            moderator=args["moderator"], reason=args["reason"], article_id=args["article_id"],
            comment_id=args["comment_id"], decision=args["decision"], since=args["since"],
            until=args["until"], after=cursors.decode("decisions", args["cursor"]),
            limit=limit + 1)
        return {"items": rows[:limit],
                "next_cursor": cursors.next_cursor("decisions", rows, limit, "position")}


@blp.route("/actions")
class Actions(MethodView):
    @requires(*ACTION_READERS)
    @blp.arguments(ActionArgsSchema, location="query")
    @blp.response(200, ActionPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, args):
        """List administrative actions (tokens, webhook endpoints, articles) in log order."""
        limit = args["limit"]
        rows = runtime().audit.actions(
            actor=args["actor"], type_=args["type"], since=args["since"], until=args["until"],
            after=cursors.decode("actions", args["cursor"]), limit=limit + 1)
        return {"items": rows[:limit],
                "next_cursor": cursors.next_cursor("actions", rows, limit, "position")}


@blp.route("/checkpoints")
class Checkpoints(MethodView):
    @requires(*AUDITORS)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, CheckpointPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, args):
        """List signed checkpoints of the hash chain, newest first, with the public key."""
        checkpoints = runtime().services.checkpoints
        assert checkpoints is not None
        limit = args["limit"]
        rows = checkpoints.list(before=cursors.decode("checkpoints", args["cursor"]),
                                limit=limit + 1)
        return {"public_key": checkpoints.public_key, "key_id": checkpoints.key_id,
                "items": rows[:limit],
                "next_cursor": cursors.next_cursor("checkpoints", rows, limit, "position")}


@blp.route("/proof")
class InclusionProof(MethodView):
    @requires(*AUDITORS)
    @blp.arguments(ProofArgsSchema, location="query")
    @blp.response(200, InclusionProofSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args):
        """What proves an event is in the log under a signed checkpoint (the latest by
        default): the events from it to the checkpoint, hashed forward, land on the signed
        hash. Check it offline with `moderation audit check-proof`."""
        proofs = runtime().services.proofs
        assert proofs is not None
        return proofs.inclusion(args["position"], args["checkpoint"])


@blp.route("/consistency")
class ConsistencyProof(MethodView):
    @requires(*AUDITORS)
    @blp.arguments(ConsistencyArgsSchema, location="query")
    @blp.response(200, ConsistencyProofSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args):
        """What proves a later checkpoint's log extends an earlier one's, unrewritten."""
        proofs = runtime().services.proofs
        assert proofs is not None
        return proofs.consistency(args["from_"], args["to"])


@blp.route("/export")
class Export(MethodView):
    @requires(*ACTION_READERS)
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, content_type="application/x-ndjson", description=(
        "jsonl: one decision (approval, rejection, report dismissal) or administrative "
        "action a line (position, hash, type, recorded_at, stream_id, event_id, actor, "
        "erased, data), then an `export.closed` line with the latest checkpoint. `erased` "
        "is true on a decision about a comment whose author was erased, as in "
        "/v1/audit/decisions, and null on actions. csv: the same columns (erased as "
        "true, false or empty), data as JSON, the closing row last."))
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, args):
        """Stream every decision and administrative action recorded in [since, until)."""
        exports = runtime().services.exports
        assert exports is not None
        window = exports.window(args["since"], args["until"])
        fmt = args["format"]
        media = "application/x-ndjson" if fmt == "jsonl" else "text/csv; charset=utf-8"
        return Response(stream_with_context(exports.stream(fmt, window)), status=200,
                        headers={"Content-Type": media, "Cache-Control": "no-store",
                                 "X-Accel-Buffering": "no",
                                 "Content-Disposition":
                                     f'attachment; filename="audit-{window.last}.{fmt}"'})
