"""Bad input never causes a 500 or a partial write: each is a clear 4xx in our format."""

from __future__ import annotations

import json

import pytest

from .helpers import assert_error, bearer, head, submitted_id, version_of

VALID = {"author": {"name": "Reader"}, "body": "Fine."}
JSON = "application/json"


def post_raw(client, article, data: bytes, content_type: str | None = JSON, **headers):
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.post(f"/v1/articles/{article}/comments", data=data, headers=headers)


BAD_BODIES = [
    # (description, raw body, content type, status, code, field expected in errors)
    ("empty body", b"", JSON, 422, "validation_failed", "body"),
    ("empty object", b"{}", JSON, 422, "validation_failed", "author"),
    ("malformed JSON", b'{"author": {"name": "A"}, "body": ', JSON, 400, "malformed_json",
     None),
    ("trailing garbage", b'{"author": {"name": "A"}, "body": "b"} x', JSON, 400,
     "malformed_json", None),
    ("NaN", b'{"author": {"name": "A"}, "body": NaN}', JSON, 400, "malformed_json", None),
    ("duplicate keys", b'{"author": {"name": "A"}, "body": "kept?", "body": "or this?"}', JSON,
     400, "malformed_json", None),
    ("nested duplicate keys", b'{"author": {"name": "A", "name": "B"}, "body": "b"}', JSON,
     400, "malformed_json", None),
    ("deep nesting", b"[" * 30000 + b"]" * 30000, JSON, 400, "malformed_json", None),
    ("top-level array", b"[1, 2]", JSON, 422, "validation_failed", "_schema"),
    ("top-level string", b'"hello"', JSON, 422, "validation_failed", "_schema"),
    ("invalid UTF-8", b'{"author": {"name": "A"}, "body": "caf\xe9 \xff"}', JSON, 400,
     "invalid_utf8", None),
    ("overlong UTF-8", b'{"author": {"name": "A"}, "body": "\xc0\xaf"}', JSON, 400,
     "invalid_utf8", None),
    ("UTF-16", json.dumps(VALID).encode("utf-16"), JSON, 400, "invalid_utf8", None),
    ("text/plain", json.dumps(VALID).encode(), "text/plain", 415, "unsupported_media_type",
     None),
    ("form", b"author=A&body=b", "application/x-www-form-urlencoded", 415,
     "unsupported_media_type", None),
    ("no content type", json.dumps(VALID).encode(), None, 415, "unsupported_media_type",
     None),
    ("latin-1 charset", json.dumps(VALID).encode(), "application/json; charset=latin-1", 415,
     "unsupported_media_type", None),
    ("unknown field", json.dumps({**VALID, "status": "approved"}).encode(), JSON, 422,
     "validation_failed", "status"),
    ("unknown nested field", json.dumps({"author": {"name": "A", "role": "admin"},
                                         "body": "b"}).encode(), JSON, 422,
     "validation_failed", "author.role"),
    ("body is a number", json.dumps({"author": {"name": "A"}, "body": 42}).encode(), JSON,
     422, "validation_failed", "body"),
    ("body is null", json.dumps({"author": {"name": "A"}, "body": None}).encode(), JSON, 422,
     "validation_failed", "body"),
    ("author is a string", json.dumps({"author": "A", "body": "b"}).encode(), JSON, 422,
     "validation_failed", "author"),
    ("email is a list", json.dumps({"author": {"name": "A", "email": ["x"]},
                                    "body": "b"}).encode(), JSON, 422, "validation_failed",
     "author.email"),
    ("empty text", json.dumps({"author": {"name": "A"}, "body": "   "}).encode(), JSON, 422,
     "invalid_input", "body"),
    ("empty name", json.dumps({"author": {"name": ""}, "body": "b"}).encode(), JSON, 422,
     "invalid_input", "author.name"),
    ("bad e-mail", json.dumps({"author": {"name": "A", "email": "nope"},
                               "body": "b"}).encode(), JSON, 422, "invalid_input",
     "author.email"),
    ("control character", json.dumps({"author": {"name": "A"},
                                      "body": "bell\u0007"}).encode(), JSON, 422,
     "invalid_input", "body"),
    ("lone surrogate escape", b'{"author": {"name": "A"}, "body": "x\\ud800y"}', JSON, 400,
     "invalid_utf8", "body"),
    ("lone surrogate in a key", b'{"author": {"name": "A"}, "body": "b", "\\udc00": 1}', JSON,
     400, "invalid_utf8", "_body"),
    ("text over the limit", json.dumps({"author": {"name": "A"},
                                        "body": "x" * 5001}).encode(), JSON, 422,
     "invalid_input", "body"),
]


