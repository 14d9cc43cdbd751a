"""Inclusion and consistency proofs: built by the API, checked offline with only the public
key; tampering as the database owner, or a forked log, makes them fail."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.testing import FlaskClient

from service.app import create_app
from service.application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    SubmitComment,
)
from service.audit.proofs import verify
from service.audit.signing import Signer
from service.bootstrap import Services, build
from service.cli import main
from service.config import Settings
from service.db import write_transaction
from service.eventstore import chain
from service.identity import tokens as api_tokens

from .api.helpers import assert_error

KEY = Signer.generate()
MODERATOR = Context(Actor("maya", "moderator"))


@pytest.fixture
def signed(settings: Settings, clock) -> Iterator[Services]:  # noqa: ANN001
    built = build(replace(settings, signing_key=KEY.private_text(),
                          submit_rate_limit="100000/minute"), clock=clock)
    yield built
    built.close()


@pytest.fixture
def client(signed: Services) -> Iterator[FlaskClient]:
    app = create_app(signed.settings, signed)
    app.config["TESTING"] = True
    with write_transaction(signed.engine) as conn:
        token = api_tokens.create(conn, name="aud", role="auditor", now=signed.clock())[1]
    with app.test_client() as c:
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        yield c


def activity(services: Services, comments: int, *, article: str = "a-1") -> None:
    """Submit COMMENTS comments (submitted + screened each) and approve every other one."""
    if services.queries.article(article) is None:
        services.moderation.register_article(RegisterArticle(article, "An article"),
                                             Context(Actor("root", "admin")))
    for i in range(comments):
        rec = services.moderation.submit_comment(
            SubmitComment(article, "Reader", f"A considered comment, number {i}"), Context())
        if i % 2 == 0:
            services.moderation.approve(ApproveComment(rec.id, rec.version), MODERATOR)


def get(client: FlaskClient, path: str, **query) -> dict:
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def tamper(services: Services, *statements: tuple[str, dict]) -> None:
    """As the database owner: pause the append-only triggers, change rows, resume."""
    with services.engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("DROP TRIGGER events_no_update")
        else:
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")
        for sql, params in statements:
            conn.execute(sa.text(sql), params)
        if sqlite:
            conn.exec_driver_sql("CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
                                 "BEGIN SELECT RAISE(ABORT, 'append-only'); END")
        else:
            conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER USER")


def forge_note(services: Services, position: int) -> tuple[str, dict]:
    if services.engine.dialect.name == "sqlite":
        return ("UPDATE events SET data = json_set(data, '$.note', 'forged') "
                "WHERE position = :p", {"p": position})
    return ("UPDATE events SET data = jsonb_set(data, '{note}', '\"forged\"') "
            "WHERE position = :p", {"p": position})


def rechain_from(services: Services, position: int) -> list[tuple[str, dict]]:
    """The UPDATEs that recompute every stored hash from POSITION on, as a careful forger
    who also rewrote data would: the log then verifies, but it is a fork."""
    with services.engine.connect() as conn:
        previous = chain.stored_hash(conn, position - 1)
        updates = []
        for row in chain.iter_chained(conn, after=position - 1):
            previous = chain.link(previous, chain.canonical(*row[:9]))
            updates.append(("UPDATE events SET hash = :h WHERE position = :p",
                            {"h": previous, "p": row.position}))
    return updates


def a_decision(services: Services) -> int:
    with services.engine.connect() as conn:
        [decision] = services.store.read_all(conn, types=["comment.approved"], limit=1)
    return decision.position


def test_an_inclusion_proof_verifies_offline_and_any_change_to_it_fails(signed, client,
                                                                         tmp_path):
    activity(signed, 4)
    checkpoint = signed.checkpoints.sign()
    position = a_decision(signed)
    proof = get(client, "/v1/audit/proof", position=position)
    assert proof["kind"] == "inclusion" and proof["checkpoint"] == checkpoint
    assert [e["position"] for e in proof["events"]] == list(
        range(position, checkpoint["head_position"] + 1))
    assert verify(proof, KEY.public_key), verify(proof, KEY.public_key).reason
    assert not verify(proof, Signer.generate().public_key)

    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    held = CliRunner().invoke(main, ["audit", "check-proof", str(path),
                                     "--public-key", KEY.public_key])
    assert held.exit_code == 0, held.output
    assert f"event {position} (comment.approved" in held.stdout

    def changed(mutate) -> dict:  # noqa: ANN001
        copy = json.loads(json.dumps(proof))
        mutate(copy)
        return copy

    forgeries = [
        changed(lambda p: p["events"][0]["data"].update(note="forged")),
        changed(lambda p: p["events"][0]["metadata"]["actor"].update(id="someone")),
        changed(lambda p: p["events"][-1].update(recorded_at="2020-01-01T00:00:00.000000+00:00")),
        changed(lambda p: p["events"].pop(1)),
        changed(lambda p: p.update(previous_hash="00" * 32)),
        changed(lambda p: p["checkpoint"].update(head_hash="00" * 32)),
        changed(lambda p: p.update(position=position + 1)),
        changed(lambda p: p.update(kind="other")),
    ]
    for forged in forgeries:
        assert not verify(forged, KEY.public_key)
    path.write_text(json.dumps(forgeries[0]))
    refused = CliRunner().invoke(main, ["audit", "check-proof", str(path),
                                        "--public-key", KEY.public_key])
    assert refused.exit_code == 1 and "does NOT hold" in refused.stderr


def test_a_changed_decision_no_longer_proves_and_verify_names_it(signed, client):
    activity(signed, 4)
    signed.checkpoints.sign()
    position = a_decision(signed)
    before = get(client, "/v1/audit/proof", position=position)
    assert verify(before, KEY.public_key)
    tamper(signed, forge_note(signed, position))
    with signed.engine.connect() as conn:
        broken = chain.verify(conn).broken
    assert broken is not None and broken.position == position
    after = get(client, "/v1/audit/proof", position=position)
    verdict = verify(after, KEY.public_key)
    assert not verdict and f"event {position}" in verdict.reason
    signed.checkpoints.sign()  # a checkpoint made after the change does not help
    latest = get(client, "/v1/audit/proof", position=position)
    assert not verify(latest, KEY.public_key)


def test_a_rewritten_and_rechained_log_is_caught_by_consistency(signed, client):
    activity(signed, 4)
    first = signed.checkpoints.sign()
    position = a_decision(signed)
    old_proof = get(client, "/v1/audit/proof", position=position)
    activity(signed, 2)
    # the forger changes a decision and recomputes every hash after it: `verify` passes
    tamper(signed, forge_note(signed, position))
    tamper(signed, *rechain_from(signed, position))
    with signed.engine.connect() as conn:
        assert chain.verify(conn).broken is None
    second = signed.checkpoints.sign()
    proof = get(client, "/v1/audit/consistency", **{"from": first["position"],
                                                    "to": second["position"]})
    verdict = verify(proof, KEY.public_key)
    assert not verdict and "event 1" in verdict.reason  # the first rechained event after it
    for event in proof["events"]:  # without the stored hashes: the end does not match
        del event["hash"]
    verdict = verify(proof, KEY.public_key)
    assert not verdict and "does not extend" in verdict.reason
    # the proof kept from before still holds against its own checkpoint, and shows the
    # original decision: the forged history cannot produce it
    assert verify(old_proof, KEY.public_key)
    assert old_proof["events"][0]["data"]["note"] != "forged"
    fresh = get(client, "/v1/audit/proof", position=position, checkpoint=first["position"])
    assert not verify(fresh, KEY.public_key)


def test_a_thousand_events_later_the_log_is_consistent_and_a_fork_is_not(signed, client,
                                                                         settings, clock):
    activity(signed, 10)
    first = signed.checkpoints.sign()
    activity(signed, 400)  # 400 submissions, each with its screening, and 200 approvals
    second = signed.checkpoints.sign()
    assert second["head_position"] - first["head_position"] >= 1000
    started = time.perf_counter()
    response = client.get("/v1/audit/consistency",
                          query_string={"from": first["position"], "to": second["position"]})
    built_ms = (time.perf_counter() - started) * 1000
    proof = response.get_json()
    started = time.perf_counter()
    verdict = verify(proof, KEY.public_key)
    checked_ms = (time.perf_counter() - started) * 1000
    assert verdict, verdict.reason
    print(f"\nconsistency over {len(proof['events'])} events: {len(response.data)} bytes, "
          f"built in {built_ms:.0f} ms, checked in {checked_ms:.0f} ms")

    # a fork: another log under the same key, identical up to the first checkpoint's head
    # then diverging, signs a checkpoint at the same height
    fork = json.loads(json.dumps(proof))
    fork["events"][5]["data"]["body_length"] = 1
    assert not verify(fork, KEY.public_key)
    forked_cp = dict(second, head_hash="ab" * 32)
    forked_cp["signature"] = KEY.sign(_statement(forked_cp))
    fork = dict(proof, to=forked_cp)
    verdict = verify(fork, KEY.public_key)
    assert not verdict and "does not extend" in verdict.reason


def _statement(cp: dict) -> bytes:
    from datetime import datetime

    from service.audit.signing import statement

    return statement(cp["head_position"], cp["head_hash"],
                     datetime.fromisoformat(cp["signed_at"]))


def test_bad_requests(signed, client, monkeypatch):
    assert_error(client.get("/v1/audit/proof", query_string={"position": 1}), 404,
                 "checkpoint_not_found")
    activity(signed, 2)
    cp = signed.checkpoints.sign()
    for query, status, code in (
            ({}, 422, "validation_failed"),
            ({"position": 0}, 422, "validation_failed"),
            ({"position": "x"}, 422, "validation_failed"),
            ({"position": 1, "extra": 1}, 422, "validation_failed"),
            ({"position": cp["position"]}, 404, "checkpoint_not_found"),
            ({"position": 1, "checkpoint": 2}, 404, "checkpoint_not_found"),
            ({"position": 1, "checkpoint": 10**6}, 404, "checkpoint_not_found")):
        assert_error(client.get("/v1/audit/proof", query_string=query), status, code)
    for query, status, code in (
            ({"from": cp["position"]}, 422, "validation_failed"),
            ({"from": cp["position"], "to": cp["position"]}, 422, "validation_failed"),
            ({"from": 1, "to": cp["position"]}, 404, "checkpoint_not_found"),
            ({"from": cp["position"], "to": 10**6}, 404, "checkpoint_not_found")):
        assert_error(client.get("/v1/audit/consistency", query_string=query), status, code)
    monkeypatch.setattr("service.application.proofs.MAX_PROOF_EVENTS", 3)
    assert_error(client.get("/v1/audit/proof", query_string={"position": 1}), 422,
                 "proof_too_long")
    del client.environ_base["HTTP_AUTHORIZATION"]
    assert_error(client.get("/v1/audit/proof", query_string={"position": 1}), 401,
                 "unauthenticated")
    assert_error(client.get("/v1/audit/consistency", query_string={"from": 1, "to": 2}), 401,
                 "unauthenticated")


def test_check_proof_refuses_what_is_not_a_proof(tmp_path):
    path = tmp_path / "p.json"
    for text in ("not json", "[]", json.dumps({"format": "moderation-audit-proof/v1"}),
                 json.dumps({"format": "moderation-audit-proof/v1", "kind": "inclusion"})):
        path.write_text(text)
        result = CliRunner().invoke(main, ["audit", "check-proof", str(path),
                                           "--public-key", KEY.public_key])
        assert result.exit_code == 1, (text, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_erasure_is_an_action_and_leaves_the_chain_and_its_proofs_intact(signed, client):
    admin = Context(Actor("root", "admin"))
    activity(signed, 1)
    rec = signed.moderation.submit_comment(
        SubmitComment("a-1", "Nour", "Private words here", author_email="nour@example.org"),
        Context())
    author_id = signed.privacy.lookup("nour@example.org", admin)["author_id"]
    signed.privacy.erase(author_id, "Reader asked to be forgotten", admin)
    with signed.engine.connect() as conn:
        assert chain.verify(conn).broken is None
        [submitted] = [e for e in signed.store.read_stream(conn, f"comment-{rec.id}")
                       if e.type == "comment.submitted"]
    signed.checkpoints.sign()
    proof = get(client, "/v1/audit/proof", position=submitted.position)
    assert verify(proof, KEY.public_key)
    assert "Private words" not in json.dumps(proof) and "nour@" not in json.dumps(proof)
    with write_transaction(signed.engine) as conn:
        admin_token = api_tokens.create(conn, name="root2", role="admin",
                                        now=signed.clock())[1]
    listed = client.get("/v1/audit/actions", query_string={"actor": "root"},
                        headers={"Authorization": f"Bearer {admin_token}"}).get_json()
    assert [i["type"] for i in listed["items"]] == [
        "article.registered", "author.looked_up", "author.erased"]
    assert listed["items"][-1]["data"]["note"] == "Reader asked to be forgotten"
