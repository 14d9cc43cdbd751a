"""The global event feed: every fact in log order, gapless, for auditors and integrations."""

from __future__ import annotations

from flask.views import MethodView

from ..application.visibility import hidden_types, reads_personal_data
from .auth import AUDITORS, requires, role
from .json_body import json_response
from .requests import Blueprint
from .runtime import runtime
from .schemas import FeedArgsSchema, FeedSchema

blp = Blueprint("events", __name__, url_prefix="/v1/events",
                description="The event log as a feed. Auditors never see personal data "
                            "(author name, e-mail, address, comment text); moderators and "
                            "admins do. Moderators do not see the service's administration "
                            "(token.*, webhook_endpoint.*, webhook_secret.rotated, "
                            "author.looked_up, author.exported); auditors and admins do.")


@blp.route("")
class Feed(MethodView):
    @requires(*AUDITORS)
    @blp.arguments(FeedArgsSchema, location="query")
    @blp.response(200, FeedSchema)
    def get(self, args):
        """Read the event log after a position, in order."""
        items = runtime().services.queries.feed(
            after=args["after"], limit=args["limit"], types=args["type"],
            personal=reads_personal_data(role()), hidden=hidden_types(role()))
        # the entries are plain JSON data already, in the schema's shape and key order:
        # written as they are (the schema documents them)
        return json_response(
            {"items": items, "next_after": items[-1]["position"] if items else args["after"]})
