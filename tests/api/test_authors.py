"""Authors: the record a moderator sees, sanctions (warn, suspend, ban, lift), notes, the
refusal of a sanctioned author's submission, the queue's author column, webhooks, sealing
and rebuild."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from service.db import read_transaction
from service.webhooks.admin import Webhooks
from service.webhooks.tables import webhook_deliveries

from .helpers import approve, assert_error, bearer, head, reject, submit, submitted_id

EMAIL = "hevi@example.org"
UNKNOWN = "author-" + "0" * 32
PROMO = "commercial_promotion"


def author_of(services, comment_id: str) -> str:  # noqa: ANN001
    return services.queries.comment(comment_id)["author_id"]


def profile(client, token, author_id):  # noqa: ANN001, ANN201
    response = client.get(f"/v1/authors/{author_id}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def change(client, token, author_id, path, body, version=None):  # noqa: ANN001, ANN201
    headers = {} if version is None else {"If-Match": f'"{version}"'}
    return client.post(f"/v1/authors/{author_id}/{path}", json=body,
                       headers=bearer(token, **headers))


@pytest.fixture
def author(client, article, services):  # noqa: ANN001, ANN201
    first = submitted_id(client, article, body="First words.", name="Hêvî", email=EMAIL)
    return author_of(services, first)


def test_the_record_shows_names_counts_rate_and_times(client, tokens, article, services,
                                                      clock):
    a = submitted_id(client, article, body="One.", name="Hêvî", email=EMAIL)
    clock.advance(hours=1)
    b = submitted_id(client, article, body="Two.", name="Hevi K.", email=EMAIL)
    clock.advance(hours=1)
    submitted_id(client, article, body="Three.", name="Hevi K.", email=EMAIL)
    submitted_id(client, article, body="Someone else.", email="other@example.org")
    approve(client, tokens.moderator, a)
    reject(client, tokens.moderator, b, ["off_topic"])
    author_id = author_of(services, a)
    response = client.get(f"/v1/authors/{author_id}", headers=bearer(tokens.moderator))
    assert response.status_code == 200
    assert response.headers["ETag"] == '"0"'
    body = response.get_json()
    assert body["author_id"] == author_id
    assert body["names"] == ["Hevi K.", "Hêvî"]
    assert body["counts"] == {"pending": 1, "approved": 1, "rejected": 1, "total": 3}
    assert body["rejection_rate"] == 0.5
    assert body["rejected_last_7_days"] == 1
    assert body["first_seen_at"].startswith("2026-11-01T09:00:00")
    assert body["last_seen_at"].startswith("2026-11-01T11:00:00")
    assert body["sanction"] is None and body["warnings"] == 0
    assert body["sanction_history"] == [] and body["notes"] == []
    assert body["version"] == 0


def test_unknown_or_malformed_authors_are_404(client, tokens, article):
    # an id of the service's shape that names no author, and ids of no author's shape
    # (as for comments, those are not routes at all)
    for author_id, code in ((UNKNOWN, "author_not_found"), ("not-an-author", "not_found"),
                            ("author-XYZ", "not_found")):
        assert_error(client.get(f"/v1/authors/{author_id}", headers=bearer(tokens.moderator)),
                     404, code)
        assert_error(change(client, tokens.moderator, author_id, "notes", {"text": "x"}, 0),
                     404, code)
    assert_error(client.get(f"/v1/authors/{UNKNOWN}/comments",
                            headers=bearer(tokens.moderator)), 404, "author_not_found")
    assert_error(client.get(f"/v1/authors/{UNKNOWN}/events",
                            headers=bearer(tokens.moderator)), 404, "author_not_found")


@pytest.mark.parametrize("method,path,body", [
    ("get", "", None), ("get", "/comments", None), ("get", "/events", None),
    ("post", "/warnings", {"reason": "off_topic"}),
    ("post", "/suspensions", {"reason": "off_topic", "until": "2026-12-01T00:00:00Z"}),
    ("post", "/bans", {"reason": "threats"}), ("post", "/sanctions/lift", {}),
    ("post", "/notes", {"text": "x"}),
])
def test_only_moderators_and_admins(client, tokens, author, method, path, body):
    url = f"/v1/authors/{author}{path}"
    call = getattr(client, method)
    kwargs = {"json": body} if body is not None else {}
    assert_error(call(url, **kwargs), 401, "unauthenticated")
    assert_error(call(url, headers=bearer(tokens.auditor), **kwargs), 403, "forbidden")


def test_a_warning_needs_the_version_and_a_guideline(client, tokens, author, services):
    before = head(services)
    assert_error(change(client, tokens.moderator, author, "warnings",
                        {"reason": "off_topic"}), 428, "precondition_required")
    body = assert_error(change(client, tokens.moderator, author, "warnings",
                               {"reason": "off_topic"}, 3), 409, "version_conflict")
    assert body["current_version"] == 0
    assert_error(change(client, tokens.moderator, author, "warnings",
                        {"reason": "nonsense"}, 0), 422, "unknown_reason")
    assert_error(change(client, tokens.moderator, author, "warnings",
                        {"reason": "other"}, 0), 422, "note_required")
    assert_error(change(client, tokens.moderator, author, "warnings", {}, 0), 422,
                 "validation_failed")
    assert_error(change(client, tokens.moderator, author, "warnings",
                        {"reason": "off_topic", "extra": 1}, 0), 422, "validation_failed")
    assert_error(change(client, tokens.moderator, author, "warnings",
                        {"reason": "off_topic", "note": "x" * 2001}, 0), 422, "invalid_input")
    assert head(services) == before

    response = change(client, tokens.moderator, author, "warnings",
                      {"reason": "off_topic", "note": "Keeps posting football scores."}, 0)
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"1"'
    result = response.get_json()
    assert result["type"] == "author.warned" and result["version"] == 1
    assert result["rejected"] == []
    record = profile(client, tokens.moderator, author)
    assert record["warnings"] == 1 and record["sanction"] is None and record["version"] == 1
    [warning] = record["sanction_history"]
    assert warning["type"] == "warned" and warning["reason"] == "off_topic"
    assert warning["note"] == "Keeps posting football scores."
    assert warning["moderator_id"] == "maya"
    # the version is If-Match's alone: a body naming one is refused
    assert_error(change(client, tokens.moderator2, author, "warnings",
                        {"reason": "off_topic", "expected_version": 1}, 1),
                 422, "validation_failed")


def test_a_suspended_author_is_refused_until_it_ends(client, tokens, article, author,
                                                     services, clock):
    assert_error(change(client, tokens.moderator, author, "suspensions",
                        {"reason": "personal_attack", "until": "2026-10-01T00:00:00Z"}, 0),
                 422, "invalid_input")
    assert_error(change(client, tokens.moderator, author, "suspensions",
                        {"reason": "personal_attack", "until": "2026-12-01T00:00:00"}, 0),
                 422, "validation_failed")
    response = change(client, tokens.moderator, author, "suspensions",
                      {"reason": "personal_attack", "until": "2026-11-02T09:00:00+00:00",
                       "note": "Cooling off."}, 0)
    assert response.status_code == 200, response.get_json()
    before = head(services)
    body = assert_error(submit(client, article, name="Hêvî", email=EMAIL), 403,
                        "author_suspended")
    assert body["until"].startswith("2026-11-02T09:00:00")
    assert head(services) == before
    # someone else is not affected; an anonymous reader neither
    assert submit(client, article, email="other@example.org").status_code == 202
    record = profile(client, tokens.moderator, author)
    assert record["sanction"]["type"] == "suspended"
    assert record["sanction"]["until"].startswith("2026-11-02T09:00:00")
    assert record["sanction"]["reason"] == "personal_attack"
    assert record["sanction"]["by"] == "maya"
    clock.advance(days=1)
    assert profile(client, tokens.moderator, author)["sanction"] is None
    assert submit(client, article, name="Hêvî", email=EMAIL).status_code == 202


def test_a_ban_refuses_submissions_until_lifted(client, tokens, article, author, services):
    assert_error(change(client, tokens.moderator, author, "sanctions/lift", {}, 0), 409,
                 "decision_refused")
    assert change(client, tokens.moderator, author, "bans",
                  {"reason": "threats", "note": "Threatened a reporter."}, 0).status_code == 200
    before = head(services)
    assert_error(submit(client, article, name="Hêvî", email=EMAIL), 403, "author_banned")
    assert_error(submit(client, article, name="Hêvî", email=EMAIL,
                        headers={"Idempotency-Key": "banned-1"}), 403, "author_banned")
    assert head(services) == before
    assert_error(change(client, tokens.moderator, author, "bans", {"reason": "threats"}, 1),
                 409, "decision_refused")
    assert_error(change(client, tokens.moderator, author, "suspensions",
                        {"reason": "threats", "until": "2026-12-01T00:00:00Z"}, 1),
                 409, "decision_refused")
    lifted = change(client, tokens.admin, author, "sanctions/lift",
                    {"note": "Apologised in writing."}, 1)
    assert lifted.status_code == 200, lifted.get_json()
    record = profile(client, tokens.moderator, author)
    assert record["sanction"] is None
    assert [h["type"] for h in record["sanction_history"]] == ["banned", "sanction_lifted"]
    assert record["sanction_history"][1]["lifted"] == "banned"
    assert record["sanction_history"][1]["moderator_id"] == "root"
    assert submit(client, article, name="Hêvî", email=EMAIL).status_code == 202


def test_a_ban_after_a_suspension_replaces_it(client, tokens, author):
    change(client, tokens.moderator, author, "suspensions",
           {"reason": PROMO, "until": "2026-11-05T00:00:00Z"}, 0)
    assert change(client, tokens.moderator, author, "bans", {"reason": PROMO},
                  1).status_code == 200
    assert profile(client, tokens.moderator, author)["sanction"]["type"] == "banned"
    assert profile(client, tokens.moderator, author)["sanction"]["until"] is None


def test_a_ban_with_reject_pending_rejects_each_pending_comment(client, tokens, article,
                                                                 author, services):
    second = submitted_id(client, article, body="More.", name="Hêvî", email=EMAIL)
    kept = submitted_id(client, article, body="Fine.", name="Hêvî", email=EMAIL)
    approve(client, tokens.moderator, kept)
    bystander = submitted_id(client, article, email="other@example.org")
    response = change(client, tokens.moderator, author, "bans",
                      {"reason": PROMO, "note": "Spam wave.", "reject_pending": True}, 0)
    assert response.status_code == 200, response.get_json()
    rejected = response.get_json()["rejected"]
    first = next(c["id"] for c in client.get(
        f"/v1/authors/{author}/comments", headers=bearer(tokens.moderator)).get_json()["items"]
        if c["body"] == "First words.")
    assert sorted(rejected) == sorted([first, second])
    [ban] = [e for e in client.get(f"/v1/authors/{author}/events",
                                   headers=bearer(tokens.moderator)).get_json()["items"]
             if e["type"] == "author.banned"]
    for comment_id in rejected:
        state = services.queries.comment(comment_id)
        assert state["status"] == "rejected" and state["reasons"] == [PROMO]
        assert ban["event_id"] in state["note"]
        last = services.queries.history(comment_id)[-1]
        assert last["type"] == "comment.rejected"
        assert last["metadata"]["causation_id"] == ban["event_id"]
        assert last["metadata"]["actor"] == {"id": "maya", "role": "moderator"}
    assert services.queries.comment(kept)["status"] == "approved"
    assert services.queries.comment(bystander)["status"] == "pending"
    audit = client.get("/v1/audit/decisions?reason=commercial_promotion",
                       headers=bearer(tokens.auditor)).get_json()["items"]
    assert sorted(d["comment_id"] for d in audit) == sorted(rejected)
    record = profile(client, tokens.moderator, author)
    assert record["counts"] == {"pending": 0, "approved": 1, "rejected": 2, "total": 3}


def test_notes_are_sealed_with_the_authors_personal_data(client, tokens, author, services):
    assert_error(change(client, tokens.moderator, author, "notes", {"text": "  "}, 0), 422,
                 "invalid_input")
    assert_error(change(client, tokens.moderator, author, "notes", {}, 0), 422,
                 "validation_failed")
    secret = "Says she is the mayor's cousin."
    assert change(client, tokens.moderator, author, "notes", {"text": secret},
                  0).status_code == 200
    [note] = profile(client, tokens.moderator, author)["notes"]
    assert note["text"] == secret and note["moderator_id"] == "maya"
    events = client.get(f"/v1/authors/{author}/events",
                        headers=bearer(tokens.moderator)).get_json()["items"]
    assert events[-1]["data"]["text"] == secret
    audit_feed = client.get("/v1/events?type=author.noted",
                            headers=bearer(tokens.auditor)).get_json()["items"]
    assert len(audit_feed) == 1 and secret not in str(audit_feed)
    with read_transaction(services.engine) as conn:
        raw = conn.exec_driver_sql("SELECT data FROM events WHERE type = 'author.noted'"
                                   ).scalar_one()
    assert "mayor" not in str(raw)
    with services.engine.begin() as conn:  # erasing the author's key erases the note
        services.codec_for(conn).vault.erase(author)
    assert profile(client, tokens.moderator, author)["notes"][0]["text"] is None


def test_an_authors_comments_newest_first_with_a_cursor(client, tokens, article, author,
                                                        services):
    ids = [submitted_id(client, article, body=f"Comment {i}", name="Hêvî", email=EMAIL)
           for i in range(4)]
    reject(client, tokens.moderator, ids[0], ["off_topic"])
    url = f"/v1/authors/{author}/comments"
    page = client.get(url, query_string={"limit": 3}, headers=bearer(tokens.moderator))
    assert page.status_code == 200
    first = page.get_json()
    assert [c["body"] for c in first["items"]] == ["Comment 3", "Comment 2", "Comment 1"]
    rest = client.get(url, query_string={"limit": 3, "cursor": first["next_cursor"]},
                      headers=bearer(tokens.moderator)).get_json()
    assert [c["body"] for c in rest["items"]] == ["Comment 0", "First words."]
    assert rest["items"][0]["status"] == "rejected"
    assert rest["next_cursor"] is None
    assert_error(client.get(url, query_string={"cursor": "bogus!"},
                            headers=bearer(tokens.moderator)), 400, "invalid_cursor")
    assert_error(client.get(url, query_string={"limit": 0},
                            headers=bearer(tokens.moderator)), 422, "validation_failed")


def test_the_queue_shows_each_authors_record(client, tokens, article, author, services):
    rejected = submitted_id(client, article, body="Bad.", name="Hêvî", email=EMAIL)
    reject(client, tokens.moderator, rejected, ["profanity"])
    change(client, tokens.moderator, author, "suspensions",
           {"reason": "profanity", "until": "2026-11-03T00:00:00Z"}, 0)
    submitted_id(client, article, email="new@example.org")
    items = client.get("/v1/queue", headers=bearer(tokens.moderator)).get_json()["items"]
    by_author = {i["author_id"]: i["author"] for i in items}
    mine = by_author[author]
    assert mine["counts"] == {"pending": 1, "approved": 0, "rejected": 1, "total": 2}
    assert mine["rejected_last_7_days"] == 1 and mine["rejection_rate"] == 1.0
    assert mine["sanction"]["type"] == "suspended"
    other = next(a for aid, a in by_author.items() if aid != author)
    assert other["counts"]["total"] == 1 and other["sanction"] is None


def test_author_events_reach_webhooks_without_notes(client, tokens, author, services,
                                                    api_settings):
    hooks = Webhooks(services.engine, replace(api_settings, webhook_allow_loopback=True),
                     services.clock, services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
    endpoint, _ = hooks.create_endpoint("http://127.0.0.1:9/authors", event_types=[
        "author.warned", "author.suspended", "author.banned", "author.sanction_lifted",
        "author.noted"])
    change(client, tokens.moderator, author, "warnings",
           {"reason": PROMO, "note": "private words"}, 0)
    change(client, tokens.moderator, author, "suspensions",
           {"reason": PROMO, "until": "2026-11-03T00:00:00Z", "note": "private words"}, 1)
    change(client, tokens.moderator, author, "bans",
           {"reason": PROMO, "note": "private words"}, 2)
    change(client, tokens.moderator, author, "sanctions/lift", {"note": "private words"}, 3)
    change(client, tokens.moderator, author, "notes", {"text": "private words"}, 4)
    with read_transaction(services.engine) as conn:
        rows = conn.execute(sa.select(webhook_deliveries.c.event_type,
                                      webhook_deliveries.c.payload)
                            .where(webhook_deliveries.c.endpoint_id == endpoint.id)
                            .order_by(webhook_deliveries.c.id)).all()
    assert [r.event_type for r in rows] == ["author.warned", "author.suspended",
                                            "author.banned", "author.sanction_lifted",
                                            "author.noted"]
    assert all(f'"author_id":"{author}"' in r.payload for r in rows)
    assert all("private" not in r.payload for r in rows)
    assert '"until":"2026-11-03T00:00:00Z"' in rows[1].payload


def test_rebuild_reproduces_authors(client, tokens, article, author, services, clock):
    other = author_of(services, submitted_id(client, article, email="b@example.org"))
    extra = submitted_id(client, article, name="Hêvî", email=EMAIL)
    approve(client, tokens.moderator, extra)
    change(client, tokens.moderator, author, "warnings", {"reason": PROMO}, 0)
    change(client, tokens.moderator, author, "notes", {"text": "n"}, 1)
    change(client, tokens.moderator, other, "bans", {"reason": PROMO, "reject_pending": True},
           0)
    change(client, tokens.moderator, author, "suspensions",
           {"reason": PROMO, "until": "2026-11-03T00:00:00Z"}, 2)
    change(client, tokens.moderator, author, "sanctions/lift", {}, 3)
    report = services.runner.rebuild(services.engine, swap=False, batch_size=3)
    assert report.identical, report.differences


def test_erasing_an_author_leaves_their_record_without_personal_data(client, tokens, author,
                                                                    services):
    change(client, tokens.moderator, author, "notes", {"text": "Lives on Hawar street."}, 0)
    change(client, tokens.moderator, author, "bans",
           {"reason": PROMO, "note": "Works for the shop."}, 1)
    erased = client.post(f"/v1/authors/{author}/erasure", json={"note": "ticket 7"},
                         headers=bearer(tokens.admin))
    assert erased.status_code == 200, erased.get_json()
    record = profile(client, tokens.moderator, author)
    assert record["names"] == []
    assert record["notes"][0]["text"] is None
    assert record["sanction_history"][0]["note"] is None
    assert record["sanction"]["type"] == "banned"  # the moderation record stays
    assert record["version"] == 3  # the erasure is on the same stream
    assert "Hawar" not in str(client.get(f"/v1/authors/{author}/events",
                                         headers=bearer(tokens.moderator)).get_json())
    assert change(client, tokens.moderator, author, "sanctions/lift", {}, 3).status_code == 200
    assert services.runner.rebuild(services.engine, swap=False).identical
