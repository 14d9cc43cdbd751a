"""The error format everywhere: routing, methods, rate limits, database trouble, crashes.
Also request ids and exact Unicode round trips."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import replace

import pytest
import sqlalchemy as sa

from service.app import create_app
from service.bootstrap import build
from service.db import make_engine, write_transaction

from .helpers import approve, assert_error, bearer, head, submit, submitted_id


def test_unknown_route_is_404(client):
    assert_error(client.get("/v2/nothing"), 404, "not_found")


def test_wrong_method_is_405_with_allow(client, tokens):
    response = client.delete("/v1/queue", headers=bearer(tokens.admin))
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]
    assert_error(client.put("/v1/guidelines", json={}), 405, "method_not_allowed")


def test_request_id_is_echoed_when_sane_and_generated_otherwise(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123_x.y"}
                      ).headers["X-Request-ID"] == "abc-123_x.y"
    for bad in ("has spaces", "x" * 129, "<script>", ""):
        generated = client.get("/healthz", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert generated != bad and len(generated) == 32
    body = assert_error(client.get("/nope", headers={"X-Request-ID": "trace-9"}), 404,
                        "not_found")
    assert body["request_id"] == "trace-9"


REDIS_URI = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def test_workers_share_one_rate_limit_through_redis(settings, services, article):
    """Two apps (two gunicorn workers) over one Redis: 5/minute lets 5 through in all."""
    import redis

    store = redis.Redis.from_url(REDIS_URI)
    store.ping()  # the real server: fail, never skip, when it is not there
    store.flushdb()
    shared = replace(settings, submit_rate_limit="5/minute",
                     rate_limit_storage_uri=REDIS_URI)
    workers = [create_app(shared, services).test_client() for _ in range(2)]
    statuses = [workers[i % 2].post(f"/v1/articles/{article}/comments",
                                    json={"author": {"name": "R"}, "body": f"n{i}"}).status_code
                for i in range(12)]
    assert statuses.count(202) == 5 and statuses.count(429) == 7, statuses
    store.flushdb()


def test_rate_limit_is_429_in_our_format_with_retry_after(settings, services, article):
    app = create_app(replace(settings, submit_rate_limit="2/minute"), services)
    client = app.test_client()
    for _ in range(2):
        assert submit(client, article).status_code == 202
    before = head(services)
    response = submit(client, article)
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 61
    assert head(services) == before
    # reading is not limited, and another address has its own allowance
    assert client.get(f"/v1/articles/{article}/comments").status_code == 200
    other = client.post(f"/v1/articles/{article}/comments",
                        json={"author": {"name": "B"}, "body": "b"},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 202


def test_trusted_proxy_hops_decide_the_client_address(settings, services, article):
    app = create_app(replace(settings, submit_rate_limit="1/minute", trust_proxy_hops=1),
                     services)
    client = app.test_client()
    forwarded = {"X-Forwarded-For": "198.51.100.1"}
    response = submit(client, article, headers=forwarded)
    assert response.status_code == 202
    assert submit(client, article, headers=forwarded).status_code == 429
    assert submit(client, article, headers={"X-Forwarded-For": "198.51.100.2"}
                  ).status_code == 202
    [event] = [e for e in services.queries.history(response.get_json()["id"])
               if e["type"] == "comment.submitted"]
    assert event["data"]["network_address"] == "198.51.100.1"


def test_unexpected_error_is_500_without_details(app, client, caplog):
    def boom(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    app.view_functions["guidelines.Guidelines"] = boom
    response = client.get("/v1/guidelines")
    body = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert body["request_id"] in caplog.text


def test_database_down_is_503_with_retry_after(article, tokens):
    from service.config import Settings

    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:9/nothing")
    services = build(settings)
    try:
        client = create_app(settings, services).test_client()
        for response in (client.get(f"/v1/articles/{article}/comments"),
                         submit(client, article),
                         client.get("/v1/queue", headers=bearer(tokens.admin))):
            assert_error(response, 503, "service_unavailable")
            assert response.headers["Retry-After"] == "5"
        ready = client.get("/readyz")
        assert_error(ready, 503, "not_ready")
        assert ready.headers["Retry-After"]
    finally:
        services.close()


def test_lock_timeout_is_503_and_writes_nothing(settings, services, article, client, tokens):
    """A writer holding the log's head row makes others time out: 503, not 500."""
    impatient = replace(settings, pg_lock_timeout_ms=200, sqlite_busy_timeout_ms=200)
    waiting = build(impatient, clock=services.clock)
    comment_id = submitted_id(client, article)
    holder = make_engine(settings)
    try:
        app = create_app(replace(impatient, submit_rate_limit="1000/minute"), waiting)
        blocked = app.test_client()
        before = head(services)
        with write_transaction(holder) as conn:
            conn.execute(sa.text("UPDATE event_store_head SET last_position = last_position "
                                 "WHERE id = 1"))
            response = submit(blocked, article)
            assert_error(response, 503, "service_unavailable")
            assert response.headers["Retry-After"]
            decision = approve(blocked, tokens.moderator, comment_id)
            assert_error(decision, 503, "service_unavailable")
        assert head(services) == before
        assert approve(blocked, tokens.moderator, comment_id).status_code == 200
    finally:
        holder.dispose()
        waiting.close()


TEXTS = [
    "شكراً على هذا التقرير المهم.",                      # Arabic
    "سڵاو، ئەم ڕاپۆرتە زۆر گرنگە.",                      # Kurdish (Sorani, Arabic script)
    "Silav, ev rapor pir girîng e. Çawa yî?",            # Kurdish (Kurmanji, Latin script)
    "\u200fمرحبا\u200e hello \u200f(RLM, LRM)",          # bidirectional marks
    "کوردستان\u200cی باشوور",                              # zero-width non-joiner
    "👩🏽‍💻 🇮🇶 ❤️ 🏳️‍🌈 family: 👨‍👩‍👧‍👦",                          # emoji with ZWJ and flags
    "line one\nline two\ttabbed",
]


@pytest.mark.parametrize("text", TEXTS)
def test_unicode_round_trips_byte_for_byte(client, article, tokens, services, text):
    assert unicodedata.is_normalized("NFC", text)
    name = text.split("\n")[0][:40].strip()  # names are one line; bodies keep theirs
    raw = json.dumps({"author": {"name": name}, "body": text},
                     ensure_ascii=False).encode("utf-8")
    response = client.post(f"/v1/articles/{article}/comments", data=raw,
                           headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 202, response.get_json()
    comment_id = response.get_json()["id"]

    state = client.get(f"/v1/comments/{comment_id}", headers=bearer(tokens.moderator))
    assert state.get_json()["body"].encode("utf-8") == text.encode("utf-8")
    assert state.get_json()["author_name"] == name
    assert text.encode("utf-8").split(b"\n")[0] in state.get_data()  # sent as UTF-8, unescaped

    assert approve(client, tokens.moderator, comment_id, note=text).status_code == 200
    public = client.get(f"/v1/articles/{article}/comments").get_json()["items"]
    assert [c["body"].encode("utf-8") for c in public] == [text.encode("utf-8")]
    history = client.get(f"/v1/comments/{comment_id}/events",
                         headers=bearer(tokens.moderator)).get_json()["items"]
    assert history[0]["data"]["body"] == text
    assert history[-1]["data"]["note"] == text
