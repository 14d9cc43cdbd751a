"""Claims: advisory, expiring, shown in the queue, never in the log."""

from __future__ import annotations

import uuid

import pytest

from .helpers import approve, assert_error, bearer, head, submitted_id, version_of


def claim(client, token, comment_id):
    return client.post(f"/v1/comments/{comment_id}/claim", headers=bearer(token))


def release(client, token, comment_id):
    return client.delete(f"/v1/comments/{comment_id}/claim", headers=bearer(token))


def queue(client, token, **query):
    response = client.get("/v1/queue", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_claim_shows_in_the_queue_and_expires(client, article, tokens, clock, services):
    comment_id = submitted_id(client, article)
    before = head(services)
    response = claim(client, tokens.moderator, comment_id)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["comment_id"] == comment_id and body["moderator_id"] == "maya"
    [item] = queue(client, tokens.moderator2)["items"]
    assert item["claim"]["moderator_id"] == "maya"
    assert item["claim"]["expires_at"] == body["expires_at"]
    assert head(services) == before  # coordination, not a fact: nothing appended
    clock.advance(seconds=services.settings.claim_seconds + 1)
    assert queue(client, tokens.moderator2)["items"][0]["claim"] is None


def test_unclaimed_hides_what_others_handle_but_keeps_ones_own(client, article, tokens):
    mine, theirs, free = (submitted_id(client, article, body=f"c {i}") for i in range(3))
    assert claim(client, tokens.moderator, mine).status_code == 200
    assert claim(client, tokens.moderator2, theirs).status_code == 200
    page = queue(client, tokens.moderator, unclaimed="true")
    assert [i["id"] for i in page["items"]] == [mine, free]
    assert page["total"] == 3  # the number waiting, claimed or not
    assert [i["id"] for i in queue(client, tokens.moderator)["items"]] == [mine, theirs, free]
    paged = queue(client, tokens.moderator, unclaimed="true", limit=1)
    rest = queue(client, tokens.moderator, unclaimed="true", cursor=paged["next_cursor"])
    assert [i["id"] for i in paged["items"] + rest["items"]] == [mine, free]


def test_claiming_what_another_holds_is_a_conflict_until_it_expires(client, article, tokens,
                                                                    clock, services):
    comment_id = submitted_id(client, article)
    first = claim(client, tokens.moderator, comment_id).get_json()
    body = assert_error(claim(client, tokens.moderator2, comment_id), 409, "claimed_by_other")
    assert "maya" in body["message"]
    assert_error(release(client, tokens.moderator2, comment_id), 409, "claimed_by_other")
    clock.advance(seconds=60)
    again = claim(client, tokens.moderator, comment_id).get_json()  # one's own: extended
    assert again["claimed_at"] == first["claimed_at"]
    assert again["expires_at"] > first["expires_at"]
    clock.advance(seconds=services.settings.claim_seconds + 1)
    taken = claim(client, tokens.moderator2, comment_id)
    assert taken.status_code == 200 and taken.get_json()["moderator_id"] == "omar"


def test_release_frees_the_comment_and_releasing_nothing_is_fine(client, article, tokens):
    comment_id = submitted_id(client, article)
    assert claim(client, tokens.moderator, comment_id).status_code == 200
    assert release(client, tokens.moderator, comment_id).status_code == 204
    assert release(client, tokens.moderator, comment_id).status_code == 204
    assert queue(client, tokens.moderator2)["items"][0]["claim"] is None
    assert claim(client, tokens.moderator2, comment_id).status_code == 200


def test_a_claim_is_advisory_anyone_may_still_decide(client, article, tokens):
    comment_id = submitted_id(client, article)
    assert claim(client, tokens.moderator, comment_id).status_code == 200
    version = version_of(client, tokens.moderator2, comment_id)
    response = approve(client, tokens.moderator2, comment_id, version=version)
    assert response.status_code == 200, response.get_json()


def test_claims_need_a_moderator_and_an_existing_comment(client, article, tokens):
    comment_id = submitted_id(client, article)
    assert_error(client.post(f"/v1/comments/{comment_id}/claim"), 401, "unauthenticated")
    assert_error(claim(client, tokens.auditor, comment_id), 403, "forbidden")
    assert_error(release(client, tokens.auditor, comment_id), 403, "forbidden")
    assert claim(client, tokens.admin, comment_id).status_code == 200
    assert_error(claim(client, tokens.moderator, uuid.uuid4()), 404, "comment_not_found")
    assert_error(client.post("/v1/comments/not-a-uuid/claim", headers=bearer(
        tokens.moderator)), 404, "not_found")


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_unclaimed_must_be_a_boolean(client, tokens, value):
    response = client.get("/v1/queue", query_string={"unclaimed": value},
                          headers=bearer(tokens.moderator))
    assert_error(response, 422, "validation_failed")
