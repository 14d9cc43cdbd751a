"""PostgreSQL restarted while readers submit: prompt 503s during the outage, recovery on its
own, and every acknowledged submission in the log exactly once.

The database is a private cluster (see conftest.py), never the machine's shared server.
"""

from __future__ import annotations

import threading
import time
from functools import partial

import pytest

from .harness import (
    Ledger,
    call,
    check_log,
    clients,
    is_unavailable,
    moderator,
    prepare,
    run_threads,
    server_env,
    submit_until_acknowledged,
    submitter,
    verify_projections,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(120)]

WORKERS = 3
CLIENTS = 6
MODERATORS = 2
OUTAGE_SECONDS = 3.0
BEFORE = AFTER = 40  # acknowledged submissions wanted on each side of the outage
PROMPT = 10.0  # no answer may take longer (connect timeout 5 s; statement timeout 30 s)
RECOVERY = 10.0  # after the database accepts connections again
ALLOWED = {"submit": {202, 503}, "read": {200, 503}, "decide": {200, 409, 503}}


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_while_clients_submit(private_postgres, serve, mode):
    """MODE is pg_ctl's shutdown mode: 'fast' (clean) or 'immediate' (a crash, then WAL
    recovery on start)."""
    url = private_postgres.url
    tokens = prepare(url)
    env = server_env(url)
    server = serve(env, WORKERS)
    workers = server.worker_pids()

    ledger, stop = Ledger(), threading.Event()
    give_up_at = time.monotonic() + 60
    # First a restart in a lull: the workers' pooled connections go stale unnoticed, and
    # the next requests must still succeed (nothing fails while the database is up).
    for i in range(3 * WORKERS):
        submit_until_acknowledged(server.base, ledger, f"{mode}-warm-{i}", give_up_at)
    private_postgres.restart(mode)
    lull_over = time.monotonic()
    threads = run_threads(
        partial(submitter, server.base, ledger, f"{mode}-client{i}", stop, give_up_at,
                retry_pause=0.1)
        for i in range(CLIENTS))
    threads += run_threads(
        partial(moderator, server.base, tokens.moderators[i % 2], ledger, stop, i)
        for i in range(MODERATORS))
    probes = []
    with clients(ledger, stop, threads):
        wait_until(lambda: len(ledger.acks) >= BEFORE, 30, "submissions before the outage",
                   ledger, ALLOWED)
        stopping = time.monotonic()
        private_postgres.stop(mode)
        down = time.monotonic()
        while time.monotonic() - down < OUTAGE_SECONDS:
            probes.append((call(server.base, "GET", "/healthz", timeout=PROMPT),
                           call(server.base, "GET", "/readyz", timeout=PROMPT)))
            time.sleep(0.5)
        restarting = time.monotonic()
        private_postgres.start()
        up = time.monotonic()
        wait_until(lambda: ledger.count("submit", lambda r: r.status == 202 and r.started >= up)
                   >= AFTER, 30, "submissions after the restart", ledger, ALLOWED)

    unexpected = ledger.unexpected(ALLOWED)
    assert not unexpected, f"{len(unexpected)} answers besides 2xx, 409, 503: {unexpected[:5]}"
    every = [r for _, r in ledger.replies]
    slow = [r for r in every if r.elapsed > PROMPT]
    assert not slow, f"{len(slow)} requests took over {PROMPT}s, e.g. {slow[0].elapsed:.1f}s"
    malformed = [r.describe() for r in every if r.status == 503 and not is_unavailable(r)]
    assert not malformed, f"503s outside our error format or without Retry-After: {malformed[:3]}"
    assert probes and all(live.status == 200 and ready.status == 503
                          and ready.body["code"] == "not_ready"
                          and ready.headers.get("retry-after") for live, ready in probes), \
        [(live.describe(), ready.describe()) for live, ready in probes]

    replies = [r for what, r in ledger.replies if what == "submit"]
    during = [r for r in every if r.started >= down and r.finished <= restarting]
    assert any(r in replies for r in during), "no submission was answered during the outage"
    assert all(r.status == 503 for r in during)
    first_503 = min((r for r in replies if r.status == 503), key=lambda r: r.finished)
    recovered = min((r for r in replies if r.status == 202 and r.started >= up),
                    key=lambda r: r.finished)
    assert recovered.finished - up < RECOVERY, "the service did not recover by itself in time"
    database_up = [r for r in every
                   if (lull_over <= r.started and r.finished < stopping) or r.started >= up]
    failed = [r.describe() for r in database_up if r.status not in (200, 202, 409)]
    assert not failed, f"{len(failed)} failures while the database was up: {failed[:3]}"

    assert server.alive() and server.worker_pids() == workers, \
        f"a worker died or the master exited:\n{server.log_tail()}"
    assert call(server.base, "GET", "/readyz").status == 200
    server.assert_no_crash_logged()
    log = check_log(url, ledger)
    verify_projections(env)

    unavailable = sum(1 for r in every if r.status == 503)
    replayed = sum(1 for r in replies if r.headers.get("idempotent-replayed") == "true")
    print(f"\n[postgres restart, {mode}] stop took {down - stopping:.2f}s, down "
          f"{restarting - down:.2f}s, start took {up - restarting:.2f}s; first 503 "
          f"{first_503.finished - stopping:+.2f}s after stop began; {unavailable} answers 503 "
          f"(slowest {max(r.elapsed for r in every if r.status == 503):.3f}s), "
          f"{len(during)} of them while down; first 202 {recovered.finished - up:.3f}s after "
          f"start; {len(ledger.acks)} submissions ({replayed} replayed: recorded by an attempt "
          f"answered 503) and {len(ledger.decisions)} decisions acknowledged; "
          f"answers {dict(ledger.tally())}; {len(log)} events")
