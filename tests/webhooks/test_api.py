"""The admin HTTP API for webhooks: /v1/webhooks/..., admin tokens only, one error format."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from service.app import create_app
from service.db import write_transaction
from service.identity import tokens as api_tokens

from ..api.helpers import assert_error, bearer
from .conftest import moderate
from .receivers import Receiver


@pytest.fixture
def admin(services) -> dict[str, str]:  # noqa: ANN001
    with write_transaction(services.engine) as conn:
        token = api_tokens.create(conn, name="root", role="admin", now=services.clock())[1]
    return bearer(token)


@pytest.fixture
def moderator(services) -> dict[str, str]:  # noqa: ANN001
    with write_transaction(services.engine) as conn:
        token = api_tokens.create(conn, name="maya", role="moderator", now=services.clock())[1]
    return bearer(token)


@pytest.fixture
def client(services, hooks) -> Iterator[FlaskClient]:  # noqa: ANN001
    services.webhooks = hooks  # the facade allowed to reach the loopback receiver
    app = create_app(replace(services.settings, submit_rate_limit="100000/minute"), services)
    app.config["TESTING"] = True
    with app.test_client() as c:
        yield c


def create(client: FlaskClient, admin: dict, receiver: Receiver, **body) -> dict:
    response = client.post("/v1/webhooks/endpoints", json={"url": receiver.url, **body},
                           headers=admin)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    receiver.secrets.append(created["secret"])
    return created


def test_an_admin_manages_endpoints(client, admin, receiver, clock):
    created = create(client, admin, receiver, event_types=["comment.approved"],
                     description="cache purger")
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["comment.approved"] and created["enabled"]
    location = f"/v1/webhooks/endpoints/{created['id']}"
    shown = client.get(location, headers=admin)
    assert shown.status_code == 200 and "secret" not in shown.get_json()
    assert shown.headers["ETag"] == '"1"'
    listed = client.get("/v1/webhooks/endpoints", headers=admin).get_json()["items"]
    assert [e["id"] for e in listed] == [created["id"]]
    changed = client.patch(location, json={"enabled": False, "description": "paused"},
                           headers={**admin, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["enabled"], body["description"], body["version"]) == (False, "paused", 2)
    assert body["disabled_reason"] == "disabled by an administrator"
    stale = assert_error(client.patch(location, json={"enabled": True},
                                      headers={**admin, "If-Match": '"1"'}), 409,
                         "version_conflict")
    assert stale["current_version"] == 2
    assert_error(client.patch(location, json={"description": "weak"},
                              headers={**admin, "If-Match": 'W/"2"'}), 412, "precondition_failed")
    for bad in ("a\u0000b", "bell\u0007", "esc\u001b[31m"):
        assert_error(client.patch(location, json={"description": bad}, headers=admin), 422,
                     "validation_failed")
    assert client.get(location, headers=admin).get_json()["description"] == "paused"
    assert_error(client.post(f"{location}/test", headers=admin), 409,
                 "webhook_endpoint_disabled")
    assert client.patch(location, json={"enabled": True}, headers=admin).status_code == 200
    rotated = client.post(f"{location}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert rotated.get_json()["secret"] != created["secret"]
    assert len(rotated.get_json()["old_secrets_expire_at"]) == 1
    assert client.delete(location, headers=admin).status_code == 204
    assert_error(client.get(location, headers=admin), 404, "webhook_endpoint_not_found")


def test_only_admins_and_only_safe_urls(client, admin, moderator, receiver):
    assert_error(client.get("/v1/webhooks/endpoints"), 401, "unauthenticated")
    assert_error(client.get("/v1/webhooks/endpoints", headers=moderator), 403, "forbidden")
    for url, field_message in (("http://169.254.169.254/", "link-local"),
                               ("http://2130706433/", "non-canonical"),
                               ("http://u:p@example.com/", "credentials"),
                               ("ftp://example.com/", "http and https")):
        body = assert_error(client.post("/v1/webhooks/endpoints", json={"url": url},
                                        headers=admin), 422, "invalid_input")
        assert field_message in body["errors"]["url"][0]
    body = assert_error(client.post("/v1/webhooks/endpoints",
                                    json={"url": receiver.url, "event_types": ["nope"]},
                                    headers=admin), 422, "validation_failed")
    assert "event_types.0" in body["errors"]
    assert_error(client.post("/v1/webhooks/endpoints", json={"url": receiver.url, "x": 1},
                             headers=admin), 422, "validation_failed")


def test_deliveries_attempts_ping_redeliver_recover(client, admin, services, hooks, receiver,
                                                    clock):
    created = create(client, admin, receiver)
    base = f"/v1/webhooks/endpoints/{created['id']}"
    moderate(services)
    ping = client.post(f"{base}/test", headers=admin)
    assert ping.status_code == 202 and ping.get_json()["event_type"] == "webhook.ping"
    from service.api.webhook_schemas import DeliverySchema

    assert DeliverySchema().validate(ping.get_json()) == {}  # every required field is there
    assert (ping.get_json()["attempt_count"], ping.get_json()["in_flight"]) == (0, False)
    answers = iter([500, 204, 204, 204, 204, 204, 204])
    receiver.respond = lambda r: (next(answers), {}, b"nope")
    hooks.dispatcher().run(once=True, concurrency=1)
    page = client.get(f"{base}/deliveries?limit=2", headers=admin).get_json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(f"{base}/deliveries?limit=10&cursor={page['next_cursor']}",
                      headers=admin).get_json()
    assert len(page["items"]) + len(rest["items"]) == 4 and rest["next_cursor"] is None
    pending = client.get(f"{base}/deliveries?status=pending", headers=admin).get_json()["items"]
    [retrying] = pending
    detail = client.get(f"/v1/webhooks/deliveries/{retrying['id']}", headers=admin).get_json()
    [attempt] = detail["attempts"]
    assert (attempt["trigger"], attempt["number"], attempt["status_code"]) == ("auto", 1, 500)
    assert attempt["response_body"] == "nope" and attempt["duration_ms"] >= 0
    assert detail["payload"]["type"] == detail["event_type"]
    assert detail["event_id"] == receiver.received[0].webhook_id
    pings = client.get(f"{base}/deliveries?event_type=webhook.ping", headers=admin).get_json()
    assert [d["event_type"] for d in pings["items"]] == ["webhook.ping"]
    redo = client.post(f"/v1/webhooks/deliveries/{retrying['id']}/redeliver", headers=admin)
    assert redo.status_code == 202
    hooks.dispatcher().run(once=True, concurrency=1)
    detail = client.get(f"/v1/webhooks/deliveries/{retrying['id']}", headers=admin).get_json()
    assert [a["trigger"] for a in detail["attempts"]] == ["auto", "manual"]
    assert detail["status"] == "succeeded"
    recovered = client.post(f"{base}/recover", json={"since": "2026-01-01T00:00:00Z"},
                            headers=admin)
    assert recovered.status_code == 202
    assert recovered.get_json() == {"requeued": 0, "backfilled": 0}
    assert_error(client.post(f"{base}/recover", json={"since": "2026-01-01T00:00:00"},
                             headers=admin), 422, "validation_failed")
    assert_error(client.get("/v1/webhooks/deliveries/999999", headers=admin), 404,
                 "webhook_delivery_not_found")
    assert_error(client.get(f"{base}/deliveries?cursor=bogus", headers=admin), 400,
                 "invalid_cursor")
    assert all(r.verified_with == [0] for r in receiver.received)


def test_the_openapi_document_describes_the_webhook_api(client):
    spec = client.get("/openapi.json").get_json()
    paths = spec["paths"]
    for path in ("/v1/webhooks/endpoints", "/v1/webhooks/endpoints/{endpoint_id}",
                 "/v1/webhooks/endpoints/{endpoint_id}/rotate-secret",
                 "/v1/webhooks/endpoints/{endpoint_id}/test",
                 "/v1/webhooks/endpoints/{endpoint_id}/deliveries",
                 "/v1/webhooks/endpoints/{endpoint_id}/recover",
                 "/v1/webhooks/deliveries/{delivery_id}",
                 "/v1/webhooks/deliveries/{delivery_id}/redeliver"):
        assert path in paths, path
    assert paths["/v1/webhooks/endpoints"]["post"]["summary"].startswith("Register")


def test_a_description_of_exactly_the_limit_is_kept(client, admin, receiver):
    from service.domain.subscriptions import MAX_DESCRIPTION

    created = create(client, admin, receiver, description="d" * MAX_DESCRIPTION)
    assert created["description"] == "d" * 500
    location = f"/v1/webhooks/endpoints/{created['id']}"
    body = assert_error(client.patch(location, json={"description": "d" * 501},
                                     headers={**admin, "If-Match": '"1"'}), 422,
                        "validation_failed")
    assert "description" in body["errors"]
    refused = client.post("/v1/webhooks/endpoints",
                          json={"url": receiver.url, "description": "d" * 501}, headers=admin)
    assert_error(refused, 422, "validation_failed")
