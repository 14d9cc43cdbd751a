"""Webhook endpoints and their deliveries, for administrators.

An endpoint's secret is in the answer to its creation and to rotate-secret, never again.
Deliveries and every attempt (time, duration, status code or transport error, a truncated
response body) can be listed and read; a delivery can be sent again by hand, and an
endpoint can be sent what it missed in a time window (`recover`).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import Response
from flask.views import MethodView

from . import cursors
from .auth import ADMINS, actor, context, requires
from .etags import if_match_parameter, if_match_version
from .requests import Blueprint
from .runtime import runtime
from .schemas import StreamConflictSchema
from .webhook_schemas import (
    DeliveryArgsSchema,
    DeliveryDetailSchema,
    DeliveryPageSchema,
    DeliverySchema,
    EndpointCreatedSchema,
    EndpointInSchema,
    EndpointListSchema,
    EndpointPatchSchema,
    EndpointSchema,
    RecoverInSchema,
    RecoverSchema,
    SecretSchema,
)

if TYPE_CHECKING:  # the facade is built by the composition root and reached at runtime
    from ..webhooks.admin import Webhooks

log = logging.getLogger(__name__)

blp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks",
                description="Webhook endpoints, their signing secrets, deliveries and attempts.")

IF_MATCH = if_match_parameter(
    'The endpoint version from its ETag ("3"); 409 version_conflict when it has changed '
    "since.", required=False)
# -- resources ----------------------------------------------------------------------------

def _hooks() -> Webhooks:
    hooks = runtime().services.webhooks
    assert hooks is not None
    return hooks


def _endpoint(endpoint_id: int) -> dict[str, Any]:
    hooks = _hooks()
    return {**hooks.endpoint(endpoint_id).as_dict(),
            "old_secrets_expire_at": hooks.secret_expiries(endpoint_id)}


@blp.route("/endpoints")
class Endpoints(MethodView):
    @requires(*ADMINS)
    @blp.response(200, EndpointListSchema)
    def get(self):
        """List webhook endpoints."""
        hooks = _hooks()
        return {"items": [{**e.as_dict(), "old_secrets_expire_at": hooks.secret_expiries(e.id)}
                          for e in hooks.endpoints()]}

    @requires(*ADMINS)
    @blp.arguments(EndpointInSchema)
    @blp.response(201, EndpointCreatedSchema, headers={
        "Location": {"description": "URL of the endpoint.", "schema": {"type": "string"}}})
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, body):
        """Register an endpoint; the answer holds its signing secret, shown only once."""
        endpoint, secret = _hooks().create_endpoint(
            body["url"], event_types=body["event_types"], description=body["description"],
            include_body=body["include_body"], metadata=context().metadata())
        log.info("webhook endpoint %d registered by %s for %s", endpoint.id, actor().id,
                 endpoint.url)
        return ({**_endpoint(endpoint.id), "secret": secret}, 201,
                {"Location": f"/v1/webhooks/endpoints/{endpoint.id}",
                 "ETag": f'"{endpoint.version}"', "Cache-Control": "no-store"})


@blp.route("/endpoints/<int(max=2147483647):endpoint_id>")
class EndpointResource(MethodView):
    @requires(*ADMINS)
    @blp.response(200, EndpointSchema, headers={
        "ETag": {"description": 'The version, e.g. "3".', "schema": {"type": "string"}}})
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, endpoint_id: int):
        """Show an endpoint (never its secret)."""
        endpoint = _endpoint(endpoint_id)
        return endpoint, 200, {"ETag": f'"{endpoint["version"]}"'}

    @requires(*ADMINS)
    @blp.arguments(EndpointPatchSchema)
    @blp.response(200, EndpointSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, schema=StreamConflictSchema,
                      description="version_conflict: the endpoint changed since that ETag.")
    @blp.alt_response(412, response="PRECONDITION_FAILED")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    @blp.doc(parameters=[IF_MATCH])
    def patch(self, body, endpoint_id: int):
        """Change an endpoint's URL, event types, description, body opt-in or enabled."""
        changes = {k: v for k, v in body.items()}
        if "description" in changes and changes["description"] is None:
            changes["description"] = ""
        expected = if_match_version("webhook endpoint")
        _hooks().update_endpoint(endpoint_id, expected_version=expected,
                                 metadata=context().metadata(), **changes)
        log.info("webhook endpoint %d changed by %s: %s", endpoint_id, actor().id,
                 ", ".join(sorted(changes)) or "nothing")
        endpoint = _endpoint(endpoint_id)
        return endpoint, 200, {"ETag": f'"{endpoint["version"]}"'}

    @requires(*ADMINS)
    @blp.response(204)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, endpoint_id: int):
        """Delete an endpoint with its delivery history."""
        _hooks().delete_endpoint(endpoint_id, metadata=context().metadata())
        log.info("webhook endpoint %d deleted by %s", endpoint_id, actor().id)
        return Response(status=204)