@pytest.mark.parametrize("case", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_submission_is_refused_without_writing(client, article, services, case):
    _, data, content_type, status, code, field = case
    before = head(services)
    body = assert_error(post_raw(client, article, data, content_type), status, code)
    if field is not None:
        assert field in body["errors"], body
    assert head(services) == before


def test_request_over_the_size_limit_is_413(client, article, services, api_settings):
    before = head(services)
    big = json.dumps({"author": {"name": "A"},
                      "body": "x" * (api_settings.max_request_bytes + 1)}).encode()
    body = assert_error(post_raw(client, article, big), 413, "request_too_large")
    assert str(api_settings.max_request_bytes) in body["message"]
    assert head(services) == before


def _unsized(client, article, data: bytes):
    """A body without Content-Length, as a server hands over a chunked request."""
    import io
    return client.post(f"/v1/articles/{article}/comments", input_stream=io.BytesIO(data),
                       headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


def test_an_unsized_body_over_the_limit_is_413_and_never_processed_cut(
        client, article, services, api_settings):
    limit = api_settings.max_request_bytes
    valid = json.dumps(VALID).encode()
    cut_is_valid = valid + b" " * (limit - len(valid))  # the first `limit` bytes parse
    before = head(services)
    assert_error(_unsized(client, article, cut_is_valid + b"junk" * 10_000), 413,
                 "request_too_large")
    assert_error(_unsized(client, article, cut_is_valid + b" "), 413, "request_too_large")
    assert head(services) == before
    assert _unsized(client, article, cut_is_valid).status_code == 202  # exactly the limit


def test_decision_bad_inputs(client, article, tokens, services):
    comment_id = submitted_id(client, article)
    version = version_of(client, tokens.moderator, comment_id)
    url = f"/v1/comments/{comment_id}/reject"
    before = head(services)

    def post(body=None, data=None, content_type=JSON, if_match=f'"{version}"'):
        headers = bearer(tokens.moderator)
        if if_match is not None:
            headers["If-Match"] = if_match
        if data is None:
            return client.post(url, json=body, headers=headers)
        return client.post(url, data=data, headers={**headers, "Content-Type": content_type})

    assert_error(post({"reasons": ["no_such_reason"]}), 422, "unknown_reason")
    assert_error(post({"reasons": []}), 422, "validation_failed")  # minItems 1 in the schema
    assert_error(post({"reasons": "off_topic"}), 422, "validation_failed")
    assert_error(post({"reasons": [1]}), 422, "validation_failed")
    assert_error(post({"reasons": ["off_topic"], "moderator_id": "someone"}), 422,
                 "validation_failed")
    assert_error(post({"reasons": ["other"]}), 422, "note_required")
    assert_error(post({"reasons": ["off_topic"], "note": 5}), 422, "validation_failed")
    assert_error(post({"reasons": ["off_topic"], "note": "x" * 2001}), 422, "invalid_input")
    assert_error(post(data=b"{", content_type=JSON), 400, "malformed_json")
    assert_error(post(data=b"reasons=off_topic", content_type="text/plain"), 415,
                 "unsupported_media_type")
    assert_error(post(data=b'{"reasons": ["\xff"]}'), 400, "invalid_utf8")
    assert head(services) == before


@pytest.mark.parametrize("if_match", ["abc", '"abc"', "*", '"1", "2"', "-1", "1.5",
                                      '"' + "9" * 19 + '"', "\u00b2"])
def test_non_numeric_if_match_is_400(client, article, tokens, services, if_match):
    comment_id = submitted_id(client, article)
    before = head(services)
    response = client.post(f"/v1/comments/{comment_id}/approve", json={},
                           headers=bearer(tokens.moderator,
                                          **{"If-Match": if_match.encode().decode("latin-1")}))
    body = assert_error(response, 400, "invalid_if_match")
    assert "If-Match" in body["errors"]
    assert head(services) == before


@pytest.mark.parametrize("version", ["3", 1.5, True, -1, None, [1], 2**63, 1])
def test_a_version_in_the_body_is_an_unknown_field(client, article, tokens, services,
                                                   version):
    comment_id = submitted_id(client, article)
    before = head(services)
    response = client.post(f"/v1/comments/{comment_id}/approve",
                           json={"expected_version": version}, headers=bearer(tokens.moderator))
    body = assert_error(response, 422, "validation_failed")
    assert "expected_version" in body["errors"]
    assert head(services) == before


@pytest.mark.parametrize("query", [
    {"at_position": "x"}, {"at_position": "-1"}, {"at_position": str(2**63)},
    {"as_of": "yesterday"}, {"as_of": "2026-11-01T09:00:00"},
    {"as_of": "2026-11-01T09:00:00Z", "at_position": "3"}, {"as_of": "0001-01-01T00:00:00+01:00"},
    {"extra": "1"},
])
def test_bad_as_of_arguments_are_422(client, article, tokens, query):
    comment_id = submitted_id(client, article)
    response = client.get(f"/v1/comments/{comment_id}", query_string=query,
                          headers=bearer(tokens.moderator))
    assert_error(response, 422, "validation_failed")


@pytest.mark.parametrize("path,query", [
    ("/v1/events", {"after": "x"}), ("/v1/events", {"after": "-1"}),
    ("/v1/events", {"limit": "1001"}), ("/v1/events", {"type": "comment.deleted"}),
    ("/v1/events", {"after": str(2**64)}),
    ("/v1/audit/decisions", {"since": "not a time"}),
    ("/v1/audit/decisions", {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}),
    ("/v1/audit/decisions", {"limit": "0"}), ("/v1/audit/decisions", {"moderatr": "maya"}),
    ("/v1/stats", {"until": "2026-13-01T00:00:00Z"}), ("/v1/stats", {"since": "12"}),
    ("/v1/queue", {"sort": "random"}), ("/v1/queue", {"limit": "-5"}),
    ("/v1/queue", {"flag": "\x00"}), ("/v1/queue", {"article_id": "\x00"}),
    ("/v1/queue", {"article_id": "a\x00b"}), ("/v1/queue", {"flag": ""}),
    ("/v1/queue", {"flag": "bogus"}),
    ("/v1/audit/decisions", {"moderator": "\x00"}), ("/v1/audit/decisions", {"reason": "\x00"}),
    ("/v1/audit/decisions", {"comment_id": "\x00"}),
    ("/v1/audit/decisions", {"article_id": "a\x00b"}),
    ("/v1/audit/decisions", {"moderator": "x" * 201}),
])
def test_bad_query_arguments_are_422(client, tokens, path, query):
    assert_error(client.get(path, query_string=query, headers=bearer(tokens.admin)), 422,
                 "validation_failed")


@pytest.mark.parametrize("path", ["/v1/queue", "/v1/audit/decisions"])
@pytest.mark.parametrize("cursor", ["@@@", "bm90IGEgY3Vyc29y", "djE6cHVibGljOjE", "=" * 4])
def test_malformed_cursors_are_400(client, tokens, path, cursor):
    assert_error(client.get(path, query_string={"cursor": cursor},
                            headers=bearer(tokens.admin)), 400, "invalid_cursor")


def test_unknown_comment_ids_are_404(client, article, tokens, services):
    unknown = "0e6c1f0c-8d0e-4f7e-9b7a-3c2d1e0f9a8b"
    moderator = bearer(tokens.moderator, **{"If-Match": '"1"'})
    before = head(services)
    for response in (
        client.get(f"/v1/comments/{unknown}", headers=moderator),
        client.get(f"/v1/comments/{unknown}/events", headers=moderator),
        client.get(f"/v1/comments/{unknown}", query_string={"at_position": 5},
                   headers=moderator),
        client.post(f"/v1/comments/{unknown}/approve", json={}, headers=moderator),
        client.post(f"/v1/comments/{unknown}/reject", json={"reasons": ["off_topic"]},
                    headers=moderator),
    ):
        assert_error(response, 404, "comment_not_found")
    for path in ("/v1/comments/not-a-uuid", "/v1/comments/not-a-uuid/approve"):
        assert client.get(path, headers=moderator).status_code in (404, 405)
    assert_error(client.post("/v1/comments/not-a-uuid/approve", json={}, headers=moderator),
                 404, "not_found")
    assert head(services) == before


def test_undeclared_query_parameters_are_refused(client, article, services, tokens):
    before = head(services)
    response = client.post(f"/v1/articles/{article}/comments?foo=1", json=VALID)
    body = assert_error(response, 422, "validation_failed")
    assert body["errors"] == {"foo": ["Unknown field."]}
    assert head(services) == before
    comment_id = submitted_id(client, article)
    assert_error(client.get(f"/v1/comments/{comment_id}/events?x=1",
                            headers=bearer(tokens.moderator)), 422, "validation_failed")
    assert client.get(f"/v1/comments/{comment_id}/events",
                      headers=bearer(tokens.moderator)).status_code == 200
