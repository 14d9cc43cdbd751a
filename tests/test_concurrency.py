"""Concurrent writers and racing moderators, on both databases (threads, real connections)."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    RejectComment,
    SubmitComment,
)
from service.application.errors import StaleVersion
from service.db import read_transaction, write_transaction
from service.eventstore import ANY, NewEvent

pytestmark = pytest.mark.slow

WRITERS = 8
APPENDS_PER_WRITER = 30


def test_eight_writers_and_a_tailing_reader_see_every_event_once_in_order(services):
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        rnd = random.Random(n)
        for i in range(APPENDS_PER_WRITER):
            with write_transaction(services.engine) as conn:
                services.store.append(conn, f"w{n}-{i % 3}",
                                      [NewEvent("test.written", {"w": n, "i": i})], ANY)
                time.sleep(rnd.random() / 500)  # hold the transaction open a little

    def reader() -> None:
        after = 0
        try:
            while True:
                finished = done.is_set()
                with read_transaction(services.engine) as conn:
                    page = services.store.read_all(conn, after=after, limit=17)
                for r in page:
                    seen.append(r.position)
                    after = r.position
                if finished and not page:
                    return
                if not page:
                    time.sleep(0.001)  # poll like a real consumer, not a GIL-hogging spin
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    tail = threading.Thread(target=reader)
    tail.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    done.set()
    tail.join(timeout=60)
    assert not errors
    total = WRITERS * APPENDS_PER_WRITER
    assert seen == list(range(1, total + 1)), "a tailing reader skipped or repeated events"
    with read_transaction(services.engine) as conn:
        assert services.store.head(conn) == total


def test_eight_moderators_racing_on_one_comment_exactly_one_wins(services):
    admin = Context(Actor("admin", "admin"))
    services.moderation.register_article(RegisterArticle("race", "Race"), admin)
    comment = services.moderation.submit_comment(
        SubmitComment("race", "Reader", "Contested comment"), Context())
    barrier = threading.Barrier(8)

    def decide(n: int) -> str:
        ctx = Context(Actor(f"mod-{n}", "moderator"))
        barrier.wait(timeout=10)
        try:
            if n % 2:
                services.moderation.approve(ApproveComment(comment.id, comment.version), ctx)
            else:
                services.moderation.reject(
                    RejectComment(comment.id, comment.version, ["off_topic"]), ctx)
            return "won"
        except StaleVersion as exc:
            assert exc.actual == comment.version + 1
            assert exc.winner is not None
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(decide, range(8)))
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == 7
    history = services.queries.history(comment.id)
    assert [h["type"] for h in history][:2] == ["comment.submitted", "comment.screened"]
    assert len(history) == 3
    state = services.queries.comment(comment.id)
    assert state["version"] == 3
    assert state["decided_by"] == history[2]["metadata"]["actor"]["id"]


def test_concurrent_retries_with_one_idempotency_key_record_one_comment(services):
    services.moderation.register_article(RegisterArticle("idem", "Idem"),
                                         Context(Actor("admin", "admin")))
    barrier = threading.Barrier(6)

    def submit(_: int) -> str:
        barrier.wait(timeout=10)
        return services.moderation.submit_comment(
            SubmitComment("idem", "Reader", "Same words", idempotency_key="key-1"),
            Context()).id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(submit, range(6)))
    assert len(ids) == 1
    feed = services.queries.feed(types=["comment.submitted"])
    assert len(feed) == 1


def _submit_from_another_process(url: str, worker: int, count: int) -> list[str]:
    from service.bootstrap import build
    from service.config import Settings

    services = build(Settings(database_url=url))
    try:
        return [
            services.moderation.submit_comment(
                SubmitComment("multi", f"Worker {worker}", f"comment {i} from {worker}"),
                Context()).id
            for i in range(count)
        ]
    finally:
        services.close()


def test_several_processes_share_one_database_without_lock_errors(services):
    import multiprocessing

    services.moderation.register_article(RegisterArticle("multi", "Multi"),
                                         Context(Actor("admin", "admin")))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.starmap(_submit_from_another_process,
                               [(services.settings.database_url, w, 25) for w in range(4)])
    ids = [i for r in results for i in r]
    assert len(set(ids)) == 100
    feed = services.queries.feed(after=1, limit=1000)
    assert [e["position"] for e in feed] == list(range(2, 202))  # submitted + screened
    assert services.runner.rebuild(services.engine, swap=False).identical
