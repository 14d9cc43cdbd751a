"""Administrative actions are events with their actor, listed at GET /v1/audit/actions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from service.app import create_app
from service.application.commands import Actor, Context
from service.db import read_transaction
from service.eventstore import chain
from service.identity import tokens as api_tokens
from service.identity.tokens import TokenError
from service.webhooks.admin import Webhooks

from .helpers import assert_error, bearer

HOOK_URL = "http://127.0.0.1:9/hooks/cap-7f3a9?key=receiver-capability"


@pytest.fixture
def client(services, api_settings) -> Iterator[FlaskClient]:  # noqa: ANN001
    """The API with a webhook facade allowed to register loopback URLs."""
    services.webhooks = Webhooks(
        services.engine, replace(api_settings, webhook_allow_loopback=True), services.clock,
        services.store, services.codec_for, unit_of_work=services.moderation.unit_of_work)
    app = create_app(api_settings, services)
    app.config["TESTING"] = True
    with app.test_client() as c:
        yield c


def actions(client, token, **query) -> dict:  # noqa: ANN001
    response = client.get("/v1/audit/actions", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def stored_log(services) -> str:  # noqa: ANN001
    """Every stored event's data and metadata as text, straight from the table."""
    with read_transaction(services.engine) as conn:
        rows = conn.execute(sa.text("SELECT data, metadata FROM events")).all()
    return " ".join(f"{d} {m}" for d, m in rows)


