"""The event log as a live stream (server-sent events), for dashboards and integrations.

Same roles and filtering as the feed (auditors never see personal data, moderators never
the service's administration: see application/visibility.py), same `type` filter. Each
event is one SSE message whose `id` is its log position and whose `data` is the event as
the feed shows it; resume with `Last-Event-ID` (what EventSource
sends on reconnecting) or `?after=`. A comment line every MODERATION_STREAM_HEARTBEAT_SECONDS
keeps proxies from closing an idle stream; after MODERATION_STREAM_MAX_SECONDS the server
ends it and the client reconnects from its last id. At most MODERATION_STREAM_MAX_OPEN
streams are open per server process (503 with Retry-After beyond). An idle stream holds no
database connection: one poller per process reads new events once for all of them.
With `claims=true` (moderators and admins; anyone else asking is refused with 403) it also
carries claims as they change, as `event: claim` messages without an id, so resuming by
position is unaffected.
"""

from __future__ import annotations

import json
import re

from flask import Response, request
from flask.views import MethodView

from ..application.live import ClaimChange, Heartbeat, TooManyStreams
from ..application.visibility import hidden_types, reads_personal_data
from .auth import AUDITORS, MODERATORS, requires, role
from .errors import ApiError
from .requests import Blueprint
from .runtime import runtime
from .schemas import StreamArgsSchema

blp = Blueprint("event_stream", __name__, url_prefix="/v1/events",
                description="The event log live, as server-sent events.")

LAST_EVENT_ID = {
    "in": "header", "name": "Last-Event-ID", "required": False,
    "schema": {"type": "string", "pattern": "^[0-9]{0,18}$"},
    "description": "The last position received; the stream continues after it (wins over "
                   "`after`). Empty: as if it were not sent.",
}
POSITION = re.compile(r"^\s*[0-9]{1,18}\s*$")
RETRY_MS = 2000


@blp.route("/stream", parameters=[LAST_EVENT_ID])
class EventStream(MethodView):
    @requires(*AUDITORS)
    @blp.arguments(StreamArgsSchema, location="query")
    @blp.response(200, content_type="text/event-stream", description=(
        "`text/event-stream`: `id: <position>` and `data: <event JSON>` per event, "
        "`: heartbeat` comments while idle."))
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self, args):
        """Follow the event log live from a position (server-sent events)."""
        after = args["after"]
        header = request.headers.get("Last-Event-ID")
        if header is not None and header.strip():
            if not POSITION.match(header):
                raise ApiError(400, "invalid_last_event_id",
                               "Last-Event-ID must be a log position, e.g. 42.",
                               {"Last-Event-ID": ["Expected a whole number."]})
            after = int(header)
        if args["claims"] and role() not in MODERATORS:  # refused, not silently left out
            raise ApiError(403, "forbidden",
                           f"Claims are for moderators and admins; the role '{role()}' may "
                           "not ask for them.", {"claims": ["Moderators and admins only."]})
        rt = runtime()
        settings = rt.settings
        try:
            personal = reads_personal_data(role())
            stream = rt.services.streams.open(
                after=after, personal=personal, types=args["type"],
                hidden=hidden_types(role()),
                heartbeat_seconds=settings.stream_heartbeat_seconds,
                max_seconds=settings.stream_max_seconds, claims=args["claims"])
        except TooManyStreams:
            raise ApiError(503, "too_many_streams",
                           "This server has as many open event streams as it allows; retry "
                           "after the time in Retry-After.",
                           headers={"Retry-After": "5"}) from None
        return Response(_messages(stream, after), status=200, headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store", "X-Accel-Buffering": "no"})


class _Messages:
    """The SSE text of a stream; closing it (the server does, when the client leaves)
    closes the stream."""

    def __init__(self, stream, after: int):  # noqa: ANN001
        self._stream = stream
        self._first = f"retry: {RETRY_MS}\n: stream after {after}\n\n"

    def __iter__(self):  # noqa: ANN204
        yield self._first.encode()
        for item in self._stream:
            if isinstance(item, Heartbeat):
                yield f": heartbeat {item.position}\n\n".encode()
            elif isinstance(item, ClaimChange):
                data = json.dumps(item.payload(), separators=(",", ":"))
                yield f"event: claim\ndata: {data}\n\n".encode()
            else:
                data = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
                yield f"id: {item['position']}\ndata: {data}\n\n".encode()

    def close(self) -> None:
        self._stream.close()


def _messages(stream, after: int) -> _Messages:  # noqa: ANN001
    return _Messages(stream, after)
