"""Races of the moderation desk's commands, on both databases (threads, real connections)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.application.commands import (
    Actor,
    CloseArticle,
    Context,
    RegisterArticle,
    SubmitComment,
)
from service.domain.errors import ArticleIsClosed

pytestmark = pytest.mark.slow

ADMIN = Context(Actor("admin", "admin"))
MOD = Context(Actor("mod-1", "moderator"))


def test_no_submission_is_recorded_after_the_article_closed(services):
    services.moderation.register_article(RegisterArticle("closing", "Closing"), ADMIN)
    services.moderation.submit_comment(SubmitComment("closing", "R", "warm up"), Context())
    start = threading.Barrier(5)
    stop = threading.Event()

    def submitter(n: int) -> tuple[int, int]:
        accepted = refused = 0
        start.wait(timeout=10)
        while (not stop.is_set() or refused == 0) and accepted < 500:
            try:
                services.moderation.submit_comment(
                    SubmitComment("closing", f"Reader {n}", f"comment {accepted} of {n}"),
                    Context())
                accepted += 1
            except ArticleIsClosed as exc:
                assert exc.closed_message == "Closed."
                refused += 1
        return accepted, refused

    def closer() -> None:
        start.wait(timeout=10)
        threading.Event().wait(0.05)
        services.moderation.close_article(CloseArticle("closing", "Closed."), MOD)
        stop.set()

    with ThreadPoolExecutor(5) as pool:
        results = [pool.submit(submitter, n) for n in range(4)]
        pool.submit(closer).result()
        outcomes = [r.result(timeout=60) for r in results]
    assert all(refused >= 1 for _, refused in outcomes)
    feed = services.queries.feed(limit=10_000)
    [closed_at] = [e["position"] for e in feed if e["type"] == "article.closed"]
    submitted = [e["position"] for e in feed if e["type"] == "comment.submitted"]
    assert len(submitted) == 1 + sum(accepted for accepted, _ in outcomes)
    assert max(submitted) < closed_at
    assert services.runner.rebuild(services.engine, swap=False).identical


def _ban_races_approval(services, n: int) -> tuple[str, str]:  # noqa: ANN001
    from service.application.commands import ApproveComment, BanAuthor, LiftSanction
    from service.application.errors import StaleVersion

    comment = services.moderation.submit_comment(SubmitComment(
        "bans", "Spammer", f"Buy now {n}", author_email="spam@example.org"), Context())
    author_id = services.queries.comment(comment.id)["author_id"]
    version = services.authors.profile(author_id)["version"]
    barrier = threading.Barrier(2)

    def ban() -> str:
        barrier.wait(timeout=10)
        result = services.sanctions.ban(BanAuthor(
            author_id, version, "commercial_promotion", reject_pending=True), MOD)
        return "ban rejected it" if comment.id in result.rejected else "ban left it"

    def approval() -> str:
        barrier.wait(timeout=10)
        try:
            services.moderation.approve(ApproveComment(comment.id, comment.version),
                                        Context(Actor("mod-2", "moderator")))
            return "approved"
        except StaleVersion as exc:
            assert exc.winner is not None and exc.winner.moderator_id == "mod-1"
            return "approval lost"

    with ThreadPoolExecutor(2) as pool:
        ban_result, approval_result = pool.submit(ban), pool.submit(approval)
        pair = (ban_result.result(timeout=60), approval_result.result(timeout=60))
    decisions = [e for e in services.queries.history(comment.id)
                 if e["type"] in ("comment.approved", "comment.rejected")]
    assert len(decisions) == 1
    services.sanctions.lift(LiftSanction(author_id, version + 1), MOD)
    return pair


def test_a_ban_rejecting_pending_racing_an_approval_yields_exactly_one_decision(services):
    services.moderation.register_article(RegisterArticle("bans", "Bans"), ADMIN)
    for n in range(10):
        pair = _ban_races_approval(services, n)
        assert pair in {("ban rejected it", "approval lost"), ("ban left it", "approved")}
    assert services.runner.rebuild(services.engine, swap=False).identical
