"""Moderator endpoints: the queue, a comment's state and history, and decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .helpers import (
    approve,
    assert_error,
    bearer,
    head,
    reject,
    submit,
    submitted_id,
    version_of,
)


def queue(client, token, **query):
    response = client.get("/v1/queue", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_queue_lists_pending_oldest_first_with_total(client, article, tokens, clock):
    ids = []
    for i in range(3):
        clock.advance(minutes=1)
        ids.append(submitted_id(client, article, body=f"pending {i}", email="r@example.org"))
    page = queue(client, tokens.moderator)
    assert [item["id"] for item in page["items"]] == ids
    assert page["total"] == 3
    assert page["next_cursor"] is None
    first = page["items"][0]
    assert first["status"] == "pending"
    assert first["author_email"] == "r@example.org"  # moderators see who wrote it
    assert first["body"] == "pending 0"
    assert [i["id"] for i in queue(client, tokens.moderator, sort="newest")["items"]] == \
        ids[::-1]


def test_a_queue_page_says_the_log_position_it_shows(client, article, tokens, services):
    """A dashboard follows the stream after the page's own position: nothing between the
    page and the stream is missed, with no second request for the head."""
    assert queue(client, tokens.moderator)["position"] == head(services)
    shown = submitted_id(client, article)
    page = queue(client, tokens.moderator)
    assert page["position"] == head(services)
    assert [i["id"] for i in page["items"]] == [shown]
    later = submitted_id(client, article)
    feed = client.get(f"/v1/events?after={page['position']}", headers=bearer(
        tokens.moderator)).get_json()["items"]
    assert {e["data"]["comment_id"] for e in feed} == {later}


@pytest.mark.parametrize("sort", ["oldest", "newest", "risk"])
def test_queue_cursor_pages_through_everything_once(client, article, tokens, clock, sort):
    ids = set()
    for i in range(7):
        clock.advance(seconds=10)
        ids.add(submitted_id(client, article, body=f"comment number {i}" + " !" * i))
    seen, cursor = [], None
    while True:
        page = queue(client, tokens.moderator, sort=sort, limit=3,
                     **({"cursor": cursor} if cursor else {}))
        assert page["total"] == 7
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(ids) and set(seen) == ids
    if sort == "risk":
        risks = [item["risk"] for item in
                 queue(client, tokens.moderator, sort="risk", limit=100)["items"]]
        assert risks == sorted(risks, reverse=True)


def test_queue_cursor_is_tied_to_its_sort_order(client, article, tokens):
    for _ in range(3):
        submitted_id(client, article)
    cursor = queue(client, tokens.moderator, limit=1)["next_cursor"]
    assert cursor
    for sort in ("newest", "risk"):
        assert_error(client.get("/v1/queue", query_string={"cursor": cursor, "sort": sort},
                                headers=bearer(tokens.moderator)), 400, "invalid_cursor")


def test_queue_filters_by_article(client, article, tokens, services):
    from service.application.commands import Actor, Context, RegisterArticle

    services.moderation.register_article(RegisterArticle("other", "Other"),
                                         Context(Actor("setup", "admin")))
    mine = submitted_id(client, article)
    submitted_id(client, "other")
    page = queue(client, tokens.moderator, article_id=article)
    assert [i["id"] for i in page["items"]] == [mine]
    assert page["total"] == 1
    assert queue(client, tokens.moderator, article_id="nothing")["total"] == 0


def test_decided_comments_leave_the_queue(client, article, tokens, services):
    a, b = submitted_id(client, article), submitted_id(client, article)
    assert approve(client, tokens.moderator, a).status_code == 200
    assert reject(client, tokens.moderator, b, ["off_topic"]).status_code == 200
    assert queue(client, tokens.moderator) == {"items": [], "next_cursor": None, "total": 0,
                                               "position": head(services)}


def test_comment_has_etag_and_honours_if_none_match(client, article, tokens):
    comment_id = submitted_id(client, article, body="Hello", name="Sara")
    response = client.get(f"/v1/comments/{comment_id}", headers=bearer(tokens.moderator))
    assert response.status_code == 200
    body = response.get_json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert body["id"] == comment_id
    assert body["author_name"] == "Sara"
    assert body["status"] == "pending"
    assert "as_of_position" not in body
    again = client.get(f"/v1/comments/{comment_id}",
                       headers=bearer(tokens.moderator,
                                      **{"If-None-Match": response.headers["ETag"]}))
    assert again.status_code == 304
    assert again.headers["ETag"] == response.headers["ETag"]
    stale = client.get(f"/v1/comments/{comment_id}",
                       headers=bearer(tokens.moderator, **{"If-None-Match": '"999"'}))
    assert stale.status_code == 200


def test_approve_with_if_match_records_the_token_as_actor(client, article, tokens, services):
    comment_id = submitted_id(client, article)
    version = version_of(client, tokens.moderator, comment_id)
    response = client.post(f"/v1/comments/{comment_id}/approve",
                           json={"note": "welcome"},
                           headers=bearer(tokens.moderator, **{"If-Match": f'"{version}"',
                                                               "X-Request-ID": "dash-42"}))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == comment_id
    assert body["status"] == "approved"
    assert body["version"] == version + 1
    assert response.headers["ETag"] == f'"{version + 1}"'
    last = services.queries.history(comment_id)[-1]
    assert last["type"] == "comment.approved"
    assert last["data"]["moderator_id"] == "maya"
    assert last["metadata"]["actor"] == {"id": "maya", "role": "moderator"}
    assert last["metadata"]["correlation_id"] == "dash-42"


def test_the_version_is_said_once_in_if_match_not_in_the_body(client, article, tokens,
                                                                services):
    comment_id = submitted_id(client, article)
    version = version_of(client, tokens.moderator, comment_id)
    before = head(services)
    for headers in ({}, {"If-Match": f'"{version}"'}):
        response = client.post(f"/v1/comments/{comment_id}/reject",
                               json={"reasons": ["off_topic"], "expected_version": version},
                               headers=bearer(tokens.moderator, **headers))
        body = assert_error(response, 422, "validation_failed")
        assert "expected_version" in body["errors"]
    assert head(services) == before


@pytest.mark.parametrize("tag", ["{v}", ' "{v}" '])
def test_if_match_accepts_bare_and_spaced_versions(client, article, tokens, tag):
    comment_id = submitted_id(client, article)
    version = version_of(client, tokens.moderator, comment_id)
    response = client.post(f"/v1/comments/{comment_id}/approve",
                           headers=bearer(tokens.moderator,
                                          **{"If-Match": tag.format(v=version)}))
    assert response.status_code == 200, response.get_json()


def test_a_weak_if_match_never_matches(client, article, tokens, services):
    comment_id = submitted_id(client, article)
    version = version_of(client, tokens.moderator, comment_id)
    before = head(services)
    for tag in (f'W/"{version}"', f'"{version}", W/"{version}"'):
        response = client.post(f"/v1/comments/{comment_id}/approve",
                               headers=bearer(tokens.moderator, **{"If-Match": tag}))
        assert_error(response, 412, "precondition_failed")
    assert head(services) == before


def test_missing_version_is_428(client, article, tokens, services):
    comment_id = submitted_id(client, article)
    before = head(services)
    for path, body in (("approve", None), ("approve", {"note": "x"}),
                       ("reject", {"reasons": ["off_topic"]})):
        response = client.post(f"/v1/comments/{comment_id}/{path}", json=body,
                               headers=bearer(tokens.moderator))
        assert_error(response, 428, "precondition_required")
    assert head(services) == before


def test_stale_version_is_409_with_current_state_and_winner(client, article, tokens,
                                                            services, clock):
    comment_id = submitted_id(client, article)
    version = version_of(client, tokens.moderator, comment_id)
    clock.advance(minutes=3)
    won = reject(client, tokens.moderator2, comment_id, ["threats"], note="clear threat",
                 version=version)
    assert won.status_code == 200
    before = head(services)
    lost = approve(client, tokens.moderator, comment_id, version=version)
    body = assert_error(lost, 409, "version_conflict")
    assert "expected_version" in body["errors"]
    assert body["current"]["id"] == comment_id
    assert body["current"]["status"] == "rejected"
    assert body["current"]["version"] == version + 1
    assert lost.headers["ETag"] == f'"{version + 1}"'
    assert body["winning_decision"] == {
        "decision": "rejected", "moderator_id": "omar",
        "decided_at": clock.now.isoformat(), "previous_status": "pending",
        "reasons": ["threats"], "guideline_version": body["winning_decision"]["guideline_version"],
        "note": "clear threat",
    }
    assert body["winning_decision"]["guideline_version"]
    assert head(services) == before


def test_deciding_the_same_way_twice_is_409(client, article, tokens, services):
    comment_id = submitted_id(client, article)
    assert approve(client, tokens.moderator, comment_id).status_code == 200
    before = head(services)
    assert_error(approve(client, tokens.moderator, comment_id, note="again"), 409,
                 "decision_refused")
    assert head(services) == before


def test_reversal_needs_a_note_and_is_recorded(client, article, tokens, services):
    comment_id = submitted_id(client, article)
    assert reject(client, tokens.moderator, comment_id, ["profanity"]).status_code == 200
    before = head(services)
    body = assert_error(approve(client, tokens.moderator, comment_id), 422, "note_required")
    assert "note" in body["errors"]
    assert head(services) == before
    response = approve(client, tokens.moderator2, comment_id, note="the word was a quote")
    assert response.status_code == 200
    history = client.get(f"/v1/comments/{comment_id}/events",
                         headers=bearer(tokens.moderator)).get_json()["items"]
    assert [e["type"] for e in history if e["type"] != "comment.screened"] == [
        "comment.submitted", "comment.rejected", "comment.approved"]
    assert history[-1]["data"]["previous_status"] == "rejected"


def test_history_lists_events_with_personal_data_for_moderators(client, article, tokens):
    comment_id = submitted_id(client, article, body="Text", email="e@example.org")
    response = client.get(f"/v1/comments/{comment_id}/events", headers=bearer(tokens.moderator))
    assert response.status_code == 200
    [submitted] = [e for e in response.get_json()["items"] if e["type"] == "comment.submitted"]
    assert submitted["data"]["author_email"] == "e@example.org"
    assert submitted["data"]["body"] == "Text"
    assert submitted["stream_id"] == f"comment-{comment_id}"
    positions = [e["position"] for e in response.get_json()["items"]]
    assert positions == sorted(positions)


def test_comment_as_of_a_moment_and_at_a_position(client, article, tokens, clock):
    comment_id = submitted_id(client, article, body="Then")
    pending_at = clock.now
    pending = client.get(f"/v1/comments/{comment_id}", headers=bearer(tokens.moderator))
    clock.advance(hours=1)
    assert approve(client, tokens.moderator, comment_id).status_code == 200

    response = client.get(f"/v1/comments/{comment_id}",
                          query_string={"as_of": (pending_at + timedelta(minutes=1))
                                        .isoformat().replace("+00:00", "Z")},
                          headers=bearer(tokens.moderator))
    assert response.status_code == 200
    past = response.get_json()
    assert "ETag" not in response.headers
    assert past["status"] == "pending"
    assert past["version"] == pending.get_json()["version"]
    assert past["body"] == "Then"
    assert past["as_of_position"] >= 1

    at = client.get(f"/v1/comments/{comment_id}",
                    query_string={"at_position": past["as_of_position"]},
                    headers=bearer(tokens.moderator)).get_json()
    assert at == past
    now = client.get(f"/v1/comments/{comment_id}",
                     query_string={"as_of": "2030-01-01T00:00:00+03:00"},
                     headers=bearer(tokens.moderator)).get_json()
    assert now["status"] == "approved" and now["decided_by"] == "maya"
    before_it_existed = client.get(f"/v1/comments/{comment_id}",
                                   query_string={"as_of": "2020-01-01T00:00:00Z"},
                                   headers=bearer(tokens.moderator))
    assert_error(before_it_existed, 404, "comment_not_found")


def test_reply_threads_stay_on_their_article(client, article, tokens):
    parent = submitted_id(client, article)
    response = submit(client, article, parent_id=parent)
    assert response.status_code == 202
    child = client.get(f"/v1/comments/{response.get_json()['id']}",
                       headers=bearer(tokens.moderator)).get_json()
    assert child["parent_id"] == parent
