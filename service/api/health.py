"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import exc as sa_exc

from .errors import RETRY_AFTER_SECONDS, ApiError
from .requests import Blueprint
from .runtime import runtime
from .schemas import HealthSchema, ReadinessSchema

blp = Blueprint("health", __name__, description="Process and database health (public).")


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Report that the process is up."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """Report whether the database is reachable, at the schema head and projected."""
        rt = runtime()
        services = rt.services
        try:
            ready = services.queries.readiness(services.runner, rt.schema_head)
        except sa_exc.DBAPIError as exc:
            raise _not_ready("The database is not reachable.") from exc
        current, head, behind = ready.schema_revision, ready.log_head, ready.behind
        if current != rt.schema_head:
            raise _not_ready(f"The database schema is at {current or 'nothing'}, "
                             f"this code needs {rt.schema_head}; run "
                             "'moderation db upgrade'.")
        if behind:
            raise _not_ready(f"Read models behind the event log: {', '.join(behind)}; run "
                             "'moderation projections rebuild'.")
        return {"status": "ready", "schema_revision": current,
                "expected_revision": rt.schema_head, "log_head": head}


def _not_ready(message: str) -> ApiError:
    return ApiError(503, "not_ready", message,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
