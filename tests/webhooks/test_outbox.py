"""The outbox: delivery rows in the event's own transaction, and the one-statement claim."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from service.application.commands import Context, SubmitComment
from service.db import read_transaction, write_transaction
from service.webhooks import outbox
from service.webhooks.tables import webhook_deliveries

from .conftest import moderate


def deliveries(services) -> list[dict]:  # noqa: ANN001
    with read_transaction(services.engine) as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(webhook_deliveries).order_by(webhook_deliveries.c.id))]


def test_one_delivery_per_matching_enabled_endpoint_in_the_events_transaction(services, hooks):
    everything, _ = hooks.create_endpoint("http://127.0.0.1:9/all")
    decisions, _ = hooks.create_endpoint("http://127.0.0.1:9/decisions",
                                         event_types=["comment.approved", "comment.rejected"])
    off, _ = hooks.create_endpoint("http://127.0.0.1:9/off")
    hooks.update_endpoint(off.id, enabled=False)
    [activity] = moderate(services)
    rows = deliveries(services)
    by_endpoint: dict[int, list[str]] = {}
    for row in rows:
        by_endpoint.setdefault(row["endpoint_id"], []).append(row["event_type"])
    assert by_endpoint == {
        everything.id: ["comment.submitted", "comment.screened", "comment.approved"],
        decisions.id: ["comment.approved"],
    }
    history = services.queries.history(activity.comment_id)
    assert {r["event_id"] for r in rows} == {h["event_id"] for h in history}
    assert all(r["status"] == "pending" and r["due_at"] is not None for r in rows)


def test_a_rolled_back_append_leaves_no_delivery(services, hooks):
    hooks.create_endpoint("http://127.0.0.1:9/all")
    moderate(services)
    before = len(deliveries(services))
    with pytest.raises(Exception):  # noqa: B017,PT011 - an unknown article refuses the append
        services.moderation.submit_comment(SubmitComment("no-such", "R", "text"), Context())
    assert len(deliveries(services)) == before


def test_articles_are_not_announced(services, hooks):
    hooks.create_endpoint("http://127.0.0.1:9/all")
    from service.application.commands import RegisterArticle

    from .conftest import ADMIN
    services.moderation.register_article(RegisterArticle("quiet", "Quiet"), ADMIN)
    assert deliveries(services) == []


def test_payloads_are_small_stable_and_free_of_personal_data(services, hooks):
    hooks.create_endpoint("http://127.0.0.1:9/all")
    moderate(services, approve=False)
    import json

    docs = [json.loads(r["payload"]) for r in deliveries(services)]
    assert [d["type"] for d in docs] == ["comment.submitted", "comment.screened",
                                         "comment.rejected"]
    for d in docs:
        assert set(d) == {"type", "timestamp", "data"}
        assert d["timestamp"].endswith("Z")
        text = json.dumps(d)
        assert "Reader" not in text and "thoughtful" not in text  # name and body
    rejected = docs[2]["data"]
    assert rejected["status"] == "rejected"
    assert rejected["reasons"] == ["off_topic"]
    assert rejected["actor"] == {"id": "mod-1", "role": "moderator"}
    assert rejected["article_id"] == "a-1"
    assert "body" not in docs[0]["data"]


def test_claim_takes_due_rows_once_and_a_lapsed_lease_returns_them(services, hooks, clock):
    hooks.create_endpoint("http://127.0.0.1:9/all")
    moderate(services, comments=2)  # 6 deliveries
    lease = timedelta(seconds=30)

    def claim(limit: int) -> list:
        with write_transaction(services.engine) as conn:
            return outbox.claim(conn, now=clock(), lease=lease, limit=limit)

    first = claim(4)
    second = claim(10)
    assert len(first) == 4 and len(second) == 2
    assert not {c.id for c in first} & {c.id for c in second}
    assert claim(10) == []
    clock.advance(seconds=29)
    assert claim(10) == []
    clock.advance(seconds=2)  # the leases lapse: a dead dispatcher's work is taken over
    again = claim(10)
    assert {c.id for c in again} == {c.id for c in first + second}
    assert {c.lock_token for c in again}.isdisjoint({c.lock_token for c in first})


def test_claim_skips_disabled_endpoints_and_future_rows(services, hooks, clock):
    a, _ = hooks.create_endpoint("http://127.0.0.1:9/a")
    moderate(services)
    hooks.update_endpoint(a.id, enabled=False)
    with write_transaction(services.engine) as conn:
        assert outbox.claim(conn, now=clock(), lease=timedelta(seconds=5), limit=10) == []
        conn.execute(webhook_deliveries.update().values(due_at=clock() + timedelta(hours=1)))
    hooks.update_endpoint(a.id, enabled=True)
    with write_transaction(services.engine) as conn:
        assert outbox.claim(conn, now=clock(), lease=timedelta(seconds=5), limit=10) == []


def test_the_claim_is_one_statement_with_skip_locked_on_postgresql(services):
    from datetime import UTC, datetime

    stmt = outbox.claim_statement(datetime.now(UTC), timedelta(seconds=1), 5, "t")
    sql = str(stmt.compile(dialect=services.engine.dialect))
    assert sql.startswith("UPDATE webhook_deliveries SET") and "RETURNING" in sql
    assert sql.count(";") == 0
    if services.engine.dialect.name == "postgresql":
        assert "FOR UPDATE OF webhook_deliveries SKIP LOCKED" in sql
    else:
        assert "FOR UPDATE" not in sql  # SQLite: the single writer makes it atomic


def test_author_erased_is_queued_for_subscribers_without_personal_data(services, hooks):
    import json

    erasures, _ = hooks.create_endpoint("http://127.0.0.1:9/erasures",
                                        event_types=["author.erased"])
    from service.application.commands import RegisterArticle

    services.moderation.register_article(RegisterArticle("a-e", "An article"), Context())
    rec = services.moderation.submit_comment(
        SubmitComment("a-e", "Quiet Reader", "Nothing to see", "quiet@example.org"), Context())
    author_id = services.queries.comment(rec.id)["author_id"]
    services.privacy.erase(author_id, "ticket 1", Context())
    [row] = [r for r in deliveries(services) if r["endpoint_id"] == erasures.id]
    assert row["event_type"] == "author.erased"
    document = json.loads(row["payload"])
    assert document["data"]["author_id"] == author_id
    assert document["data"]["comment_ids"] == [rec.id]
    assert "Quiet" not in row["payload"] and "quiet@" not in row["payload"]
