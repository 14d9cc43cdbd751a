"""Use cases end to end through the application layer, on both databases."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from service.application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    RejectComment,
    SubmitComment,
)
from service.application.errors import (
    ArticleExists,
    ArticleNotFound,
    IdempotencyKeyReused,
    StaleVersion,
)
from service.db import read_transaction, write_transaction
from service.domain.errors import (
    CommentNotFound,
    DecisionRefused,
    InvalidInput,
    NoteRequired,
    ParentNotFound,
)
from service.eventstore.personal_data import PersonalDataVault

ADMIN = Context(Actor("admin-1", "admin"))
MOD = Context(Actor("mod-1", "moderator"), correlation_id="req-123")
SORANI = "ئەم هەواڵە زۆر گرنگە \u200f👍"


@pytest.fixture
def article(services):
    services.moderation.register_article(
        RegisterArticle("baghouz", "The last days of Baghouz", language="en"), ADMIN)
    return "baghouz"


def submit(services, body="A thoughtful comment", **kw):
    kw.setdefault("author_name", "Hêvî")
    return services.moderation.submit_comment(
        SubmitComment(kw.pop("article_id", "baghouz"), body=body, **kw), Context())


def test_submit_records_a_pending_comment_in_every_read_model(services, article):
    result = submit(services, SORANI, author_email="hevi@example.org")
    assert (result.status, result.version) == ("pending", 2)  # submitted, then screened
    state = services.queries.comment(result.id)
    assert state["body"] == SORANI
    assert state["body"].encode() == SORANI.encode()
    assert state["status"] == "pending"
    items, total = services.queries.queue()
    assert [i["comment_id"] for i in items] == [result.id] and total == 1
    assert services.queries.public_thread(article) == []
    assert services.queries.article(article)["pending"] == 1


def test_approval_publishes_and_rejection_hides(services, article):
    one, two = submit(services, "first"), submit(services, "second")
    services.moderation.approve(ApproveComment(one.id, one.version), MOD)
    services.moderation.reject(RejectComment(two.id, two.version, ["off_topic"]), MOD)
    public = services.queries.public_thread(article)
    assert [c["body"] for c in public] == ["first"]
    assert "author_email" not in public[0]
    assert services.queries.queue() == ([], 0)
    counts = services.queries.article(article)
    assert (counts["pending"], counts["approved"], counts["rejected"]) == (0, 1, 1)
    services.moderation.reject(RejectComment(one.id, one.version + 1, ["personal_attack"],
                                             note="complaint upheld"), MOD)
    assert services.queries.public_thread(article) == []
    state = services.queries.comment(one.id)
    assert state["reasons"] == ["personal_attack"] and state["note"] == "complaint upheld"


def test_decision_metadata_names_the_actor_and_request(services, article):
    c = submit(services)
    services.moderation.approve(ApproveComment(c.id, c.version), MOD)
    history = services.queries.history(c.id)
    assert history[0]["metadata"]["actor"]["role"] == "reader"
    assert history[1]["metadata"]["actor"] == {"id": "screener", "role": "system"}
    assert history[1]["metadata"]["causation_id"] == history[0]["event_id"]
    assert history[2]["metadata"] == {"actor": {"id": "mod-1", "role": "moderator"},
                                      "correlation_id": "req-123"}


def test_stale_version_reports_the_winning_decision(services, article):
    c = submit(services)
    services.moderation.reject(RejectComment(c.id, c.version, ["threats"]), MOD)
    with pytest.raises(StaleVersion) as info:
        services.moderation.approve(ApproveComment(c.id, c.version),
                                    Context(Actor("mod-2", "moderator")))
    assert info.value.actual == c.version + 1
    assert info.value.winner.moderator_id == "mod-1"
    assert info.value.winner.reasons == ("threats",)


def test_refusals_append_nothing(services, article):
    c = submit(services)
    head = services.queries.head()
    attempts = [
        lambda: services.moderation.approve(ApproveComment(c.id, 7), MOD),
        lambda: services.moderation.reject(RejectComment(c.id, c.version, ["bogus"]), MOD),
        lambda: services.moderation.reject(RejectComment(c.id, c.version, ["other"]), MOD),
        lambda: services.moderation.approve(ApproveComment("not-a-uuid", 1), MOD),
        lambda: services.moderation.approve(
            ApproveComment("00000000-0000-0000-0000-000000000000", 1), MOD),
        lambda: submit(services, ""),
        lambda: submit(services, article_id="no-such-article"),
        lambda: submit(services, article_id="bad id!"),
        lambda: submit(services, parent_id="00000000-0000-0000-0000-000000000000"),
        lambda: services.moderation.register_article(RegisterArticle("baghouz", "x"), ADMIN),
    ]
    expected = [StaleVersion, InvalidInput, NoteRequired, CommentNotFound, CommentNotFound,
                InvalidInput, ArticleNotFound, InvalidInput, ParentNotFound, ArticleExists]
    for attempt, error in zip(attempts, expected, strict=True):
        with pytest.raises(error):
            attempt()
    assert services.queries.head() == head
    services.moderation.approve(ApproveComment(c.id, c.version), MOD)
    with pytest.raises(DecisionRefused):
        services.moderation.approve(ApproveComment(c.id, c.version + 1, note="again"), MOD)


def test_replies_thread_under_their_parent(services, article):
    parent = submit(services, "parent")
    services.moderation.approve(ApproveComment(parent.id, parent.version), MOD)
    reply = submit(services, "reply", parent_id=parent.id)
    assert services.queries.comment(reply.id)["parent_id"] == parent.id


def test_idempotency_key_replays_and_refuses_different_content(services, article):
    first = submit(services, "same", idempotency_key="k-1")
    again = submit(services, "same", idempotency_key="k-1")
    assert again.id == first.id and again.replayed and not first.replayed
    with pytest.raises(IdempotencyKeyReused):
        submit(services, "different", idempotency_key="k-1")
    assert len(services.queries.feed(types=["comment.submitted"])) == 1


def test_personal_data_is_sealed_in_the_log_and_erasable_without_touching_events(
        services, article):
    c = submit(services, SORANI, author_name="Hêvî Ahmed", author_email="hevi@example.org",
               network_address="203.0.113.9")
    with read_transaction(services.engine) as conn:
        raw = conn.execute(sa.text("SELECT data FROM events WHERE type = 'comment.submitted'")
                           ).scalar_one()
    stored = json.dumps(raw, ensure_ascii=False) if not isinstance(raw, str) else raw
    for secret in (SORANI, "Hêvî Ahmed", "hevi@example.org", "203.0.113.9", "ئەم"):
        assert secret not in stored
    author = services.queries.comment(c.id)["author_id"]
    assert "hevi" not in author
    # the same e-mail gives the same pseudonymous author
    assert services.queries.comment(submit(services, "again",
                                           author_email="HEVI@example.org").id
                                    )["author_id"] == author
    with write_transaction(services.engine) as conn:
        assert PersonalDataVault(conn, services.clock).erase(author)
    history = services.queries.history(c.id)
    assert history[0]["data"]["body"] is None and history[0]["data"]["author_name"] is None
    assert history[0]["data"]["article_id"] == article


def test_time_travel_shows_a_comment_and_the_queue_as_they_were(services, article, clock):
    c = submit(services, "first")
    t_submitted = clock.now
    clock.advance(minutes=10)
    services.moderation.approve(ApproveComment(c.id, c.version), MOD)
    clock.advance(minutes=10)
    services.moderation.reject(RejectComment(c.id, c.version + 1, ["threats"],
                                             note="on review"), MOD)
    then, position = services.queries.comment_as_of(c.id, at=t_submitted)
    assert then.status == "pending" and then.version == 2 and position == 3
    middle, _ = services.queries.comment_as_of(c.id, position=4)
    assert middle.status == "approved"
    pending_then, at = services.queries.pending_as_of(at=t_submitted)
    assert [p["comment_id"] for p in pending_then] == [c.id] and at == 3
    assert services.queries.pending_as_of(position=4)[0] == []
    with pytest.raises(CommentNotFound):
        services.queries.comment_as_of(c.id, position=1)


def test_queue_pages_by_keyset_in_both_directions_and_filters_by_article(services, article):
    services.moderation.register_article(RegisterArticle("other", "Other"), ADMIN)
    ids = [submit(services, f"c{i}").id for i in range(7)]
    submit(services, "elsewhere", article_id="other")
    page1, total = services.queries.queue(limit=3, article_id=article)
    assert total == 7
    page2, _ = services.queries.queue(limit=3, article_id=article,
                                      after=page1[-1]["submitted_position"])
    assert [p["comment_id"] for p in page1 + page2] == ids[:6]
    newest, _ = services.queries.queue(sort="newest", limit=2)
    assert newest[0]["body"] == "elsewhere"
    older, _ = services.queries.queue(sort="newest", limit=2,
                                      after=newest[-1]["submitted_position"])
    assert [o["comment_id"] for o in older] == [ids[5], ids[4]]
    assert services.queries.queue()[1] == 8


def test_the_feed_fast_path_equals_the_decoded_events(services, article):
    """Without personal data the feed serves stored payloads as they are; they must be
    exactly what decoding each event and leaving personal data out gives."""
    from service.application.queries import event_payload

    c = submit(services, "What sh1t, call +964 750 123 4567", author_email="x@example.org")
    services.moderation.approve(ApproveComment(c.id, c.version), MOD)
    services.moderation.reject(RejectComment(c.id, c.version + 1, ["profanity", "other"],
                                             note="spam ring"), MOD)
    feed = services.queries.feed(limit=100)
    assert {e["type"] for e in feed} == {"article.registered", "comment.submitted",
                                         "comment.screened", "comment.approved",
                                         "comment.rejected"}
    with read_transaction(services.engine) as conn:
        recorded = services.store.read_all(conn)
        codec = services.codec_for(conn)
        for served, r in zip(feed, recorded, strict=True):
            assert served["data"] == event_payload(codec.decode(r), personal=False)
            assert "personal" not in served["data"] and "body" not in served["data"]


def test_the_submission_log_line_names_the_position_of_comment_submitted(
        services, article, caplog):
    caplog.set_level("INFO", logger="service.application.handlers")
    rec = services.moderation.submit_comment(
        SubmitComment(article, "Logged Reader", "A body worth logging."), Context())
    history = services.queries.history(rec.id)
    submitted = next(e for e in history if e["type"] == "comment.submitted")
    lines = [r.getMessage() for r in caplog.records if "submitted on" in r.getMessage()]
    assert lines == [f"comment {rec.id} submitted on {article} at position "
                     f"{submitted['position']}"]
    assert submitted["position"] < rec.position  # comment.screened came after it
