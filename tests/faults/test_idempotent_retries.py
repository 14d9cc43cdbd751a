"""Many clients send the same Idempotency-Keys at once, give up after very short timeouts
and retry until acknowledged: each key is recorded once, and every answer for a key names
the same comment.

The short timeouts mean most first attempts are abandoned by the client while the server is
still working on them; the server finishes them anyway, so each key meets concurrent
first attempts (several workers), late retries and replays.
"""

from __future__ import annotations

import time
from collections import Counter
from functools import partial

import pytest

from .harness import (
    Ledger,
    check_log,
    is_unavailable,
    join_all,
    prepare,
    run_threads,
    server_env,
    submit_until_acknowledged,
    verify_projections,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WORKERS = 4
CLIENTS = 12
KEYS = 50
FIRST_TIMEOUTS = (0.005, 0.02, 0.05, 0.1)  # seconds, per client; doubled after each failure
MAX_TIMEOUT = 5.0


def _client(base: str, ledger: Ledger, keys: list[str], n: int, give_up_at: float) -> None:
    first = FIRST_TIMEOUTS[n % len(FIRST_TIMEOUTS)]
    # all clients walk the keys in nearly the same order, so they collide on each key
    order = keys[n % 3:] + keys[:n % 3]
    for key in order:
        submit_until_acknowledged(base, ledger, key, give_up_at, retry_pause=0.0,
                                  timeout=lambda attempt: min(first * 2 ** attempt, MAX_TIMEOUT))


def test_retries_after_timeouts_record_each_key_once(settings, serve):
    url = settings.database_url
    prepare(url)
    env = server_env(url, MODERATION_LOG_LEVEL="INFO")  # to count the handler's races
    server = serve(env, WORKERS)
    keys = [f"retry-{settings.database_url[:6]}-{i}" for i in range(KEYS)]

    ledger = Ledger()
    started = time.monotonic()
    give_up_at = started + 90  # ample on a quiet machine (~10 s); a loaded one needs more
    threads = run_threads(partial(_client, server.base, ledger, keys, n, give_up_at)
                          for n in range(CLIENTS))
    join_all(threads, 100)
    took = time.monotonic() - started

    unexpected = ledger.unexpected({"submit": {202, 503, "timeout"}})
    assert not unexpected, f"{len(unexpected)} unexpected answers: {unexpected[:5]}"
    replies = [r for _, r in ledger.replies]
    assert all(is_unavailable(r) for r in replies if r.status == 503)
    timeouts = sum(1 for r in replies if r.failure == "timeout")
    assert timeouts >= KEYS, f"only {timeouts} client timeouts: the test did not retry"

    assert sorted(ledger.acks) == sorted(keys)
    assert all(len(ids) == CLIENTS for ids in ledger.acks.values())  # each client, each key
    first_answers = Counter(r.key for r in replies
                            if r.status == 202 and r.headers.get("idempotent-replayed") != "true")
    assert all(n <= 1 for n in first_answers.values()), \
        f"keys answered as new more than once: {first_answers.most_common(3)}"
    server.assert_no_crash_logged()
    log = check_log(url, ledger)  # one comment.submitted per key, all answers agree
    assert sum(1 for e in log if e.type == "comment.submitted") == KEYS
    verify_projections(env)
    raced = server.log_text().count("idempotency key raced")
    if not url.startswith("sqlite"):  # SQLite serialises writers; PostgreSQL lets them race
        assert raced, "no two first attempts for one key overlapped: the race went untested"

    status = Counter(r.status or r.failure for r in replies)
    print(f"\n[idempotent retries, {settings.database_url.split(':')[0]}] {CLIENTS} clients x "
          f"{KEYS} keys in {took:.1f}s: {len(replies)} requests ({dict(status)}); "
          f"{sum(first_answers.values())} keys answered as new to the client that sent the "
          f"recording attempt, the rest replays; {raced} first attempts lost a race on the "
          f"key's row and answered from the winner; {KEYS} comment.submitted events")

