"""Auditor endpoints: the event feed, the decision log and statistics."""

from __future__ import annotations

import pytest

from .helpers import approve, assert_error, bearer, reject, submitted_id


def feed(client, token, **query):
    response = client.get("/v1/events", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_feed_is_ordered_gapless_and_resumable(client, article, tokens, services):
    for _ in range(3):
        submitted_id(client, article)
    everything = feed(client, tokens.auditor, limit=1000)["items"]
    positions = [e["position"] for e in everything]
    assert positions == list(range(1, services.queries.head() + 1))
    pages, after = [], 0
    while True:
        page = feed(client, tokens.auditor, after=after, limit=2)
        if not page["items"]:
            assert page["next_after"] == after
            break
        pages += page["items"]
        after = page["next_after"]
        assert after == page["items"][-1]["position"]
    assert pages == everything


def test_feed_hides_personal_data_from_auditors_only(client, article, tokens):
    submitted_id(client, article, body="Private words", name="Nour", email="nour@example.org")
    for token, visible in ((tokens.auditor, False), (tokens.moderator, True),
                           (tokens.admin, True)):
        response = client.get("/v1/events", query_string={"type": "comment.submitted"},
                              headers=bearer(token))
        [event] = response.get_json()["items"]
        text = response.get_data(as_text=True)
        for secret in ("Private words", "Nour", "nour@example.org", "127.0.0.1"):
            assert (secret in text) is visible, (token, secret)
        assert event["data"]["comment_id"]


def test_feed_filters_by_type(client, article, tokens):
    comment_id = submitted_id(client, article)
    approve(client, tokens.moderator, comment_id)
    items = feed(client, tokens.auditor, type=["comment.approved", "article.registered"])["items"]
    assert {e["type"] for e in items} == {"comment.approved", "article.registered"}


def decisions(client, token, **query):
    response = client.get("/v1/audit/decisions", query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def decided(client, article, tokens, services, clock):
    """Four decisions by two moderators, one of them a reversal, an hour apart."""
    from service.application.commands import Actor, Context, RegisterArticle

    services.moderation.register_article(RegisterArticle("second", "Second"),
                                         Context(Actor("setup", "admin")))
    a = submitted_id(client, article)
    b = submitted_id(client, article)
    c = submitted_id(client, "second")
    clock.advance(minutes=10)
    assert approve(client, tokens.moderator, a).status_code == 200          # 600 s
    clock.advance(minutes=50)
    assert reject(client, tokens.moderator2, b, ["profanity", "personal_attack"]
                  ).status_code == 200                                        # 3600 s
    clock.advance(hours=1)
    assert reject(client, tokens.moderator2, c, ["off_topic"]).status_code == 200  # 7200 s
    clock.advance(hours=1)
    assert approve(client, tokens.moderator, b, note="quoted, not meant").status_code == 200
    return a, b, c


def test_audit_lists_every_decision_with_who_what_when(client, tokens, decided, article):
    a, b, c = decided
    items = decisions(client, tokens.auditor)["items"]
    assert [(i["comment_id"], i["decision"], i["moderator_id"]) for i in items] == [
        (a, "approved", "maya"), (b, "rejected", "omar"), (c, "rejected", "omar"),
        (b, "approved", "maya")]
    second = items[1]
    assert second["reasons"] == ["profanity", "personal_attack"]
    assert second["guideline_version"]
    assert second["reversal"] is False
    assert second["seconds_to_decision"] == 3600
    assert second["article_id"] == article
    reversal = items[3]
    assert reversal["reversal"] is True
    assert reversal["previous_status"] == "rejected"
    assert reversal["note"] == "quoted, not meant"
    assert reversal["reasons"] == [] and reversal["guideline_version"] is None


def test_audit_filters(client, tokens, decided, article, clock):
    a, b, c = decided
    by = {i["comment_id"] for i in decisions(client, tokens.auditor, moderator="omar")["items"]}
    assert by == {b, c}
    assert [i["comment_id"] for i in
            decisions(client, tokens.auditor, reason="personal_attack")["items"]] == [b]
    assert [i["comment_id"] for i in
            decisions(client, tokens.auditor, article_id="second")["items"]] == [c]
    assert [i["decision"] for i in
            decisions(client, tokens.auditor, comment_id=b)["items"]] == ["rejected", "approved"]
    start = "2026-11-01T10:30:00Z"  # after the first two decisions (09:10 and 10:00)
    assert len(decisions(client, tokens.auditor, since=start)["items"]) == 2
    assert len(decisions(client, tokens.auditor, until=start)["items"]) == 2
    assert decisions(client, tokens.auditor, reason="no_such_code")["items"] == []


def test_audit_pages_with_cursor(client, tokens, decided):
    seen, cursor = [], None
    while True:
        page = decisions(client, tokens.auditor, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [i["position"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [i["position"] for i in decisions(client, tokens.auditor)["items"]]
    assert len(seen) == 4


def test_stats(client, tokens, decided, article, clock):
    submitted_id(client, article)          # still pending, submitted now
    clock.advance(minutes=30)
    response = client.get("/v1/stats", headers=bearer(tokens.auditor))
    assert response.status_code == 200
    stats = response.get_json()
    assert stats["queue"]["depth"] == 1
    assert stats["queue"]["oldest_age_seconds"] == 1800
    assert stats["decisions"] == {"approved": 2, "rejected": 2, "reversals": 1, "total": 4}
    assert stats["decisions_per_reason"] == {"profanity": 1, "personal_attack": 1,
                                             "off_topic": 1}
    assert stats["decisions_per_moderator"] == {
        "maya": {"approved": 2, "rejected": 0, "reversals": 1, "total": 2},
        "omar": {"approved": 0, "rejected": 2, "reversals": 0, "total": 2},
    }
    # first decisions took 600, 3600 and 7200 seconds; the reversal is not counted
    assert stats["time_to_decision"]["count"] == 3
    assert stats["time_to_decision"]["median_seconds"] == 3600
    assert stats["time_to_decision"]["p95_seconds"] == pytest.approx(6840)
    assert stats["since"] is None and stats["until"] is None

    window = client.get("/v1/stats", query_string={"since": "2026-11-01T10:30:00Z",
                                                    "until": "2026-11-01T11:30:00+00:00"},
                        headers=bearer(tokens.auditor)).get_json()
    assert window["decisions"]["total"] == 1
    assert window["decisions_per_reason"] == {"off_topic": 1}
    assert window["time_to_decision"] == {"count": 1, "median_seconds": 7200,
                                          "p95_seconds": 7200}
    assert window["since"] == "2026-11-01T10:30:00+00:00"


def test_stats_on_an_empty_log(client, tokens):
    stats = client.get("/v1/stats", headers=bearer(tokens.auditor)).get_json()
    assert stats["queue"] == {"depth": 0, "oldest_submitted_at": None,
                              "oldest_age_seconds": None}
    assert stats["time_to_decision"] == {"count": 0, "median_seconds": None,
                                         "p95_seconds": None}


def test_decision_log_survives_a_rebuild(client, tokens, decided, services):
    report = services.runner.rebuild(services.engine, swap=False)
    assert report.identical, report.differences
    before = decisions(client, tokens.auditor)
    services.runner.rebuild(services.engine, swap=True)
    assert decisions(client, tokens.auditor) == before


def test_auditor_cannot_moderate(client, article, tokens):
    comment_id = submitted_id(client, article)
    assert_error(client.get("/v1/queue", headers=bearer(tokens.auditor)), 403, "forbidden")
    assert_error(client.post(f"/v1/comments/{comment_id}/approve",
                             headers=bearer(tokens.auditor, **{"If-Match": '"1"'})),
                 403, "forbidden")


def test_a_plus_offset_decoded_as_a_space_gets_a_hint(client, tokens):
    response = client.get("/v1/audit/decisions?since=2026-11-25T09:30:00+03:00",
                          headers=bearer(tokens.auditor))
    body = assert_error(response, 422, "validation_failed")
    assert "%2B" in body["errors"]["since"][0]
    naive = client.get("/v1/audit/decisions?since=2026-11-25T09:30:00",
                       headers=bearer(tokens.auditor))
    assert "offset" in assert_error(naive, 422, "validation_failed")["errors"]["since"][0]


def _dismiss(client, token, comment_id, note):  # noqa: ANN001, ANN202
    from .helpers import version_of

    version = version_of(client, token, comment_id)
    response = client.post(f"/v1/comments/{comment_id}/reports/dismiss", json={"note": note},
                           headers=bearer(token, **{"If-Match": f'"{version}"'}))
    assert response.status_code == 200, response.get_json()


def test_report_dismissals_are_decisions_in_the_audit_log(client, tokens, decided, article,
                                                          services, clock):
    from .test_reports import report

    a, b, c = decided
    report(client, a)
    clock.advance(minutes=5)
    _dismiss(client, tokens.moderator2, a, "Fair criticism, not an attack.")
    items = decisions(client, tokens.auditor)["items"]
    assert [(i["comment_id"], i["decision"], i["moderator_id"]) for i in items] == [
        (a, "approved", "maya"), (b, "rejected", "omar"), (c, "rejected", "omar"),
        (b, "approved", "maya"), (a, "reports_dismissed", "omar")]
    dismissal = items[-1]
    assert dismissal["note"] == "Fair criticism, not an attack."
    assert dismissal["decided_at"] == "2026-11-01T12:05:00+00:00"
    assert dismissal["previous_status"] == "approved" and dismissal["reversal"] is False
    assert dismissal["reasons"] == [] and dismissal["guideline_version"] is None
    assert services.queries.comment(a)["status"] == "approved"

    only = decisions(client, tokens.auditor, decision="reports_dismissed")["items"]
    assert [i["position"] for i in only] == [dismissal["position"]]
    assert [i["comment_id"] for i in decisions(
        client, tokens.auditor, decision="rejected")["items"]] == [b, c]
    assert [i["decision"] for i in decisions(
        client, tokens.auditor, moderator="omar")["items"]] == [
        "rejected", "rejected", "reports_dismissed"]
    assert_error(client.get("/v1/audit/decisions", query_string={"decision": "dismissed"},
                            headers=bearer(tokens.auditor)), 422, "validation_failed")

    # approvals and rejections are what the statistics count; reports have their own
    stats = client.get("/v1/stats", headers=bearer(tokens.auditor)).get_json()
    assert stats["decisions"] == {"approved": 2, "rejected": 2, "reversals": 1, "total": 4}
    assert stats["time_to_decision"]["count"] == 3
    assert stats["reports"]["dismissed"] == 1

    report_ = services.runner.rebuild(services.engine, swap=False)
    assert report_.identical, report_.differences
    before = decisions(client, tokens.auditor)
    services.runner.rebuild(services.engine, swap=True)
    assert decisions(client, tokens.auditor) == before


def test_feed_bodies_are_the_bytes_the_schema_and_jsonify_wrote(app, client, article, tokens,
                                                                services):
    """The feed writes its page with orjson: the same bytes as dumping it through its
    schema and Flask's JSON provider, for every role, tiny floats and all."""
    from flask import jsonify

    from service.api.schemas import FeedSchema
    from service.application.visibility import hidden_types, reads_personal_data
    from service.db import write_transaction
    from service.eventstore import ANY, NewEvent

    submitted_id(client, article, body="ئەم هەواڵە — \"quoted\"\n", name="Nour")
    approve(client, tokens.moderator, submitted_id(client, article))
    for risk in (0.25, 1e-05):
        with write_transaction(services.engine) as conn:
            services.store.append(conn, "comment-raw", [NewEvent("comment.screened", {
                "comment_id": "raw", "flags": [], "risk": risk, "screener": "x",
                "screened_at": "2026-01-01T00:00:00+00:00", "author_id": None,
                "evidence": None}, {"n": [1.5e-07, 2**40, "ü\u2028"]}, 2)], ANY)
        for token, role in ((tokens.auditor, "auditor"), (tokens.moderator, "moderator"),
                            (tokens.admin, "admin")):
            for query in ({"limit": 1000}, {"limit": 2, "after": 1}, {"after": 10**6}):
                body = client.get("/v1/events", query_string=query,
                                  headers=bearer(token)).get_data()
                items = services.queries.feed(
                    after=query.get("after", 0), limit=query.get("limit", 100),
                    personal=reads_personal_data(role), hidden=hidden_types(role))
                with app.app_context():
                    expected = jsonify(FeedSchema().dump({
                        "items": items, "next_after": items[-1]["position"] if items
                        else query.get("after", 0)})).get_data()
                assert body == expected, (role, query)
