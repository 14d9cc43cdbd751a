"""Moderation statistics for dashboards: queue health and decision throughput."""

from __future__ import annotations

from flask.views import MethodView

from .auth import AUDITORS, requires
from .requests import Blueprint
from .runtime import runtime
from .schemas import StatsSchema, WindowArgsSchema

blp = Blueprint("stats", __name__, url_prefix="/v1/stats",
                description="Queue depth and age now; decisions and time to decision in a "
                            "window (all time when since/until are omitted).")


@blp.route("")
class Stats(MethodView):
    @requires(*AUDITORS)
    @blp.arguments(WindowArgsSchema, location="query")
    @blp.response(200, StatsSchema)
    def get(self, args):
        """Summarise the queue and the decisions made in [since, until)."""
        return runtime().audit.stats(since=args["since"], until=args["until"])
