"""Bulk decisions: each item decided on its own, results per item with the single
endpoint's error bodies, limits, roles and idempotent retries."""

from __future__ import annotations

import pytest

from .helpers import approve, assert_error, bearer, head, submitted_id, version_of

URL = "/v1/decisions"


def bulk(client, token, items, **headers):  # noqa: ANN001, ANN201
    return client.post(URL, json={"decisions": items}, headers=bearer(token, **headers))


def test_each_item_is_decided_on_its_own(client, tokens, article, services):
    a, b, c, d = (submitted_id(client, article, body=f"Comment {i}") for i in range(4))
    version = version_of(client, tokens.moderator, a)
    approve(client, tokens.moderator2, c)  # someone decided c first
    response = bulk(client, tokens.moderator, [
        {"comment_id": a, "expected_version": version, "action": "approve"},
        {"comment_id": b, "expected_version": version, "action": "reject",
         "reasons": ["off_topic"]},
        {"comment_id": c, "expected_version": version, "action": "reject",
         "reasons": ["off_topic"]},
        {"comment_id": d, "expected_version": version, "action": "reject",
         "reasons": ["nonsense"]},
        {"comment_id": "5b0e7c1e-0000-4000-8000-000000000000", "expected_version": 2,
         "action": "approve"},
        {"comment_id": d, "expected_version": version, "action": "reject",
         "reasons": ["other"]},
    ])
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["ok"] for r in results] == [True, True, False, False, False, False]
    assert [r["status"] for r in results] == [200, 200, 409, 422, 404, 422]
    assert results[0]["decision"]["status"] == "approved"
    assert results[0]["decision"]["version"] == version + 1
    assert results[1]["decision"]["status"] == "rejected"
    conflict = results[2]["error"]
    assert conflict["code"] == "version_conflict"
    assert conflict["winning_decision"]["moderator_id"] == "omar"
    assert conflict["current"]["status"] == "approved"
    assert results[3]["error"]["code"] == "unknown_reason"
    assert results[4]["error"]["code"] == "comment_not_found"
    assert results[5]["error"]["code"] == "note_required"
    assert services.queries.comment(d)["status"] == "pending"
    assert services.queries.comment(a)["decided_by"] == "maya"


def test_a_retry_with_the_same_key_answers_the_same_and_appends_nothing(client, tokens,
                                                                        article, services):
    a = submitted_id(client, article)
    items = [{"comment_id": a, "expected_version": version_of(client, tokens.moderator, a),
              "action": "approve"}]
    first = bulk(client, tokens.moderator, items, **{"Idempotency-Key": "bulk-1"})
    after = head(services)
    again = bulk(client, tokens.moderator, items, **{"Idempotency-Key": "bulk-1"})
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert head(services) == after
    # without the key a retry is refused item by item (its version is gone)
    plain = bulk(client, tokens.moderator, items).get_json()["results"]
    assert plain[0]["status"] == 409 and head(services) == after
    assert_error(bulk(client, tokens.moderator, items + items,
                      **{"Idempotency-Key": "bulk-1"}), 422, "idempotency_key_reused")


@pytest.mark.parametrize("payload", [
    {}, {"decisions": []}, {"decisions": "x"},
    {"decisions": [{"comment_id": "x", "expected_version": 1}]},
    {"decisions": [{"comment_id": "x", "expected_version": 1, "action": "delete"}]},
    {"decisions": [{"comment_id": "x", "expected_version": "1", "action": "approve"}]},
    {"decisions": [{"comment_id": "x", "expected_version": 1, "action": "approve",
                    "extra": True}]},
    {"decisions": [{"comment_id": "x", "expected_version": 1, "action": "approve"}] * 101},
])
def test_malformed_requests_are_refused_whole(client, tokens, article, services, payload):
    before = head(services)
    assert_error(client.post(URL, json=payload, headers=bearer(tokens.moderator)), 422,
                 "validation_failed")
    assert head(services) == before


