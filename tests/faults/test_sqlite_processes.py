"""Four server processes on one SQLite file, ten clients submitting and deciding at once:
no 'database is locked' (no 5xx of any kind) reaches a client, the log stays gapless and
the read models equal a replay of it.

A sampler watches /proc/locks while the clients run, to show the writes really came from
several processes contending for the file (not one worker doing all the work).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from .harness import (
    Ledger,
    Served,
    check_log,
    clients,
    moderator,
    prepare,
    run_threads,
    server_env,
    sqlite_writer,
    submitter,
    verify_projections,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

WORKERS = 4
SUBMITTERS = 6
MODERATORS = 4
DURATION = 10.0


def _sample_writers(server: Served, database: Path, stop: threading.Event,
                    seen: Counter) -> None:
    while not stop.is_set():
        pid = sqlite_writer(server, database)
        if pid is not None:
            seen[pid] += 1
        time.sleep(0.005)


def test_four_processes_share_one_sqlite_file_without_locked_errors(tmp_path, serve):
    database = tmp_path / "shared.db"
    url = f"sqlite:///{database}"
    tokens = prepare(url)
    env = server_env(url)
    server = serve(env, WORKERS)

    ledger, stop = Ledger(), threading.Event()
    writers: Counter = Counter()
    started = time.monotonic()
    threads = run_threads(
        [partial(submitter, server.base, ledger, f"lite-s{i}", stop, started + 40)
         for i in range(SUBMITTERS)]
        + [partial(moderator, server.base, tokens.moderators[i % 2], ledger, stop, i)
           for i in range(MODERATORS)]
        + [partial(_sample_writers, server, database, stop, writers)])
    with clients(ledger, stop, threads):
        time.sleep(DURATION)
    took = time.monotonic() - started

    errors = [f"{what}: {r.describe()}" for what, r in ledger.replies
              if r.status is None or r.status >= 500]
    assert not errors, f"{len(errors)} failures reached clients: {errors[:5]}"
    assert "database is locked" not in server.log_text()
    unexpected = ledger.unexpected({"submit": {202}, "read": {200}, "decide": {200, 409}})
    assert not unexpected, f"{len(unexpected)} unexpected answers: {unexpected[:5]}"
    assert len(writers) >= 2, f"writes came from {len(writers)} process(es) only: {writers}"
    assert len(ledger.acks) >= 50 and len(ledger.decisions) >= 20, ledger.tally()

    server.assert_no_crash_logged()
    log = check_log(url, ledger)
    verify_projections(env)
    tally = ledger.tally()
    print(f"\n[sqlite, {WORKERS} processes] {took:.1f}s: {len(ledger.acks)} submissions, "
          f"{len(ledger.decisions)} decisions acknowledged ({tally['decide'][409]} refused as "
          f"stale or already decided); answers {dict(tally)}; writer seen in "
          f"{len(writers)} processes ({sorted(writers.values())} samples); {len(log)} events, "
          f"gapless")
