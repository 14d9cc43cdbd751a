"""The error format everywhere: routing, methods, rate limits, database trouble, crashes.
Also request ids and exact Unicode round trips."""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from service.api.errors import _sentence, _strip_location, domain_status, flatten_messages
from service.app import create_app
from service.application.errors import ArticleExists, ClaimedByOther, IdempotencyKeyReused
from service.bootstrap import build
from service.db import make_engine, write_transaction
from service.domain.errors import (
    ArticleIsClosed,
    AuthorIsBanned,
    CommentNotFound,
    Conflict,
    DecisionRefused,
    DomainError,
    InvalidInput,
    NoteRequired,
    ParentNotFound,
    UnknownReason,
)

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


def test_retry_after_for_a_rate_limit_is_the_time_until_the_window_frees(
        settings, services, article, monkeypatch):
    """The moving window frees a place when its oldest hit is a period old; the limiter
    names the whole second after that, and Retry-After counts the seconds to it rounded up,
    so a client that waits it is never early (time stands still in this test)."""
    import time

    now = [1_800_000_000.25]
    monkeypatch.setattr(time, "time", lambda: now[0])
    app = create_app(replace(settings, submit_rate_limit="2/hour"), services)
    client = app.test_client()
    assert submit(client, article).status_code == 202
    now[0] += 10
    assert submit(client, article).status_code == 202
    refused = submit(client, article)
    assert_error(refused, 429, "rate_limited")
    # the first hit leaves in 3590 s; the limiter names the second after: 3590.75 s -> 3591
    assert refused.headers["Retry-After"] == "3591"
    now[0] += 3589.5  # half a second before it leaves: 1.25 s to the named second
    assert submit(client, article).headers["Retry-After"] == "2"


def test_a_rate_limited_view_answers_429_with_its_retry_after(app, client):
    from service.api.ratelimit import RateLimited

    def limited(*_args, **_kwargs):
        raise RateLimited(17)

    app.view_functions["guidelines.Guidelines"] = limited
    response = client.get("/v1/guidelines")
    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "17"


def test_only_the_limited_operations_are_counted(settings, services, article):
    """Reads, decisions and every other operation pass by the limiter: with a limit of
    one submission a minute, any number of them go through after it is spent."""
    app = create_app(replace(settings, submit_rate_limit="1/minute"), services)
    client = app.test_client()
    limiter = app.extensions["moderation"].limiter
    calls = []
    check = limiter.check
    limiter.check = lambda *args: (calls.append(args), check(*args))[1]
    assert submit(client, article).status_code == 202
    for _ in range(3):
        assert client.get(f"/v1/articles/{article}/comments").status_code == 200
        assert client.get("/v1/guidelines").status_code == 200
    assert calls == [("articles.ArticleComments", "127.0.0.1")]
    assert submit(client, article).status_code == 429


def test_an_unreachable_rate_limit_store_falls_back_to_counting_in_memory(
        settings, services, article, caplog):
    """Submissions are not refused because the shared store is down: the worker counts
    alone, so the limit still holds, per worker."""
    down = replace(settings, submit_rate_limit="2/minute",
                   rate_limit_storage_uri="redis://127.0.0.1:1/0")  # nothing listens there
    client = create_app(down, services).test_client()
    statuses = [submit(client, article).status_code for _ in range(3)]
    assert statuses == [202, 202, 429], statuses
    assert "rate limit storage unreachable" in caplog.text


def _raising(app, error):
    def view(*_args, **_kwargs):
        raise error

    app.view_functions["guidelines.Guidelines"] = view


@pytest.mark.parametrize("error", [
    sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    sa.exc.InterfaceError("SELECT 1", {}, Exception("connection already closed")),
    sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    sa.exc.DBAPIError("SELECT 1", {}, Exception("the connection was lost"),
                      connection_invalidated=True),
], ids=["operational", "interface", "pool timeout", "invalidated connection"])
def test_database_trouble_is_503_with_retry_after(app, client, caplog, error):
    _raising(app, error)
    response = client.get("/v1/guidelines")
    body = assert_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert "Retry-After" in body["message"]
    assert "database unavailable during GET /v1/guidelines" in caplog.text


def test_another_database_error_on_a_live_connection_is_a_500(app, client, caplog):
    _raising(app, sa.exc.DBAPIError("SELECT 1", {}, Exception("division by zero"),
                                    connection_invalidated=False))
    response = client.get("/v1/guidelines")
    assert_error(response, 500, "internal_error")
    assert "division by zero" not in response.get_data(as_text=True)
    assert "unhandled error in GET /v1/guidelines" in caplog.text


def test_read_models_out_of_step_is_503_read_models_behind(app, client, caplog):
    from service.projections.runner import ProjectionOutOfStep

    _raising(app, ProjectionOutOfStep("queue is at 3, the next event expects 4"))
    response = client.get("/v1/guidelines")
    body = assert_error(response, 503, "read_models_behind")
    assert response.headers["Retry-After"] == "30"
    assert body["errors"] == {}
    assert "read models are out of step: queue is at 3" in caplog.text


def test_an_http_error_raised_as_the_unexpected_is_rendered_as_itself(app, client):
    from werkzeug.exceptions import Conflict, Gone

    _raising(app, Gone())
    body = assert_error(client.get("/v1/guidelines"), 410, "gone")
    assert body["message"].startswith("The requested URL is no longer available")
    _raising(app, Conflict("the thing moved"))
    assert assert_error(client.get("/v1/guidelines"), 409, "conflict")["message"] == \
        "The thing moved."