@pytest.mark.parametrize("comment_id", ["q\x00", "a\x1bb", "\x7f"])
def test_a_control_character_in_an_id_is_refused_whole_with_a_key(client, tokens, article,
                                                                 services, comment_id):
    """Found by fuzzing: the item's 404 was decided, then remembering it under the
    Idempotency-Key failed on PostgreSQL (no NUL in JSON) and the answer was a 500."""
    first = submitted_id(client, article)
    items = [{"comment_id": first, "expected_version": 2, "action": "approve"},
             {"comment_id": comment_id, "expected_version": 0, "action": "approve"}]
    before = head(services)
    body = assert_error(bulk(client, tokens.moderator, items,
                             **{"Idempotency-Key": "bulk-controls"}), 422, "validation_failed")
    assert "decisions.1.comment_id" in body["errors"], body["errors"]
    assert head(services) == before


def test_only_moderators_and_admins(client, tokens, article):
    items = [{"comment_id": "x", "expected_version": 1, "action": "approve"}]
    assert_error(client.post(URL, json={"decisions": items}), 401, "unauthenticated")
    assert_error(bulk(client, tokens.auditor, items), 403, "forbidden")
    assert bulk(client, tokens.admin, items).status_code == 200


def test_a_hundred_items_and_rebuild(client, tokens, article, services):
    ids = [submitted_id(client, article, body=f"Item {i}") for i in range(100)]
    items = [{"comment_id": cid, "expected_version": 2,
              "action": "approve" if i % 2 else "reject", "reasons": ["off_topic"]}
             for i, cid in enumerate(ids)]
    results = bulk(client, tokens.moderator, items).get_json()["results"]
    assert all(r["ok"] for r in results) and len(results) == 100
    audit = client.get("/v1/audit/decisions", query_string={"limit": 100},
                       headers=bearer(tokens.auditor)).get_json()["items"]
    assert len(audit) == 100
    assert services.runner.rebuild(services.engine, swap=False).identical


# The database fails as the results of both items are kept: PostgreSQL's session ends
# (the backend terminates itself), SQLite's statement cannot run (a trigger on a missing
# table). Dropped again before the retry.
FAULT = {
    "postgresql": [
        "CREATE FUNCTION lose_database() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF json_array_length((NEW.result::json) -> 'results') = 2 THEN "
        "PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$",
        "CREATE TRIGGER lose_database BEFORE INSERT OR UPDATE ON idempotency_keys "
        "FOR EACH ROW EXECUTE FUNCTION lose_database()"],
    "sqlite": [
        f"CREATE TRIGGER lose_database_{kind} BEFORE {kind} ON idempotency_keys "
        "WHEN json_array_length(NEW.result, '$.results') = 2 "
        "BEGIN INSERT INTO gone_database VALUES (1); END" for kind in ("INSERT", "UPDATE")],
}
UNFAULT = {
    "postgresql": ["DROP TRIGGER lose_database ON idempotency_keys",
                   "DROP FUNCTION lose_database()"],
    "sqlite": ["DROP TRIGGER lose_database_INSERT", "DROP TRIGGER lose_database_UPDATE"],
}


def test_decisions_that_committed_are_answered_when_the_database_fails_as_they_are_kept(
        client, tokens, article, services):
    """No decision commits without its result kept: the answer that fails is for a
    decision that did not commit, and the retry answers the one that did and decides
    the other."""
    a, b = (submitted_id(client, article, body=f"Comment {i}") for i in range(2))
    items = [{"comment_id": c, "expected_version": version_of(client, tokens.moderator, c),
              "action": "approve"} for c in (a, b)]
    dialect = services.engine.dialect.name
    with services.engine.begin() as conn:
        for statement in FAULT[dialect]:
            conn.exec_driver_sql(statement)
    try:
        first = bulk(client, tokens.moderator, items, **{"Idempotency-Key": "bulk-fault"})
    finally:
        with services.engine.begin() as conn:
            for statement in UNFAULT[dialect]:
                conn.exec_driver_sql(statement)
    if first.status_code != 200:
        assert_error(first, 503, "service_unavailable")
        assert services.queries.comment(b)["status"] == "pending"  # b did not commit
    again = bulk(client, tokens.moderator, items, **{"Idempotency-Key": "bulk-fault"})
    assert again.status_code == 200, again.get_json()
    results = again.get_json()["results"]
    assert [(r["ok"], r["decision"]["version"]) for r in results] == [(True, 3), (True, 3)]
    assert [services.queries.comment(c)["status"] for c in (a, b)] == ["approved"] * 2
    replay = bulk(client, tokens.moderator, items, **{"Idempotency-Key": "bulk-fault"})
    assert replay.get_json() == again.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
