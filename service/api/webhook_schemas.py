"""The webhook API's request and response schemas (the blueprint is service/api/webhooks.py),
in the same dialect as service/api/schemas.py: unknown fields refused, times in UTC."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from ..domain.subscriptions import DELIVERY_STATUSES as STATUSES
from ..domain.subscriptions import MAX_DESCRIPTION, PING, SUBSCRIBABLE
from .schemas import MAX_PAGE, StoredText, StrictSchema, Timestamp

EVENT_TYPE_NOTE = (f"Known types: {', '.join(SUBSCRIBABLE)}. Empty or absent means all of "
                   "them; `webhook.ping` is only sent by the test action.")


class EndpointInSchema(StrictSchema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "http(s) URL the events are POSTed to. Checked now and at every send: "
                       "it must resolve only to public addresses (private, link-local and "
                       "metadata addresses are refused with 422, and loopback too unless the "
                       "server runs with MODERATION_WEBHOOK_ALLOW_LOOPBACK=1)."})
    event_types = fields.List(fields.String(validate=validate.OneOf(SUBSCRIBABLE)),
                              load_default=None, metadata={"description": EVENT_TYPE_NOTE})
    description = StoredText(max_len=MAX_DESCRIPTION, load_default=None, allow_none=True)
    include_body = fields.Boolean(load_default=False, metadata={
        "description": "Put the comment text in comment.submitted (off by default)."})


class EndpointPatchSchema(StrictSchema):
    url = fields.String(validate=validate.Length(min=1, max=2000))
    event_types = fields.List(fields.String(validate=validate.OneOf(SUBSCRIBABLE)),
                              metadata={"description": EVENT_TYPE_NOTE})
    description = StoredText(max_len=MAX_DESCRIPTION, allow_none=True)
    include_body = fields.Boolean()
    enabled = fields.Boolean(metadata={
        "description": "true re-enables a disabled endpoint (its held deliveries then go "
                       "out); false stops sending."})


class EndpointSchema(ma.Schema):
    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True)
    include_body = fields.Boolean(required=True)
    enabled = fields.Boolean(required=True)
    disabled_at = fields.DateTime(allow_none=True, required=True)
    disabled_reason = fields.String(allow_none=True, required=True)
    failing_since = fields.DateTime(allow_none=True, required=True, metadata={
        "description": "Start of the current run of failed attempts (null after a success)."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    version = fields.Integer(required=True)
    old_secrets_expire_at = fields.List(fields.DateTime(), required=True, metadata={
        "description": "When each previous secret, still signing after a rotation, stops."})


class EndpointCreatedSchema(EndpointSchema):
    secret = fields.String(required=True, metadata={
        "description": "The signing secret (whsec_...). Shown only now."})


class EndpointListSchema(ma.Schema):
    items = fields.List(fields.Nested(EndpointSchema), required=True)


class SecretSchema(ma.Schema):
    secret = fields.String(required=True, metadata={"description": "The new secret; shown once."})
    old_secrets_expire_at = fields.List(fields.DateTime(), required=True)


class DeliveryArgsSchema(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    event_type = fields.String(load_default=None,
                               validate=validate.OneOf((*SUBSCRIBABLE, PING)))
    since = Timestamp(load_default=None, metadata={"description": "Made at or after."})
    until = Timestamp(load_default=None, metadata={
        "description": "Made before; must be later than since (equal is refused: 422)."})
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))

    @ma.validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ma.ValidationError("Must be later than since.", "until")


class RecoverInSchema(StrictSchema):
    since = Timestamp(required=True)
    until = Timestamp(load_default=None, metadata={
        "description": "Exclusive end; must be later than since (equal is refused: 422)."})

    @ma.validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ma.ValidationError("Must be later than since.", "until")


class RecoverSchema(ma.Schema):
    requeued = fields.Integer(required=True, metadata={
        "description": "Failed deliveries sent again (one manual attempt each)."})
    backfilled = fields.Integer(required=True, metadata={
        "description": "Events of the endpoint's types it never had a delivery for (it was "
                       "disabled, or did not exist yet), now queued."})


class AttemptSchema(ma.Schema):
    id = fields.Integer(required=True)
    trigger = fields.String(required=True, attribute="kind",
                            metadata={"description": "auto or manual."})
    number = fields.Integer(allow_none=True, required=True, metadata={
        "description": "The automatic attempt's number; null for manual ones."})
    started_at = fields.DateTime(required=True)
    duration_ms = fields.Integer(required=True)
    status_code = fields.Integer(allow_none=True, required=True, metadata={
        "description": "null when no HTTP response came (see error)."})
    succeeded = fields.Boolean(required=True)
    error = fields.String(allow_none=True, required=True, metadata={
        "description": "e.g. 'HTTP 500', 'connect: ...', 'deadline: ...', 'blocked: ...'."})
    response_body = fields.String(allow_none=True, required=True,
                                  metadata={"description": "The start of the response body."})
    next_attempt_at = fields.DateTime(allow_none=True, required=True)


class DeliverySchema(ma.Schema):
    id = fields.Integer(required=True)
    endpoint_id = fields.Integer(required=True)
    event_id = fields.String(required=True, metadata={"description": "The webhook-id."})
    event_type = fields.String(required=True)
    event_position = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True, metadata={"description": "pending, succeeded or failed"})
    in_flight = fields.Boolean(required=True, metadata={
        "description": "A dispatcher holds it right now."})
    attempt_count = fields.Integer(required=True,
                                   metadata={"description": "Automatic attempts made."})
    next_attempt_at = fields.DateTime(allow_none=True, required=True)
    manual_requested_at = fields.DateTime(allow_none=True, required=True)
    created_at = fields.DateTime(required=True)
    last_attempt_at = fields.DateTime(allow_none=True, required=True)
    last_status_code = fields.Integer(allow_none=True, required=True)
    last_error = fields.String(allow_none=True, required=True)
    succeeded_at = fields.DateTime(allow_none=True, required=True)


class DeliveryDetailSchema(DeliverySchema):
    payload = fields.Dict(required=True, metadata={
        "description": "The document sent (without the comment body, which is added at "
                       "send time for endpoints that opted in)."})
    attempts = fields.List(fields.Nested(AttemptSchema), required=True)


class DeliveryPageSchema(ma.Schema):
    items = fields.List(fields.Nested(DeliverySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


