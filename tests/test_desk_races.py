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
