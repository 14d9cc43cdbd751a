"""Public endpoints: submitting, the approved thread, articles and guidelines."""

from __future__ import annotations

import pytest

from service.domain.guidelines import CATALOGUE

from .helpers import approve, assert_error, bearer, head, reject, submit, submitted_id


def test_submit_returns_202_with_location_and_pending_comment(client, article, services):
    before = head(services)
    response = submit(client, article, body="Thank you for this report.", name="Lina",
                      email="lina@example.org")
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"id", "article_id", "status", "submitted_at", "version"}
    assert body["article_id"] == article
    assert body["status"] == "pending"
    assert body["version"] >= 1
    assert body["submitted_at"].startswith("2026-11-01T09:00:00")
    assert body["submitted_at"].endswith("+00:00")
    assert response.headers["Location"] == f"/v1/comments/{body['id']}"
    assert head(services) > before


def test_submission_records_the_reader_not_a_body_field_as_actor(client, article, services):
    response = submit(client, article, headers={"X-Request-ID": "req-123"})
    comment_id = response.get_json()["id"]
    [submitted] = [e for e in services.queries.history(comment_id)
                   if e["type"] == "comment.submitted"]
    assert submitted["metadata"]["actor"]["role"] == "reader"
    assert submitted["metadata"]["correlation_id"] == "req-123"
    assert submitted["data"]["network_address"] == "127.0.0.1"


def test_idempotency_key_makes_retries_safe(client, article, services):
    headers = {"Idempotency-Key": "retry-7f3a"}
    first = submit(client, article, body="Once only", headers=headers)
    after_first = head(services)
    second = submit(client, article, body="Once only", headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert head(services) == after_first


def test_a_retried_submission_to_an_article_with_the_longest_id(client, tokens, services):
    """Found by fuzzing on PostgreSQL: the key's scope (`submit:` and the article id) did
    not fit its column, so the first attempt answered 500."""
    longest = "a" * 100
    assert client.post("/v1/articles", json={"id": longest, "title": "Long"},
                       headers=bearer(tokens.admin)).status_code == 201
    headers = {"Idempotency-Key": "k" * 200}
    first = submit(client, longest, body="Once", headers=headers)
    assert first.status_code == 202, first.get_json()
    after = head(services)
    again = submit(client, longest, body="Once", headers=headers)
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert head(services) == after


def test_idempotency_key_with_another_body_is_refused(client, article, services):
    submit(client, article, body="Original", headers={"Idempotency-Key": "k-1"})
    before = head(services)
    response = submit(client, article, body="Changed", headers={"Idempotency-Key": "k-1"})
    body = assert_error(response, 422, "idempotency_key_reused")
    assert "idempotency_key" in body["errors"]
    assert head(services) == before


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "naïve"])
def test_malformed_idempotency_key_is_400(client, article, services, key):
    before = head(services)
    response = client.post(f"/v1/articles/{article}/comments",
                           json={"author": {"name": "A"}, "body": "b"},
                           headers={"Idempotency-Key": key.encode().decode("latin-1")})
    assert_error(response, 400, "invalid_idempotency_key")
    assert head(services) == before


def test_submit_to_unknown_article_is_404(client, services, article):
    before = head(services)
    assert_error(submit(client, "no-such-article"), 404, "article_not_found")
    assert head(services) == before


@pytest.mark.parametrize("path", ["/v1/articles/-bad/comments", "/v1/articles/a%20b/comments",
                                  "/v1/articles/" + "a" * 101 + "/comments"])
def test_impossible_article_ids_are_not_routes(client, path, article):
    assert_error(client.get(path), 404, "not_found")
    assert_error(client.post(path, json={"author": {"name": "A"}, "body": "b"}), 404,
                 "not_found")


def test_reply_to_unknown_parent_is_422(client, article, services):
    before = head(services)
    response = submit(client, article, parent_id="5b0c2a8e-55f5-4a59-9a43-1b7f8e1a0c11")
    body = assert_error(response, 422, "parent_not_found")
    assert "parent_id" in body["errors"]
    assert head(services) == before


