"""Audit exports: decisions and administrative actions as JSON lines or CSV, each row with
its position and chain hash, closed by the latest checkpoint, streamed in flat memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Iterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.testing import FlaskClient

from bench.bulk import bulk_load
from service.app import create_app
from service.application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    RejectComment,
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
ADMIN = Context(Actor("root", "admin"))


@pytest.fixture
def signed(settings: Settings, clock) -> Iterator[Services]:  # noqa: ANN001
    built = build(replace(settings, signing_key=KEY.private_text()), clock=clock)
    yield built
    built.close()


@pytest.fixture
def tokens(signed: Services) -> dict[str, str]:
    with write_transaction(signed.engine) as conn:
        return {role: api_tokens.create(conn, name=f"t-{role}", role=role,
                                        now=signed.clock())[1]
                for role in ("auditor", "moderator", "admin")}


@pytest.fixture
def client(signed: Services) -> Iterator[FlaskClient]:
    app = create_app(signed.settings, signed)
    app.config["TESTING"] = True
    with app.test_client() as c:
        yield c


def history(services: Services, clock) -> dict[str, int]:  # noqa: ANN001
    """An hour apart each: an article, two decisions, a token, another decision."""
    services.moderation.register_article(RegisterArticle("a-1", "An article"), ADMIN)
    clock.advance(hours=1)
    ids = [services.moderation.submit_comment(
        SubmitComment("a-1", "Reader", f"A considered comment, number {i}"), Context()).id
        for i in range(3)]
    moderator = Context(Actor("maya", "moderator"))
    services.moderation.approve(ApproveComment(ids[0], 2), moderator)
    services.moderation.reject(RejectComment(ids[1], 2, ["off_topic"], "Not about this"),
                               moderator)
    clock.advance(hours=1)
    services.access.create_token(name="lena", role="auditor", ctx=ADMIN)
    clock.advance(hours=1)
    services.moderation.approve(ApproveComment(ids[2], 2), moderator)
    return {"head": services.queries.head()}


def export(client: FlaskClient, token: str, **query) -> bytes:
    response = client.get("/v1/audit/export", query_string=query,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


def test_jsonl_rows_carry_position_and_hash_and_close_with_the_checkpoint(
        signed, client, tokens, clock):
    history(signed, clock)
    checkpoint = signed.checkpoints.sign()
    lines = [json.loads(x) for x in export(client, tokens["auditor"]).splitlines()]
    rows, closing = lines[:-1], lines[-1]
    assert [r["type"] for r in rows] == [
        "article.registered", "comment.approved", "comment.rejected", "token.created",
        "comment.approved"]
    with signed.engine.connect() as conn:
        for row in rows:
            assert row["hash"] == chain.stored_hash(conn, row["position"]).hex()
    rejected = rows[2]
    assert rejected["actor"] == {"id": "maya", "role": "moderator"}
    assert rejected["data"]["reasons"] == ["off_topic"] and rejected["data"]["note"]
    assert closing["type"] == "export.closed" and closing["rows"] == 5
    assert closing["checkpoint"] == checkpoint
    assert closing["exported_through"] == checkpoint["position"]
    assert closing["all_rows_under_checkpoint"] is False  # the checkpoint's own position
    # any row can be matched with a proof under the closing checkpoint
    proof = signed.proofs.inclusion(rows[2]["position"])
    assert verify(proof, KEY.public_key)
    assert proof["events"][0]["hash"] == rows[2]["hash"]


def test_a_time_window_and_csv(signed, client, tokens, clock):
    start = clock()
    history(signed, clock)
    window = {"since": (start.replace(hour=10)).isoformat(),
              "until": (start.replace(hour=12)).isoformat()}
    lines = [json.loads(x) for x in export(client, tokens["admin"], **window).splitlines()]
    assert [r["type"] for r in lines[:-1]] == ["comment.approved", "comment.rejected",
                                               "token.created"]
    assert lines[-1]["checkpoint"] is None and lines[-1]["all_rows_under_checkpoint"] is False
    text = export(client, tokens["auditor"], format="csv", **window).decode()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["position", "hash", "recorded_at", "type", "stream_id", "event_id",
                        "actor_id", "actor_role", "erased", "data"]
    assert [r[3] for r in table[1:]] == ["comment.approved", "comment.rejected",
                                         "token.created", "export.closed"]
    assert [int(r[0]) for r in table[1:-1]] == [r["position"] for r in lines[:-1]]
    assert json.loads(table[2][9])["note"] == "Not about this"
    assert json.loads(table[-1][9])["rows"] == 3


def test_roles_and_bad_input(client, tokens):
    assert_error(client.get("/v1/audit/export"), 401, "unauthenticated")
    moderator = {"Authorization": f"Bearer {tokens['moderator']}"}
    assert_error(client.get("/v1/audit/export", headers=moderator), 403, "forbidden")
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    for query in ({"format": "xml"}, {"since": "2026-11-01T10:00:00"},
                  {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
                  {"limit": 5}, {"since": ""}):
        body = assert_error(client.get("/v1/audit/export", headers=auditor,
                                       query_string=query), 422, "validation_failed")
        assert set(body["errors"]) & {"format", "since", "until", "limit"}, body


def test_the_command_line_writes_the_same_export_to_a_file(signed, client, tokens, clock,
                                                          settings, tmp_path):
    history(signed, clock)
    signed.checkpoints.sign()
    path = tmp_path / "audit.jsonl"
    env = {"DATABASE_URL": settings.database_url, "MODERATION_SIGNING_KEY": KEY.private_text()}
    result = CliRunner().invoke(main, ["audit", "export", "--output", str(path),
                                       "--since", "2026-11-01T10:00:00+0000"], env=env)
    assert result.exit_code == 0, result.output
    from_file = [json.loads(x) for x in path.read_bytes().splitlines()]
    over_http = [json.loads(x) for x in export(
        client, tokens["auditor"], since="2026-11-01T10:00:00Z").splitlines()]
    assert from_file[:-1] == over_http[:-1] and len(from_file) == 5
    assert from_file[-1]["checkpoint"] == over_http[-1]["checkpoint"]
    bad = CliRunner().invoke(main, ["audit", "export", "-o", str(path), "--since",
                                    "2026-11-02", "--until", "2026-11-01"], env=env)
    assert bad.exit_code == 2


def _peak_bytes(services: Services) -> tuple[int, int]:
    exports = services.exports
    tracemalloc.start()
    try:
        count = sum(1 for _ in exports.stream("jsonl", exports.window(None, None)))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_the_log_grows(services):
    bulk_load(services.engine, 3000, articles=5, authors=50)  # a few pages
    small_rows, small_peak = _peak_bytes(services)
    bulk_load(services.engine, 12000, articles=5, authors=50)  # five times as many
    large_rows, large_peak = _peak_bytes(services)
    assert large_rows > 4 * small_rows
    with services.engine.connect() as conn:  # every decision and action, across many spans
        expected = conn.execute(sa.text(
            "SELECT count(*) FROM events WHERE type IN ('comment.approved', "
            "'comment.rejected', 'article.registered')")).scalar_one()
    assert large_rows == expected + 1  # and the closing line
    assert large_peak < 1.3 * small_peak, (small_peak, large_peak)


def test_dismissals_are_exported_and_decisions_say_whether_the_author_was_erased(
        signed, client, tokens, clock):
    """The export holds the decisions GET /v1/audit/decisions lists, report dismissals
    included, each with the same `erased` flag; other rows have none."""
    from service.application.reports import DismissReports, ReportComment

    signed.moderation.register_article(RegisterArticle("a-1", "An article"), ADMIN)
    moderator = Context(Actor("maya", "moderator"))
    ids = [signed.moderation.submit_comment(
        SubmitComment("a-1", "Reader", f"A considered comment, number {i}",
                      author_email=f"reader{i}@example.org"), Context()).id
        for i in range(2)]
    for cid in ids:
        signed.moderation.approve(ApproveComment(cid, 2), moderator)
    signed.reports.report(ReportComment(ids[0], "threats", network_address="192.0.2.1"),
                          Context())
    signed.reports.dismiss(DismissReports(ids[0], 4, "fair comment"), moderator)
    signed.privacy.erase(signed.queries.comment(ids[0])["author_id"], "ticket 12", ADMIN)

    rows = [json.loads(x) for x in export(client, tokens["auditor"]).splitlines()][:-1]
    flags = {(r["type"], r["stream_id"]): r["erased"] for r in rows}
    assert flags == {
        ("article.registered", "article-a-1"): None,
        ("comment.approved", f"comment-{ids[0]}"): True,
        ("comment.approved", f"comment-{ids[1]}"): False,
        ("comment.reports_dismissed", f"comment-{ids[0]}"): True,
        ("author.erased", rows[-1]["stream_id"]): None,
    }
    dismissed = next(r for r in rows if r["type"] == "comment.reports_dismissed")
    assert dismissed["actor"] == {"id": "maya", "role": "moderator"}
    assert (dismissed["data"]["dismissed"], dismissed["data"]["note"]) == (1, "fair comment")

    listed = client.get("/v1/audit/decisions", headers={
        "Authorization": f"Bearer {tokens['auditor']}"}).get_json()["items"]
    exported = {r["position"]: r["erased"] for r in rows if r["erased"] is not None}
    assert exported == {d["position"]: d["erased"] for d in listed}

    table = list(csv.reader(io.StringIO(
        export(client, tokens["admin"], format="csv").decode())))
    assert table[0][8:] == ["erased", "data"]
    assert [(r[3], r[8]) for r in table[1:]] == [
        ("article.registered", ""), ("comment.approved", "true"), ("comment.approved", "false"),
        ("comment.reports_dismissed", "true"), ("author.erased", ""), ("export.closed", "")]