@blp.route("/endpoints/<int(max=2147483647):endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    @requires(*ADMINS)
    @blp.response(200, SecretSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, endpoint_id: int):
        """Make a new signing secret; the previous one keeps signing during the overlap."""
        secret, expiries = _hooks().rotate_secret(endpoint_id, metadata=context().metadata())
        log.info("webhook endpoint %d secret rotated by %s", endpoint_id, actor().id)
        return ({"secret": secret, "old_secrets_expire_at": expiries}, 200,
                {"Cache-Control": "no-store"})


@blp.route("/endpoints/<int(max=2147483647):endpoint_id>/test")
class TestPing(MethodView):
    @requires(*ADMINS)
    @blp.response(202, DeliverySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, endpoint_id: int):
        """Queue a signed webhook.ping to the endpoint; follow it at the delivery's URL."""
        delivery = _hooks().send_test(endpoint_id)
        return delivery, 202, {"Location": f"/v1/webhooks/deliveries/{delivery['id']}"}


@blp.route("/endpoints/<int(max=2147483647):endpoint_id>/deliveries")
class EndpointDeliveries(MethodView):
    @requires(*ADMINS)
    @blp.arguments(DeliveryArgsSchema, location="query")
    @blp.response(200, DeliveryPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args, endpoint_id: int):
        """List an endpoint's deliveries, newest first."""
        limit = args["limit"]
        rows = _hooks().deliveries(
            endpoint_id, status=args["status"], event_type=args["event_type"],
            since=args["since"], until=args["until"],
            before_id=cursors.decode("deliveries", args["cursor"]), limit=limit + 1)
        return {"items": rows[:limit],
                "next_cursor": cursors.next_cursor("deliveries", rows, limit, "id")}


@blp.route("/endpoints/<int(max=2147483647):endpoint_id>/recover")
class Recover(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RecoverInSchema)
    @blp.response(202, RecoverSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body, endpoint_id: int):
        """Resend what the endpoint missed between since and until (at most 10,000)."""
        result = _hooks().recover(endpoint_id, since=body["since"], until=body["until"])
        log.info("webhook endpoint %d recovery by %s: %s", endpoint_id, actor().id, result)
        return result, 202


@blp.route("/deliveries/<int(max=9223372036854775807):delivery_id>")
class DeliveryResource(MethodView):
    @requires(*ADMINS)
    @blp.response(200, DeliveryDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, delivery_id: int):
        """Show a delivery with every attempt made."""
        delivery = _hooks().delivery(delivery_id)
        return {**delivery, "payload": json.loads(delivery["payload"])}


@blp.route("/deliveries/<int(max=9223372036854775807):delivery_id>/redeliver")
class Redeliver(MethodView):
    @requires(*ADMINS)
    @blp.response(202, DeliverySchema)
    @blp.alt_response(404, response="NOT_FOUND")
    @blp.alt_response(409, response="CONFLICT")
    def post(self, delivery_id: int):
        """Send a delivery again now: same webhook-id, fresh timestamp and signature."""
        delivery = _hooks().redeliver(delivery_id)
        log.info("webhook delivery %d redelivery requested by %s", delivery_id, actor().id)
        return delivery, 202, {"Location": f"/v1/webhooks/deliveries/{delivery_id}"}


def _sentence(value: object) -> str:
    text = str(value).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
