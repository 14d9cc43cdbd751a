"""Reader reports: reporting published comments, counting each reader once, the reported
queue, dismissal and rejection, withholding, idempotency, sealing, webhooks and rebuild."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from service.app import create_app
from service.db import read_transaction

from .helpers import approve, assert_error, bearer, head, reject, submitted_id, version_of


def report(client, comment_id, reason="personal_attack", note=None, address="203.0.113.7",
           **headers):  # noqa: ANN001, ANN201
    body = {"reason": reason} if note is None else {"reason": reason, "note": note}
    return client.post(f"/v1/comments/{comment_id}/reports", json=body, headers=headers,
                       environ_base={"REMOTE_ADDR": address})


def published(client, tokens, article, body="Published words.", **kw):  # noqa: ANN001, ANN201
    comment_id = submitted_id(client, article, body=body, **kw)
    assert approve(client, tokens.moderator, comment_id).status_code == 200
    return comment_id


def reported_queue(client, token, **query):  # noqa: ANN001, ANN201
    response = client.get("/v1/queue", query_string={"state": "reported", **query},
                          headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_reader_reports_a_published_comment(client, tokens, article, services):
    comment_id = published(client, tokens, article)
    before = head(services)
    response = report(client, comment_id, note="This insults my neighbour.")
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["comment_id"] == comment_id and body["counted"] is True
    assert body["withheld"] is False
    assert head(services) == before + 1
    [event] = [e for e in services.queries.history(comment_id)
               if e["type"] == "comment.reported"]
    assert event["metadata"]["actor"]["role"] == "reader"
    assert event["data"]["note"] == "This insults my neighbour."
    assert event["data"]["reporter"] and "203.0.113.7" not in str(event)
    with read_transaction(services.engine) as conn:
        raw = str(conn.exec_driver_sql(
            "SELECT data FROM events WHERE type = 'comment.reported'").scalar_one())
    assert "neighbour" not in raw and event["data"]["reporter"] not in raw
    feed = client.get("/v1/events?type=comment.reported",
                      headers=bearer(tokens.auditor)).get_json()["items"]
    assert "neighbour" not in str(feed) and event["data"]["reporter"] not in str(feed)


def test_only_published_comments_can_be_reported(client, tokens, article, services):
    pending = submitted_id(client, article)
    assert_error(report(client, pending), 409, "not_reportable")
    rejected = submitted_id(client, article)
    reject(client, tokens.moderator, rejected, ["off_topic"])
    assert_error(report(client, rejected), 409, "not_reportable")
    assert_error(report(client, "5b0e7c1e-0000-4000-8000-000000000000"), 404,
                 "comment_not_found")
    ok = published(client, tokens, article)
    before = head(services)
    assert_error(report(client, ok, reason="nonsense"), 422, "invalid_input")
    assert_error(client.post(f"/v1/comments/{ok}/reports", json={}), 422,
                 "validation_failed")
    assert_error(report(client, ok, note="x" * 2001), 422, "invalid_input")
    assert head(services) == before


def test_each_reader_counts_once_per_comment(client, tokens, article, services):
    comment_id = published(client, tokens, article)
    assert report(client, comment_id).get_json()["counted"] is True
    again = report(client, comment_id, reason="threats")
    assert again.status_code == 202 and again.get_json()["counted"] is False
    assert report(client, comment_id, address="198.51.100.9").get_json()["counted"] is True
    [item] = reported_queue(client, tokens.moderator)["items"]
    assert item["open_reports"] == 2 and item["total_reports"] == 3
    assert item["reports"] == {"personal_attack": 2}


def test_the_reported_queue_orders_by_reports_then_risk_then_age(client, tokens, article,
                                                                 services):
    calm = published(client, tokens, article, body="A calm remark.")
    risky = published(client, tokens, article,
                      body="Buy cheap pills at https://spam.example.com call +1 555 123 4567")
    many = published(client, tokens, article, body="Another remark.")
    for i, comment_id in enumerate([calm, risky, many, many]):
        report(client, comment_id, address=f"198.51.100.{i + 1}")
    untouched = published(client, tokens, article, body="Nobody minds this.")
    page = reported_queue(client, tokens.moderator)
    ids = [i["id"] for i in page["items"]]
    assert ids == [many, risky, calm] and untouched not in ids
    assert page["total"] == 3
    assert page["items"][0]["author"]["counts"]["approved"] == 1
    first = reported_queue(client, tokens.moderator, limit=2)
    assert [i["id"] for i in first["items"]] == [many, risky]
    rest = reported_queue(client, tokens.moderator, limit=2, cursor=first["next_cursor"])
    assert [i["id"] for i in rest["items"]] == [calm] and rest["next_cursor"] is None
    assert_error(client.get("/v1/queue", query_string={"state": "reported", "cursor": "x!"},
                            headers=bearer(tokens.moderator)), 400, "invalid_cursor")
    assert_error(client.get("/v1/queue", query_string={"state": "nope"},
                            headers=bearer(tokens.moderator)), 422, "validation_failed")
    # the default queue is still the pending one
    assert client.get("/v1/queue", headers=bearer(tokens.moderator)).get_json()["total"] == 0


def test_reported_pages_are_keyset_ranges_with_ties_and_stable_under_change(
        client, tokens, article, services, clock):
    """Ties on reports and risk (same second, so the id decides), every page size, and a
    comment resolved between two pages: the next page starts right after the last row
    seen, skipping and repeating nothing (an offset would skip one)."""
    spam = "Buy cheap pills at https://spam.example.com call +1 555 123 4567"
    ids = []
    for i in range(8):
        ids.append(published(client, tokens, article, body=spam if i in (2, 5) else
                             f"Remark number {i}."))
        if i % 3 == 0:
            clock.advance(seconds=1)  # the others share a submission second
    for n, comment_id in enumerate(ids):
        for r in range(2 if n in (1, 4, 6) else 1):
            report(client, comment_id, address=f"198.51.100.{10 * n + r + 1}")
    everything = reported_queue(client, tokens.moderator, limit=100)["items"]
    expected = sorted(everything, key=lambda i: (-i["open_reports"], -(i["risk"] or 0),
                                                 i["submitted_at"], i["id"]))
    assert [i["id"] for i in everything] == [i["id"] for i in expected]
    assert len(everything) == 8
    for size in (1, 2, 3, 7, 8):
        seen, cursor, pages = [], None, 0
        while True:
            page = reported_queue(client, tokens.moderator, limit=size,
                                  **({"cursor": cursor} if cursor else {}))
            assert page["total"] == 8
            seen += [i["id"] for i in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [i["id"] for i in expected], size
        assert pages == -(-8 // size)

    first = reported_queue(client, tokens.moderator, limit=3)
    gone = first["items"][0]["id"]
    version = version_of(client, tokens.moderator, gone)
    assert client.post(f"/v1/comments/{gone}/reports/dismiss", json={}, headers=bearer(
        tokens.moderator, **{"If-Match": f'"{version}"'})).status_code == 200
    rest = reported_queue(client, tokens.moderator, limit=3, cursor=first["next_cursor"])
    assert [i["id"] for i in rest["items"]] == [i["id"] for i in expected[3:6]]
    assert rest["total"] == 7

    pending_cursor = client.get("/v1/queue?limit=1", headers=bearer(tokens.moderator))
    assert pending_cursor.status_code == 200
    other = submitted_id(client, article), submitted_id(client, article)
    assert other
    cursor = client.get("/v1/queue?limit=1", headers=bearer(
        tokens.moderator)).get_json()["next_cursor"]
    assert_error(client.get("/v1/queue", query_string={"state": "reported", "cursor": cursor},
                            headers=bearer(tokens.moderator)), 400, "invalid_cursor")


def test_the_reported_queue_order_survives_a_rebuild(client, tokens, article,
                                                                     services):
    risky = published(client, tokens, article,
                      body="Buy cheap pills at https://spam.example.com call +1 555 123 4567")
    calm = published(client, tokens, article, body="A calm remark.")
    report(client, calm)
    report(client, risky, address="198.51.100.2")
    with read_transaction(services.engine) as conn:
        before = {r.comment_id: (r.risk, r.submitted_at) for r in conn.execute(sa.text(
            "SELECT comment_id, risk, submitted_at FROM reported_comments"))}
    assert before[risky][0] > before[calm][0]
    result = services.runner.rebuild(services.engine, swap=False, batch_size=1)
    assert result.identical, result.differences
    assert [i["id"] for i in reported_queue(client, tokens.moderator)["items"]] == [risky, calm]


def test_dismissing_keeps_it_published_and_new_reports_bring_it_back(client, tokens,
                                                                    article, services):
    comment_id = published(client, tokens, article)
    url = f"/v1/comments/{comment_id}/reports/dismiss"
    assert_error(client.post(url, json={}, headers=bearer(
        tokens.moderator, **{"If-Match": f'"{version_of(client, tokens.moderator, comment_id)}"'})),
        409, "decision_refused")
    report(client, comment_id)
    version = version_of(client, tokens.moderator, comment_id)
    assert_error(client.post(url, json={}), 401, "unauthenticated")
    assert_error(client.post(url, json={}, headers=bearer(tokens.auditor)), 403, "forbidden")
    assert_error(client.post(url, json={}, headers=bearer(tokens.moderator)), 428,
                 "precondition_required")
    stale = client.post(url, json={}, headers=bearer(tokens.moderator,
                                                     **{"If-Match": f'"{version - 1}"'}))
    assert_error(stale, 409, "version_conflict")
    done = client.post(url, json={"note": "Fair criticism, not an attack."},
                       headers=bearer(tokens.moderator, **{"If-Match": f'"{version}"'}))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["dismissed"] == 1 and done.headers["ETag"] == f'"{version + 1}"'
    assert reported_queue(client, tokens.moderator)["items"] == []
    assert services.queries.comment(comment_id)["status"] == "approved"
    assert report(client, comment_id, address="198.51.100.77").get_json()["counted"]
    [back] = reported_queue(client, tokens.moderator)["items"]
    assert back["open_reports"] == 1


def test_rejecting_a_reported_comment_resolves_its_reports(client, tokens, article,
                                                           services):
    comment_id = published(client, tokens, article)
    report(client, comment_id)
    assert_error(reject(client, tokens.moderator, comment_id, ["personal_attack"]), 422,
                 "note_required")
    assert reject(client, tokens.moderator, comment_id, ["personal_attack"],
                  note="Reports upheld.").status_code == 200
    assert reported_queue(client, tokens.moderator)["items"] == []
    assert_error(report(client, comment_id, address="198.51.100.5"), 409, "not_reportable")


@pytest.fixture
def withholding(api_settings, services):  # noqa: ANN001, ANN201
    services.reports.withhold_at = 2
    app = create_app(replace(api_settings, reports_withhold_at=2), services)
    with app.test_client() as client:
        yield client
    services.reports.withhold_at = 0


def test_enough_open_reports_withhold_a_comment_until_resolved(withholding, tokens, article,
                                                               services):
    client = withholding
    comment_id = published(client, tokens, article)
    thread = f"/v1/articles/{article}/comments"
    assert [c["id"] for c in client.get(thread).get_json()["items"]] == [comment_id]
    assert report(client, comment_id).get_json()["withheld"] is False
    assert report(client, comment_id).get_json()["withheld"] is False  # same reader
    assert client.get(thread).get_json()["items"] != []
    assert report(client, comment_id, address="198.51.100.2").get_json()["withheld"] is True
    assert client.get(thread).get_json()["items"] == []
    assert reported_queue(client, tokens.moderator)["items"][0]["withheld"] is True
    version = version_of(client, tokens.moderator, comment_id)
    client.post(f"/v1/comments/{comment_id}/reports/dismiss", json={},
                headers=bearer(tokens.moderator, **{"If-Match": f'"{version}"'}))
    assert [c["id"] for c in client.get(thread).get_json()["items"]] == [comment_id]
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_a_retry_with_the_same_idempotency_key_appends_nothing(client, tokens, article,
                                                               services):
    comment_id = published(client, tokens, article)
    first = report(client, comment_id, **{"Idempotency-Key": "rep-1"})
    after = head(services)
    second = report(client, comment_id, **{"Idempotency-Key": "rep-1"})
    assert second.status_code == 202 and second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert head(services) == after
    assert_error(report(client, comment_id, reason="threats", **{"Idempotency-Key": "rep-1"}),
                 422, "idempotency_key_reused")


def test_reports_are_rate_limited(api_settings, services, tokens, article):
    app = create_app(replace(api_settings, submit_rate_limit="2/minute"), services)
    with app.test_client() as client:
        comment_id = published(client, tokens, article)
        assert report(client, comment_id).status_code == 202
        assert report(client, comment_id).status_code == 202
        limited = report(client, comment_id)
        assert_error(limited, 429, "rate_limited")
        assert "Retry-After" in limited.headers


def test_reports_reach_webhooks_without_the_reporter(client, tokens, article, services,
                                                     api_settings):
    from service.webhooks.admin import Webhooks
    from service.webhooks.tables import webhook_deliveries

    hooks = Webhooks(services.engine, replace(api_settings, webhook_allow_loopback=True),
                     services.clock, services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
    endpoint, _ = hooks.create_endpoint("http://127.0.0.1:9/reports", event_types=[
        "comment.reported", "comment.reports_dismissed"])
    comment_id = published(client, tokens, article)
    report(client, comment_id, note="private words")
    version = version_of(client, tokens.moderator, comment_id)
    client.post(f"/v1/comments/{comment_id}/reports/dismiss", json={},
                headers=bearer(tokens.moderator, **{"If-Match": f'"{version}"'}))
    with read_transaction(services.engine) as conn:
        rows = conn.execute(sa.select(webhook_deliveries.c.event_type,
                                      webhook_deliveries.c.payload)
                            .where(webhook_deliveries.c.endpoint_id == endpoint.id)
                            .order_by(webhook_deliveries.c.id)).all()
    assert [r.event_type for r in rows] == ["comment.reported", "comment.reports_dismissed"]
    assert "private" not in rows[0].payload and "reporter" not in rows[0].payload
    assert '"reason":"personal_attack"' in rows[0].payload


def test_rebuild_reproduces_reports(client, tokens, article, services):
    a = published(client, tokens, article)
    b = published(client, tokens, article, body="Second.")
    report(client, a)
    report(client, a)
    report(client, a, address="198.51.100.3", reason="threats")
    report(client, b)
    version = version_of(client, tokens.moderator, b)
    client.post(f"/v1/comments/{b}/reports/dismiss", json={},
                headers=bearer(tokens.moderator, **{"If-Match": f'"{version}"'}))
    report(client, b, address="198.51.100.4")
    reject(client, tokens.moderator, a, ["threats"], note="Upheld.")
    report_after = published(client, tokens, article, body="Third.")
    report(client, report_after)
    result = services.runner.rebuild(services.engine, swap=False, batch_size=2)
    assert result.identical, result.differences


def test_stats_count_reports_resolutions_and_sanctions(client, tokens, article, services,
                                                       clock):
    a = published(client, tokens, article)
    b = published(client, tokens, article, body="Second.", email="b@example.org")
    report(client, a)
    report(client, a)  # a repeat: received, not counted
    report(client, b)
    clock.advance(minutes=10)
    version = version_of(client, tokens.moderator, a)
    client.post(f"/v1/comments/{a}/reports/dismiss", json={},
                headers=bearer(tokens.moderator, **{"If-Match": f'"{version}"'}))
    clock.advance(minutes=20)
    reject(client, tokens.moderator, b, ["threats"], note="Upheld.")
    author = services.queries.comment(b)["author_id"]
    client.post(f"/v1/authors/{author}/warnings", json={"reason": "threats"},
                headers=bearer(tokens.moderator, **{"If-Match": '"0"'}))
    client.post(f"/v1/authors/{author}/bans", json={"reason": "threats"},
                headers=bearer(tokens.moderator, **{"If-Match": '"1"'}))
    stats = client.get("/v1/stats", headers=bearer(tokens.auditor)).get_json()
    assert stats["reports"] == {"received": 3, "resolved": 2, "dismissed": 1, "rejected": 1,
                                "median_seconds_to_resolution": 1200.0}
    assert stats["sanctions"] == {"warned": 1, "suspended": 0, "banned": 1,
                                  "sanction_lifted": 0}
    later = client.get("/v1/stats", query_string={"since": "2026-11-01T09:25:00Z"},
                       headers=bearer(tokens.auditor)).get_json()
    assert later["reports"]["received"] == 0 and later["reports"]["resolved"] == 1
    assert services.runner.rebuild(services.engine, swap=False).identical