def test_a_refusal_naming_a_version_carries_it_as_the_etag(app, client):
    from service.application.errors import StaleStreamVersion

    _raising(app, StaleStreamVersion("article-a1", 1, 3))
    response = client.get("/v1/guidelines")
    body = assert_error(response, 409, "version_conflict")
    assert response.headers["ETag"] == '"3"'
    assert body["current_version"] == 3
    _raising(app, InvalidInput("title too long", {"title": ["Too long."]}))
    response = client.get("/v1/guidelines")
    body = assert_error(response, 422, "invalid_input")
    assert "ETag" not in response.headers
    assert (body["message"], body["errors"]) == ("Title too long.", {"title": ["Too long."]})


@pytest.mark.parametrize(("error", "status"), [
    (NoteRequired("n"), 422), (DecisionRefused("d"), 409), (UnknownReason("u"), 422),
    (ParentNotFound("p"), 422), (CommentNotFound("c"), 404), (Conflict("c"), 409),
    (DomainError("x"), 422), (IdempotencyKeyReused("k"), 422), (ArticleExists("a"), 409),
    (ClaimedByOther("c", {"moderator_id": "m", "expires_at": datetime.now(UTC)}), 409),
    (AuthorIsBanned("b"), 403), (ArticleIsClosed("a1", None), 409),
])
def test_each_domain_refusal_has_its_status(error, status):
    assert domain_status(error) == status


def test_messages_are_flattened_to_dotted_fields():
    assert flatten_messages({"author": {"name": ["Missing."], "email": ["Bad.", "Long."]},
                             "reasons": {0: ["Unknown."]}, "body": ["Empty."]}) == {
        "author.name": ["Missing."], "author.email": ["Bad.", "Long."],
        "reasons.0": ["Unknown."], "body": ["Empty."]}
    # marshmallow's _schema under a field is about the field; at the top, it stays _schema
    assert flatten_messages({"author": {"_schema": ["Invalid input type."]},
                             "_schema": ["Whole body."]}) == {
        "author": ["Invalid input type."], "_schema": ["Whole body."]}
    # lists of nested messages keep their prefix; a bare message is about the request
    assert flatten_messages({"items": [{"id": ["Bad."]}, ["Twice."], "Once."]}) == {
        "items.id": ["Bad."], "items": ["Twice.", "Once."]}
    assert flatten_messages("Not JSON.") == {"_request": ["Not JSON."]}
    assert flatten_messages(["a", ("b",)]) == {"_request": ["a", "b"]}
    assert flatten_messages({}) == {}


def test_location_levels_are_dropped_from_webargs_messages():
    assert _strip_location({"json": {"body": ["Missing."]}, "query": {"x": ["Unknown."]}}) == {
        "body": ["Missing."], "x": ["Unknown."]}
    assert _strip_location({"json": ["Invalid JSON."]}) == {"_request": ["Invalid JSON."]}
    assert _strip_location({"body": ["Missing."]}) == {"body": ["Missing."]}
    assert _strip_location(["x"]) == ["x"]


@pytest.mark.parametrize(("text", "sentence"), [
    ("", "The request was refused."), ("   ", "The request was refused."),
    ("already closed", "Already closed."), (" spaced out ", "Spaced out."),
    ("Done.", "Done."), ("really?", "Really?"), ("stop!", "Stop!"), ("x", "X."),
])
def test_sentences(text, sentence):
    assert _sentence(text) == sentence


def test_the_413_message_names_the_limit(client, api_settings):
    response = client.post("/v1/articles/a/comments", data=b"x" * (2 * 65536),
                           content_type="application/json")
    body = assert_error(response, 413, "request_too_large")
    assert body["message"] == "The request body is larger than the limit of 65536 bytes."


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 422,
                                    428, 429, 500, 503])
def test_every_http_status_has_its_code_and_message(app, client, status):
    """Whatever raises a plain HTTP error (routing, werkzeug, a library), the body has the
    service's code for the status and, where the service has one, its sentence."""
    from werkzeug.exceptions import default_exceptions

    from service.api.errors import HTTP_CODES, HTTP_MESSAGES

    error = default_exceptions[status]()
    if status == 405:
        error = default_exceptions[405](valid_methods=["GET"])
    _raising(app, error)
    response = client.get("/v1/guidelines")
    codes = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
             405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
             412: "precondition_failed", 413: "request_too_large",
             415: "unsupported_media_type", 422: "validation_failed",
             428: "precondition_required", 429: "rate_limited", 500: "internal_error",
             503: "service_unavailable"}
    assert codes == HTTP_CODES
    body = assert_error(response, status, codes[status])
    sentences = {404: "No such resource.", 405: "This method is not allowed on this resource.",
                 422: "The request is not valid; see errors for each field.",
                 429: "Too many requests from this address; retry after the time in "
                      "Retry-After.",
                 500: "Something went wrong on our side; it has been logged."}
    if status in sentences:
        assert body["message"] == sentences[status]
    if status == 413:
        assert body["message"] == HTTP_MESSAGES[413].format(limit=65536)
    elif status in HTTP_MESSAGES:
        assert body["message"] == HTTP_MESSAGES[status]
    else:
        assert body["message"] == _sentence(error.description)
    assert ("Allow" in response.headers) == (status == 405)
