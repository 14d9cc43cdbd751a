"""A gunicorn worker killed with SIGKILL in the middle of a write: the client of that request
sees its connection cut and nothing else, the master starts a new worker, and the database
holds no trace of the half-done request: the log is whole and the read models equal a
replay of it.

Each kill is aimed at a worker caught inside a write transaction (it holds the SQLite
writer lock, or its PostgreSQL session has written), so it lands between BEGIN and COMMIT.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from functools import partial

import pytest
import sqlalchemy as sa

from .harness import (
    Ledger,
    PostgresWriters,
    check_log,
    clients,
    moderator,
    prepare,
    run_threads,
    server_env,
    sqlite_writer,
    submitter,
    verify_projections,
    wait_until,
    worker_serving_request,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WORKERS = 3
SUBMITTERS = 4
MODERATORS = 4
KILLS = 4
AIM_SECONDS = 5.0
ALLOWED = {"submit": {202, "connection"}, "read": {200, "connection"},
           "decide": {200, 409, "connection"}}


def test_sigkill_of_a_worker_mid_request_leaves_no_partial_state(settings, serve):
    url = settings.database_url
    tokens = prepare(url)
    env = server_env(url)
    server = serve(env, WORKERS)
    if settings.database_url.startswith("sqlite"):
        database = sa.make_url(url).database
        writers = partial(sqlite_writer, database=database)
        close = None
    else:
        watcher = PostgresWriters(url)
        writers, close = watcher, watcher.close

    ledger, stop = Ledger(), threading.Event()
    give_up_at = time.monotonic() + 50
    threads = run_threads(
        [partial(submitter, server.base, ledger, f"kill-s{i}", stop, give_up_at)
         for i in range(SUBMITTERS)]
        + [partial(moderator, server.base, tokens.moderators[i % 2], ledger, stop, i)
           for i in range(MODERATORS)])
    kills: list[tuple[int, str, float]] = []
    try:
        with clients(ledger, stop, threads):
            wait_until(lambda: len(ledger.decisions) >= 10, 30, "decisions before the first kill",
                       ledger, ALLOWED)
            for _ in range(KILLS):
                victim, aimed_at = None, "write transaction"
                deadline = time.monotonic() + AIM_SECONDS
                while victim is None and time.monotonic() < deadline:
                    victim = writers(server)
                if victim is None:  # no writer caught in time: any worker serving a request
                    victim, aimed_at = worker_serving_request(server), "request"
                assert victim is not None, "no worker was busy: the clients are not running"
                os.kill(victim, signal.SIGKILL)
                _, respawn = server.wait_for_workers(gone=victim)
                kills.append((victim, aimed_at, respawn))
                # the server goes on: more submissions and decisions after each kill
                acked, decided = len(ledger.acks), len(ledger.decisions)
                wait_until(lambda a=acked, d=decided: len(ledger.acks) >= a + 10
                           and len(ledger.decisions) >= d + 5, 30, "progress after a kill",
                           ledger, ALLOWED)
    finally:
        if close is not None:
            close()

    unexpected = ledger.unexpected(ALLOWED)
    assert not unexpected, f"{len(unexpected)} answers a kill should not cause: {unexpected[:5]}"
    cut = ledger.count("submit", lambda r: r.failure is not None) + \
        ledger.count("read", lambda r: r.failure is not None) + \
        ledger.count("decide", lambda r: r.failure is not None)
    # a gevent worker serves many connections at once: a kill cuts the requests in flight
    # on that worker, at most one per client, and nothing else
    clients_count = SUBMITTERS + MODERATORS
    assert 1 <= cut <= KILLS * clients_count, \
        f"{cut} requests cut by {KILLS} kills: {ledger.tally()}"
    assert any(aimed == "write transaction" for _, aimed, _ in kills), kills
    assert server.alive()
    assert "was sent SIGKILL" in server.log_text() or "exited" in server.log_text()

    server.assert_no_crash_logged()
    log = check_log(url, ledger)
    verify_projections(env)
    tally = ledger.tally()
    print(f"\n[worker SIGKILL, {settings.database_url.split(':')[0]}] kills: "
          + ", ".join(f"pid {pid} in a {aimed} (replaced in {took:.2f}s)"
                      for pid, aimed, took in kills)
          + f"; {cut} requests cut; {len(ledger.acks)} submissions and "
          f"{len(ledger.decisions)} decisions acknowledged; answers {dict(tally)}; "
          f"{len(log)} events")
