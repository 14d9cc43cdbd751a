"""Closing an article to new comments and reopening it: roles, versions, the refusal a
submitter gets, the public view, history, feed, webhooks and rebuild."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from service.db import read_transaction
from service.webhooks.admin import Webhooks
from service.webhooks.tables import webhook_deliveries

from .helpers import assert_error, bearer, head, submit, submitted_id

MESSAGE = "Comments are closed: the investigation is now before the court."


def close(client, token, article_id, body=None, **headers):  # noqa: ANN001, ANN201
    return client.post(f"/v1/articles/{article_id}/close", json=body or {},
                       headers=bearer(token, **headers))


def reopen(client, token, article_id, body=None, **headers):  # noqa: ANN001, ANN201
    return client.post(f"/v1/articles/{article_id}/reopen", json=body or {},
                       headers=bearer(token, **headers))


def test_a_moderator_closes_an_article_and_readers_see_it(client, tokens, article, services):
    before = client.get(f"/v1/articles/{article}")
    assert before.status_code == 200
    assert before.get_json()["status"] == "open"
    assert before.get_json()["closed_message"] is None
    assert before.headers["ETag"] == '"1"'

    response = close(client, tokens.moderator, article, {"message": MESSAGE})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "closed"
    assert body["closed_message"] == MESSAGE
    assert body["closed_at"].startswith("2026-11-01T09:00:00")
    assert body["version"] == 2
    assert response.headers["ETag"] == '"2"'

    public = client.get(f"/v1/articles/{article}").get_json()
    assert public["status"] == "closed" and public["closed_message"] == MESSAGE
    assert "closed_by" not in public  # moderators' identities are not public


def test_submissions_to_a_closed_article_are_refused_with_the_message(client, tokens,
                                                                     article, services):
    submitted_id(client, article)  # the article is now known (cached) to the handler
    close(client, tokens.moderator, article, {"message": MESSAGE})
    before = head(services)
    response = submit(client, article, body="Too late?")
    body = assert_error(response, 409, "article_closed")
    assert body["closed_message"] == MESSAGE
    assert MESSAGE in body["message"]
    assert head(services) == before
    with_key = submit(client, article, body="Too late?", headers={"Idempotency-Key": "late-1"})
    assert_error(with_key, 409, "article_closed")
    assert head(services) == before


def test_a_closed_article_is_refused_by_a_fresh_process_too(client, tokens, article,
                                                            services, api_settings):
    """The pre-append check (article not yet known to this process) refuses as well."""
    from service.app import create_app
    from service.bootstrap import build

    close(client, tokens.moderator, article)
    other = build(api_settings, clock=services.clock)
    try:
        fresh = create_app(api_settings, other).test_client()
        before = head(services)
        body = assert_error(submit(fresh, article), 409, "article_closed")
        assert body["closed_message"] is None
        assert head(services) == before
    finally:
        other.close()


def test_reopening_takes_comments_again(client, tokens, article, services):
    close(client, tokens.moderator, article, {"message": MESSAGE})
    response = reopen(client, tokens.admin, article)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "open" and body["closed_message"] is None
    assert body["closed_at"] is None and body["version"] == 3
    assert submit(client, article).status_code == 202


def test_closing_twice_or_reopening_an_open_article_is_refused(client, tokens, article,
                                                               services):
    assert_error(reopen(client, tokens.moderator, article), 409, "decision_refused")
    close(client, tokens.moderator, article)
    before = head(services)
    assert_error(close(client, tokens.moderator, article), 409, "decision_refused")
    assert head(services) == before


def test_if_match_is_optional_but_checked(client, tokens, article, services):
    stale = close(client, tokens.moderator, article, **{"If-Match": '"7"'})
    body = assert_error(stale, 409, "version_conflict")
    assert body["current_version"] == 1
    assert head(services) == 1
    assert close(client, tokens.moderator, article, **{"If-Match": '"1"'}).status_code == 200
    assert_error(reopen(client, tokens.moderator, article, **{"If-Match": "1"}),
                 409, "version_conflict")
    assert reopen(client, tokens.moderator, article, **{"If-Match": "2"}).status_code == 200
    assert_error(close(client, tokens.moderator, article, **{"If-Match": "three"}),
                 400, "invalid_if_match")
    assert_error(close(client, tokens.moderator, article, {"expected_version": 3}),
                 422, "validation_failed")


@pytest.mark.parametrize("path", ["close", "reopen"])
def test_only_moderators_and_admins_close_or_reopen(client, tokens, article, path):
    url = f"/v1/articles/{article}/{path}"
    assert_error(client.post(url, json={}), 401, "unauthenticated")
    assert_error(client.post(url, json={}, headers=bearer(tokens.auditor)), 403, "forbidden")
    assert_error(client.post(url, json={}, headers=bearer("not-a-token")), 401,
                 "invalid_token")


def test_unknown_article_and_bad_input(client, tokens, article, services):
    assert_error(close(client, tokens.moderator, "no-such-article"), 404,
                 "article_not_found")
    assert_error(reopen(client, tokens.moderator, "no-such-article"), 404,
                 "article_not_found")
    body = assert_error(close(client, tokens.moderator, article, {"message": "x" * 501}),
                        422, "invalid_input")
    assert "message" in body["errors"]
    assert_error(close(client, tokens.moderator, article, {"message": 5}), 422,
                 "validation_failed")
    assert_error(close(client, tokens.moderator, article, {"reason": "x"}), 422,
                 "validation_failed")
    assert_error(close(client, tokens.moderator, article, {"message": "bad\x00"}), 422,
                 "invalid_input")
    assert head(services) == 1
    # an empty message is no message
    ok = close(client, tokens.moderator, article, {"message": "   "})
    assert ok.status_code == 200 and ok.get_json()["closed_message"] is None


def test_closing_is_in_the_history_and_the_feed(client, tokens, article, services):
    close(client, tokens.moderator, article, {"message": MESSAGE})
    reopen(client, tokens.moderator2, article)
    history = client.get(f"/v1/articles/{article}/events", headers=bearer(tokens.auditor))
    assert history.status_code == 200
    items = history.get_json()["items"]
    assert [e["type"] for e in items] == ["article.registered", "article.closed",
                                          "article.reopened"]
    assert items[1]["data"]["message"] == MESSAGE
    assert items[1]["data"]["moderator_id"] == "maya"
    assert items[1]["metadata"]["actor"] == {"id": "maya", "role": "moderator"}
    assert items[2]["metadata"]["actor"]["id"] == "omar"
    assert_error(client.get(f"/v1/articles/{article}/events"), 401, "unauthenticated")
    assert_error(client.get("/v1/articles/nope/events", headers=bearer(tokens.auditor)),
                 404, "article_not_found")
    feed = client.get("/v1/events?type=article.closed&type=article.reopened",
                      headers=bearer(tokens.auditor)).get_json()["items"]
    assert [e["type"] for e in feed] == ["article.closed", "article.reopened"]


def test_closing_and_reopening_reach_webhooks(client, tokens, article, services,
                                              api_settings):
    hooks = Webhooks(services.engine, replace(api_settings, webhook_allow_loopback=True),
                     services.clock, services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
    endpoint, _ = hooks.create_endpoint("http://127.0.0.1:9/articles",
                                        event_types=["article.closed", "article.reopened"])
    submitted_id(client, article)
    close(client, tokens.moderator, article, {"message": MESSAGE})
    reopen(client, tokens.moderator, article)
    with read_transaction(services.engine) as conn:
        rows = conn.execute(sa.select(webhook_deliveries.c.event_type,
                                      webhook_deliveries.c.payload)
                            .where(webhook_deliveries.c.endpoint_id == endpoint.id)
                            .order_by(webhook_deliveries.c.id)).all()
    assert [r.event_type for r in rows] == ["article.closed", "article.reopened"]
    assert '"message":"Comments are closed' in rows[0].payload
    assert '"status":"open"' in rows[1].payload


def test_rebuild_reproduces_closed_and_reopened_articles(client, tokens, article, services):
    from service.application.commands import Actor, Context, RegisterArticle

    services.moderation.register_article(RegisterArticle("second", "Second"),
                                         Context(Actor("setup", "admin")))
    submitted_id(client, article)
    close(client, tokens.moderator, article, {"message": MESSAGE})
    close(client, tokens.moderator, "second")
    reopen(client, tokens.moderator, "second")
    report = services.runner.rebuild(services.engine, swap=False, batch_size=2)
    assert report.identical, report.differences


def test_articles_close_by_themselves_after_the_configured_days(client, tokens, services):
    from datetime import UTC, datetime

    from service.application.commands import Actor, Context, RegisterArticle

    admin = Context(Actor("setup", "admin"))
    services.moderation.register_article(RegisterArticle(
        "old-story", "Old", published_at=datetime(2026, 10, 20, tzinfo=UTC)), admin)
    services.moderation.register_article(RegisterArticle(
        "new-story", "New", published_at=datetime(2026, 10, 31, tzinfo=UTC)), admin)
    services.moderation.auto_close_days = 7
    try:
        before = head(services)
        body = assert_error(submit(client, "old-story"), 409, "article_closed")
        assert "7 days" in body["closed_message"]
        assert head(services) == before + 1  # the closing, recorded when first observed
        [closing] = client.get("/v1/events?type=article.closed",
                               headers=bearer(tokens.auditor)).get_json()["items"]
        assert closing["metadata"]["actor"] == {"id": "auto-close", "role": "system"}
        assert_error(submit(client, "old-story"), 409, "article_closed")
        assert head(services) == before + 1
        assert client.get("/v1/articles/old-story").get_json()["status"] == "closed"
        assert submit(client, "new-story").status_code == 202
        # a moderator's reopening stands
        assert reopen(client, tokens.moderator, "old-story").status_code == 200
        assert submit(client, "old-story").status_code == 202
    finally:
        services.moderation.auto_close_days = 0
    assert services.runner.rebuild(services.engine, swap=False).identical
