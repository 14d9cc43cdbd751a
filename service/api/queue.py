"""The moderation queue: pending comments for moderators, oldest or newest first."""

from __future__ import annotations

from datetime import datetime

from flask.views import MethodView

from . import cursors
from .auth import MODERATORS, actor, requires
from .requests import Blueprint
from .runtime import runtime
from .schemas import QueueArgsSchema, QueuePageSchema

REPORTED_KEY = (int, float, datetime, str)  # open reports, risk, submitted at, comment id

blp = Blueprint("queue", __name__, url_prefix="/v1/queue",
                description="Pending comments waiting for a decision.")


@blp.route("")
class Queue(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(QueueArgsSchema, location="query")
    @blp.response(200, QueuePageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, args):
        """List pending comments (or, with state=reported, reported ones) and their count."""
        if args["state"] == "reported":
            return _reported(args)
        sort, limit = args["sort"], args["limit"]
        kind = f"queue-{sort}"
        score_key = "risk" if sort == "risk" else None
        after, after_risk = cursors.decode_scored(kind, args["cursor"],
                                                  scored=score_key is not None)
        items, total, position = runtime().services.queries.queue_at(
            sort=sort, article_id=args["article_id"], flag=args["flag"], after=after,
            after_risk=after_risk, limit=limit + 1, viewer=actor().id,
            unclaimed=args["unclaimed"])
        return {"items": items[:limit], "total": total, "position": position,
                "next_cursor": cursors.next_cursor(kind, items, limit, "submitted_position",
                                                   score_key)}


def _reported(args: dict) -> dict:
    """Most open reports first, then riskiest, then oldest; paged by a keyset cursor (the
    last row's place in that order), so a page never repeats or skips a comment because
    others were resolved or reported meanwhile."""
    limit = args["limit"]
    after = cursors.decode_keys("queue-reported", args["cursor"], REPORTED_KEY)
    items, total = runtime().services.queries.reported(
        article_id=args["article_id"], after=after, limit=limit + 1)
    keys = [item.pop("order_key") for item in items]
    more = len(items) > limit
    return {"items": items[:limit], "total": total,
            "next_cursor": cursors.encode_keys("queue-reported", keys[limit - 1])
            if more else None}
