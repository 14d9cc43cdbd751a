"""Helpers other test packages may use (the API's OpenAPI conformance run)."""

from __future__ import annotations

from service.bootstrap import Services
from service.db import write_transaction
from service.webhooks import endpoints, outbox


def existing_ids(services: Services) -> dict[str, int]:
    """An endpoint and a delivery that exist, for path parameters of generated requests."""
    with write_transaction(services.engine) as conn:
        endpoint, _ = endpoints.create(conn, url="https://hooks.example.com/moderation",
                                       now=services.clock())
        delivery_id = outbox.add_ping(conn, endpoint.id, now=services.clock())
    return {"endpoint_id": endpoint.id, "delivery_id": delivery_id}
