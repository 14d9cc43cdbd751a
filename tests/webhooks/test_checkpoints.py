"""Signed checkpoints: made by command, by the dispatcher as events accumulate, delivered
to webhook subscribers, listed with the public key; each verifies with the key alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace

import pytest
from click.testing import CliRunner

from service.app import create_app
from service.application.checkpoints import NoSigningKey
from service.application.commands import Actor, Context
from service.audit.signing import (
    Signer,
    ensure_demo_key,
    load_signer,
    statement,
    verify_checkpoint,
)
from service.bootstrap import Services, build
from service.cli import main
from service.config import Settings
from service.db import write_transaction
from service.eventstore import chain
from service.identity import tokens as api_tokens
from service.webhooks.admin import Webhooks

from ..api.helpers import assert_error, bearer
from .conftest import moderate
from .receivers import Receiver

KEY = Signer.generate()


@pytest.fixture
def signed(settings: Settings, clock) -> Iterator[Services]:  # noqa: ANN001
    built = build(replace(settings, signing_key=KEY.private_text(), checkpoint_every=5,
                          checkpoint_minutes=0), clock=clock)
    yield built
    built.close()


def test_a_checkpoint_signs_the_head_and_verifies_with_the_public_key_alone(signed, clock):
    moderate(signed, comments=2)
    head = signed.queries.head()
    made = signed.checkpoints.sign(Context(Actor("root", "admin")))
    assert made["head_position"] == head and made["position"] == head + 1
    with signed.engine.connect() as conn:
        assert made["head_hash"] == chain.stored_hash(conn, head).hex()
        assert chain.verify(conn).broken is None  # the checkpoint is chained like any event
    assert made["public_key"] == KEY.public_key and made["key_id"] == KEY.key_id
    assert verify_checkpoint(KEY.public_key, made)
    assert not verify_checkpoint(Signer.generate().public_key, made)
    for field, value in (("head_position", head - 1), ("head_hash", "0" * 64),
                         ("signed_at", "2026-11-01T09:00:01+00:00"), ("signature", "AAAA")):
        assert not verify_checkpoint(KEY.public_key, {**made, field: value}), field
    assert statement(head, made["head_hash"], clock()).startswith(
        b"moderation-audit-checkpoint/v1\nposition ")


def test_checkpoints_come_when_due_and_only_once(signed, clock):
    cp = signed.checkpoints
    assert cp.sign_if_due(every=5, minutes=0) is None  # empty log: nothing to sign
    moderate(signed, comments=1)  # article, submitted, screened, approved: 4 events
    assert cp.sign_if_due(every=5, minutes=0) is None
    moderate(signed, comments=1)
    first = cp.sign_if_due(every=5, minutes=0)
    assert first is not None and first["head_position"] == 7
    assert cp.sign_if_due(every=5, minutes=0) is None  # its own event does not count
    moderate(signed, comments=1)  # 3 more
    assert cp.sign_if_due(every=5, minutes=30) is None
    clock.advance(minutes=31)
    by_time = cp.sign_if_due(every=5, minutes=30)
    assert by_time is not None and by_time["head_position"] == first["position"] + 3
    assert [c["position"] for c in cp.list()] == [by_time["position"], first["position"]]


def test_no_key_no_checkpoint(services):
    assert services.checkpoints.signer is None
    with pytest.raises(NoSigningKey):
        services.checkpoints.sign()
    assert services.checkpoints.sign_if_due(every=1, minutes=1) is None
    assert services.queries.head() == 0


def test_the_dispatcher_signs_and_delivers_checkpoints(signed, hook_settings, clock):
    hooks = Webhooks(signed.engine, replace(hook_settings, checkpoint_every=5,
                                            checkpoint_minutes=0),
                     clock, signed.store, signed.codec_for,
                     unit_of_work=signed.moderation.unit_of_work,
                     checkpoints=signed.checkpoints)
    receiver = Receiver()
    try:
        endpoint, secret = hooks.create_endpoint(receiver.url, event_types=["audit.checkpoint"])
        receiver.secrets.append(secret)
        moderate(signed, comments=2)  # endpoint created + 7 events
        stats = hooks.dispatcher(name="d1").run(once=True, concurrency=2)
        assert stats.checkpoints == 1 and stats.succeeded == 1
        [got] = receiver.received
        assert got.verified_with == [0]
        assert got.payload["type"] == "audit.checkpoint"
        data = got.payload["data"]
        assert data["head_position"] == data["position"] - 1 == signed.queries.head() - 1
        assert verify_checkpoint(KEY.public_key, data)  # a third party keeps and checks it
        assert data["actor"] == {"id": "checkpointer", "role": "system"}
        again = hooks.dispatcher(name="d2").run(once=True, concurrency=2)
        assert again.checkpoints == 0  # nothing new since
    finally:
        receiver.close()


def test_checkpoints_are_subscribable_by_the_api(client_for, signed):
    client, admin = client_for(signed)
    response = client.post("/v1/webhooks/endpoints", headers=admin, json={
        "url": "http://127.0.0.1:9/x", "event_types": ["audit.checkpoint"]})
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def client_for(hook_settings):  # noqa: ANN001, ANN201
    made = []

    def make(services: Services):  # noqa: ANN202
        services.webhooks = Webhooks(
            services.engine, hook_settings, services.clock, services.store,
            services.codec_for, unit_of_work=services.moderation.unit_of_work)
        app = create_app(replace(services.settings, submit_rate_limit="100000/minute"),
                         services)
        app.config["TESTING"] = True
        client = app.test_client()
        with write_transaction(services.engine) as conn:
            tokens = {role: api_tokens.create(conn, name=f"t-{role}", role=role,
                                              now=services.clock())[1]
                      for role in ("auditor", "moderator", "admin")}
        made.append(client)
        client.tokens = tokens
        return client, bearer(tokens["admin"])

    return make


def test_the_api_lists_checkpoints_newest_first_with_the_key(client_for, signed, clock):
    client, _ = client_for(signed)
    moderate(signed, comments=1)
    made = []
    for _ in range(3):
        made.append(signed.checkpoints.sign())
        clock.advance(minutes=1)
        moderate(signed, comments=1)
    response = client.get("/v1/audit/checkpoints", headers=bearer(client.tokens["auditor"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["public_key"] == KEY.public_key and body["key_id"] == KEY.key_id
    assert [c["position"] for c in body["items"]] == [c["position"] for c in reversed(made)]
    assert all(verify_checkpoint(body["public_key"], c) for c in body["items"])
    pages, cursor = [], None
    while True:
        page = client.get("/v1/audit/checkpoints", headers=bearer(client.tokens["auditor"]),
                          query_string={"limit": 2, **({"cursor": cursor} if cursor else {})})
        pages += page.get_json()["items"]
        cursor = page.get_json()["next_cursor"]
        if not cursor:
            break
    assert pages == body["items"]
    assert client.get("/v1/audit/checkpoints",
                      headers=bearer(client.tokens["moderator"])).status_code == 200
    assert_error(client.get("/v1/audit/checkpoints"), 401, "unauthenticated")
    assert_error(client.get("/v1/audit/checkpoints", headers=bearer(client.tokens["auditor"]),
                            query_string={"cursor": "djE6YWN0aW9uczoz"}), 400, "invalid_cursor")
    assert_error(client.get("/v1/audit/checkpoints", headers=bearer(client.tokens["auditor"]),
                            query_string={"limit": 0}), 422, "validation_failed")


def test_without_a_key_the_list_says_so(client_for, services):
    client, _ = client_for(services)
    body = client.get("/v1/audit/checkpoints",
                      headers=bearer(client.tokens["auditor"])).get_json()
    assert body == {"public_key": None, "key_id": None, "items": [], "next_cursor": None}


def test_the_command_line_signs_with_the_configured_key(settings, services):
    env = {"DATABASE_URL": settings.database_url}
    refused = CliRunner().invoke(main, ["audit", "checkpoint"], env=env)
    assert refused.exit_code == 1 and "MODERATION_SIGNING_KEY" in refused.output
    keygen = CliRunner().invoke(main, ["audit", "keygen"])
    assert keygen.exit_code == 0
    key = keygen.stdout.strip()
    signer = Signer.from_text(key)
    assert signer.public_key in keygen.stderr
    made = CliRunner().invoke(main, ["audit", "checkpoint"],
                              env={**env, "MODERATION_SIGNING_KEY": key})
    assert made.exit_code == 0, made.output
    [latest] = services.checkpoints.list()
    assert latest["key_id"] == signer.key_id and verify_checkpoint(signer.public_key, latest)
    assert f"hash {latest['head_hash']}" in made.stdout
    bad = CliRunner().invoke(main, ["audit", "checkpoint"],
                             env={**env, "MODERATION_SIGNING_KEY": "not-a-key"})
    assert bad.exit_code != 0 and "MODERATION_SIGNING_KEY" in str(bad.exception or bad.output)


def test_the_demo_key_lives_beside_the_sqlite_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'moderation.db'}"
    path = ensure_demo_key(url)
    assert path == tmp_path / "moderation.db.signing-key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = load_signer("", url)
    assert ensure_demo_key(url) == path and load_signer("", url).key_id == first.key_id
    assert load_signer(KEY.private_text(), url).key_id == KEY.key_id  # the setting wins
    assert load_signer("", "postgresql+psycopg://db/x") is None
    assert ensure_demo_key("postgresql+psycopg://db/x") is None