def test_webhook_administration_is_recorded_with_its_actor_and_no_secret(
        client, services, tokens):
    admin = bearer(tokens.admin)
    created = client.post("/v1/webhooks/endpoints", headers=admin, json={
        "url": HOOK_URL, "event_types": ["comment.approved"], "description": "purger"})
    assert created.status_code == 201, created.get_json()
    endpoint = created.get_json()
    base = f"/v1/webhooks/endpoints/{endpoint['id']}"
    assert client.patch(base, headers=admin, json={"description": "cache purger",
                                                   "enabled": False}).status_code == 200
    assert client.patch(base, headers=admin, json={"enabled": True}).status_code == 200
    rotated = client.post(f"{base}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    assert client.delete(base, headers=admin).status_code == 204

    items = actions(client, tokens.auditor)["items"]
    assert [i["type"] for i in items] == [
        "webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.disabled",
        "webhook_endpoint.updated", "webhook_secret.rotated", "webhook_endpoint.deleted"]
    assert {i["actor"]["id"] for i in items} == {"root"}
    assert {i["actor"]["role"] for i in items} == {"admin"}
    assert {i["stream_id"] for i in items} == {f"webhook-endpoint-{endpoint['id']}"}
    first = items[0]["data"]
    assert first["url_origin"] == "http://127.0.0.1:9"
    assert len(first["url_sha256"]) == 64
    assert first["event_types"] == ["comment.approved"]
    assert items[1]["data"]["changes"] == {"description": "cache purger"}
    assert items[2]["data"]["reason"] == "disabled by an administrator"
    assert items[3]["data"]["changes"] == {"enabled": True}
    log = stored_log(services)
    for secret in (endpoint["secret"], rotated.get_json()["secret"], "cap-7f3a9",
                   "receiver-capability"):
        assert secret not in log
    with services.engine.connect() as conn:
        assert chain.verify(conn).broken is None


def test_an_unchanged_patch_records_nothing_and_a_url_change_records_its_digest(
        client, services, tokens):
    admin = bearer(tokens.admin)
    endpoint = client.post("/v1/webhooks/endpoints", headers=admin,
                           json={"url": HOOK_URL}).get_json()
    base = f"/v1/webhooks/endpoints/{endpoint['id']}"
    head = services.queries.head()
    assert client.patch(base, headers=admin, json={"enabled": True}).status_code == 200
    assert services.queries.head() == head
    assert client.patch(base, headers=admin,
                        json={"url": "http://127.0.0.1:9/other"}).status_code == 200
    [changed] = actions(client, tokens.auditor, type="webhook_endpoint.updated")["items"]
    assert set(changed["data"]["changes"]) == {"url_origin", "url_sha256"}
    assert changed["data"]["changes"]["url_sha256"] != actions(
        client, tokens.auditor, type="webhook_endpoint.created")["items"][0]["data"]["url_sha256"]


def test_a_refused_change_records_nothing(client, services, tokens):
    admin = bearer(tokens.admin)
    endpoint = client.post("/v1/webhooks/endpoints", headers=admin,
                           json={"url": HOOK_URL}).get_json()
    head = services.queries.head()
    stale = client.patch(f"/v1/webhooks/endpoints/{endpoint['id']}",
                         headers={**admin, "If-Match": '"7"'}, json={"description": "x"})
    assert_error(stale, 409, "version_conflict")
    assert_error(client.delete("/v1/webhooks/endpoints/999", headers=admin), 404,
                 "webhook_endpoint_not_found")
    assert_error(client.post("/v1/webhooks/endpoints/999/rotate-secret", headers=admin), 404,
                 "webhook_endpoint_not_found")
    assert services.queries.head() == head


def test_tokens_are_created_and_revoked_as_events_without_the_token(client, services, tokens):
    ctx = Context(Actor("root", "admin"), correlation_id="req-1")
    info, token = services.access.create_token(name="lena.k", role="auditor", ctx=ctx)
    services.clock.advance(minutes=1)
    services.access.revoke_token(info.id, ctx=ctx)
    head = services.queries.head()
    services.access.revoke_token(info.id, ctx=ctx)  # again: nothing changes, nothing recorded
    assert services.queries.head() == head
    with pytest.raises(TokenError):
        services.access.revoke_token(9999, ctx=ctx)
    with pytest.raises(TokenError):
        services.access.create_token(name="bad name", role="auditor", ctx=ctx)
    assert services.queries.head() == head

    items = actions(client, tokens.admin, actor="root")["items"]
    assert [(i["type"], i["stream_id"]) for i in items] == [
        ("token.created", f"token-{info.id}"), ("token.revoked", f"token-{info.id}")]
    assert items[0]["data"] == {"token_id": info.id, "name": "lena.k", "role": "auditor",
                                "created_at": "2026-11-01T09:00:00+00:00"}
    assert items[1]["data"]["revoked_at"] == "2026-11-01T09:01:00+00:00"
    log = stored_log(services)
    assert token not in log and api_tokens.hash_token(token) not in log
    assert token[:8] not in log  # not even the hint


def test_article_registration_is_an_action(client, services, tokens, article):
    [item] = actions(client, tokens.auditor, type="article.registered")["items"]
    assert item["actor"] == {"id": "setup", "role": "admin"}
    assert item["stream_id"] == f"article-{article}"
    assert item["data"]["article_id"] == article


def test_filters_and_keyset_pages(client, services, tokens):
    ctx_a, ctx_b = Context(Actor("alice", "admin")), Context(Actor("bob", "admin"))
    made = []
    for i in range(5):
        made.append(services.access.create_token(name=f"t{i}", role="moderator",
                                                 ctx=ctx_a if i % 2 == 0 else ctx_b)[0])
        services.clock.advance(hours=1)
    services.access.revoke_token(made[0].id, ctx=ctx_b)
    everything = actions(client, tokens.auditor)["items"]
    assert len(everything) == 6
    assert [i["position"] for i in everything] == sorted(i["position"] for i in everything)
    assert [i["data"]["name"] for i in actions(client, tokens.auditor, actor="alice")["items"]] \
        == ["t0", "t2", "t4"]
    [revoked] = actions(client, tokens.auditor, type="token.revoked")["items"]
    assert revoked["actor"]["id"] == "bob"
    window = actions(client, tokens.auditor, since="2026-11-01T10:00:00Z",
                     until="2026-11-01T12:00:00+00:00")["items"]
    assert [i["data"]["name"] for i in window] == ["t1", "t2"]
    pages, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = actions(client, tokens.auditor, **query)
        pages += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == everything
    alice_page = actions(client, tokens.auditor, actor="alice", limit=1)
    rest = actions(client, tokens.auditor, actor="alice", cursor=alice_page["next_cursor"])
    assert [i["data"]["name"] for i in rest["items"]] == ["t2", "t4"]


def test_roles(client, tokens):
    assert client.get("/v1/audit/actions", headers=bearer(tokens.auditor)).status_code == 200
    assert client.get("/v1/audit/actions", headers=bearer(tokens.admin)).status_code == 200
    assert_error(client.get("/v1/audit/actions", headers=bearer(tokens.moderator)), 403,
                 "forbidden")
    assert_error(client.get("/v1/audit/actions"), 401, "unauthenticated")


@pytest.mark.parametrize("query, status, code, field", [
    ({"type": "comment.approved"}, 422, "validation_failed", "type"),
    ({"type": ""}, 422, "validation_failed", "type"),
    ({"actor": ""}, 422, "validation_failed", "actor"),
    ({"actor": "ro\x00ot"}, 422, "validation_failed", "actor"),
    ({"since": "2026-11-01T10:00:00"}, 422, "validation_failed", "since"),
    ({"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, 422, "validation_failed",
     "until"),
    ({"limit": 0}, 422, "validation_failed", "limit"),
    ({"limit": 101}, 422, "validation_failed", "limit"),
    ({"cursor": "bm90LWEtY3Vyc29y"}, 400, "invalid_cursor", "cursor"),
    ({"moderator": "maya"}, 422, "validation_failed", "moderator"),
])
def test_bad_filters_are_refused(client, tokens, query, status, code, field):
    response = client.get("/v1/audit/actions", query_string=query,
                          headers=bearer(tokens.auditor))
    body = assert_error(response, status, code)
    assert field in body["errors"], body


def test_a_decisions_cursor_is_not_an_actions_cursor(client, tokens):
    from service.api import cursors

    response = client.get("/v1/audit/actions", headers=bearer(tokens.auditor),
                          query_string={"cursor": cursors.encode("decisions", 3)})
    assert_error(response, 400, "invalid_cursor")


def test_rebuild_reproduces_the_actions(client, services, tokens):
    ctx = Context(Actor("root", "admin"))
    info, _ = services.access.create_token(name="x", role="auditor", ctx=ctx)
    services.access.revoke_token(info.id, ctx=ctx)
    report = services.runner.rebuild(services.engine, swap=False)
    assert report.identical, report.differences


def test_the_command_line_records_its_token_changes(client, services, tokens, settings):
    from click.testing import CliRunner

    from service.cli import main

    env = {"DATABASE_URL": settings.database_url}
    made = CliRunner().invoke(main, ["tokens", "create", "--name", "ops", "--role", "admin"],
                              env=env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    listed = actions(client, tokens.auditor, actor="cli")["items"]
    assert [i["type"] for i in listed] == ["token.created"]
    token_id = listed[0]["data"]["token_id"]
    revoked = CliRunner().invoke(main, ["tokens", "revoke", str(token_id)], env=env)
    assert revoked.exit_code == 0, revoked.output
    listed = actions(client, tokens.auditor, actor="cli")["items"]
    assert [i["type"] for i in listed] == ["token.created", "token.revoked"]
    assert token not in stored_log(services)