def test_public_list_shows_only_approved_comments_without_private_fields(
        client, article, tokens):
    approved = submitted_id(client, article, body="Approved one", name="Ahmad",
                            email="ahmad@example.org")
    submitted_id(client, article, body="Still pending")
    rejected = submitted_id(client, article, body="Rejected one")
    assert approve(client, tokens.moderator, approved, note="fine").status_code == 200
    assert reject(client, tokens.moderator, rejected, ["off_topic"],
                  note="secret note").status_code == 200

    response = client.get(f"/v1/articles/{article}/comments")
    assert response.status_code == 200
    page = response.get_json()
    assert page["next_cursor"] is None
    [item] = page["items"]
    assert item["id"] == approved
    assert item["body"] == "Approved one"
    assert item["author_name"] == "Ahmad"
    assert set(item) == {"id", "article_id", "parent_id", "author_name", "body",
                         "submitted_at", "published_at", "erased"}
    text = response.get_data(as_text=True)
    for secret in ("ahmad@example.org", "maya", "secret note", "fine", "Still pending",
                   "Rejected one"):
        assert secret not in text


def test_public_list_pages_with_cursor(client, article, tokens, clock):
    ids = []
    for i in range(5):
        clock.advance(seconds=1)
        ids.append(submitted_id(client, article, body=f"comment {i}"))
    for comment_id in ids:
        assert approve(client, tokens.moderator, comment_id).status_code == 200
    seen, cursor = [], None
    while True:
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/articles/{article}/comments", query_string=query).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


@pytest.mark.parametrize("cursor", ["not-base64!", "AAAA", "djE6cHVibGljOng", "%%%",
                                    "djE6cXVldWUtb2xkZXN0OjE"])
def test_malformed_or_foreign_cursor_is_400(client, article, cursor):
    response = client.get(f"/v1/articles/{article}/comments", query_string={"cursor": cursor})
    body = assert_error(response, 400, "invalid_cursor")
    assert "cursor" in body["errors"]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"},
                                   {"unknown": "1"}])
def test_bad_page_arguments_are_422(client, article, query):
    assert_error(client.get(f"/v1/articles/{article}/comments", query_string=query), 422,
                 "validation_failed")


def test_public_list_of_unknown_article_is_404(client, article):
    assert_error(client.get("/v1/articles/nothing-here/comments"), 404, "article_not_found")


def test_article_is_public_and_counts_published_comments(client, article, tokens):
    comment_id = submitted_id(client, article)
    approve(client, tokens.moderator, comment_id)
    body = client.get(f"/v1/articles/{article}").get_json()
    assert body["id"] == article
    assert body["title"] == "Life after the camp"
    assert body["approved_comments"] == 1
    assert_error(client.get("/v1/articles/unknown"), 404, "article_not_found")


def test_admin_registers_articles(client, tokens, services):
    payload = {"id": "new-piece", "title": "عنوان", "published_at": "2026-10-31T12:00:00Z"}
    response = client.post("/v1/articles", json=payload, headers=bearer(tokens.admin))
    assert response.status_code == 201
    assert response.headers["Location"] == "/v1/articles/new-piece"
    assert response.get_json()["title"] == "عنوان"
    assert response.get_json()["published_at"] == "2026-10-31T12:00:00+00:00"
    before = head(services)
    assert_error(client.post("/v1/articles", json=payload, headers=bearer(tokens.admin)),
                 409, "article_exists")
    assert_error(client.post("/v1/articles", json={"id": "x y", "title": "t"},
                             headers=bearer(tokens.admin)), 422, "invalid_input")
    for bad in ({"id": "demo-newline\n", "title": "t"}, {"id": "ok-2", "title": "t\nx"},
                {"id": "ok-3", "title": "\u200b"}):
        assert_error(client.post("/v1/articles", json=bad, headers=bearer(tokens.admin)),
                     422, "invalid_input")
    assert_error(client.post("/v1/articles", json={"id": "ok", "title": "t",
                                                   "published_at": "2026-10-31T12:00:00"},
                             headers=bearer(tokens.admin)), 422, "validation_failed")
    assert_error(client.post("/v1/articles", json=payload, headers=bearer(tokens.moderator)),
                 403, "forbidden")
    assert head(services) == before


def test_guidelines_catalogue(client):
    response = client.get("/v1/guidelines")
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == CATALOGUE.version
    codes = [g["code"] for g in body["guidelines"]]
    assert codes == list(CATALOGUE.codes)
    other = next(g for g in body["guidelines"] if g["code"] == "other")
    assert other["note_required"] is True
