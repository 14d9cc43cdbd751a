"""Dispatcher processes against one database: no delivery sent twice at once, none lost.

Real processes (the `moderation webhooks work` command, and spawned interpreters), a real
receiver that verifies every signature and records every webhook-id, SIGKILL mid-run.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from service.db import write_transaction
from service.webhooks import outbox

from .conftest import moderate
from .receivers import Receiver

pytestmark = pytest.mark.slow

DELIVERIES = 300
PROCESSES = 4


def _env(settings, **extra: str) -> dict[str, str]:  # noqa: ANN001
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": settings.database_url,
        "MODERATION_WEBHOOK_ALLOW_LOOPBACK": "true",
        "MODERATION_WEBHOOK_TIMEOUT_SECONDS": "2",
        "MODERATION_WEBHOOK_LEASE_SECONDS": "30",
        "MODERATION_WEBHOOK_POLL_SECONDS": "0.1",
        "MODERATION_LOG_LEVEL": "WARNING",
        **extra,
    })
    return env


def _work(settings, *args: str, **env: str) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "webhooks", "work", *args],
        env=_env(settings, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _queue(services, hooks, receiver: Receiver, total: int) -> None:  # noqa: ANN001
    """TOTAL deliveries: real moderation events, topped up with pings."""
    endpoint, secret = hooks.create_endpoint(receiver.url)
    receiver.secrets.append(secret)
    moderate(services, comments=20)  # 60 events
    with write_transaction(services.engine) as conn:
        for _ in range(total - 60):
            outbox.add_ping(conn, endpoint.id, now=services.clock())


def test_several_dispatchers_deliver_everything_once(services, hooks, receiver):
    _queue(services, hooks, receiver, DELIVERIES)
    started = time.monotonic()
    workers = [_work(services.settings, "--once", "--concurrency", "4", "--name", f"w{i}")
               for i in range(PROCESSES)]
    outputs = [w.communicate(timeout=60) for w in workers]
    took = time.monotonic() - started
    assert all(w.returncode == 0 for w in workers), outputs
    ids = receiver.ids()
    assert len(ids) == DELIVERIES, f"{len(ids)} received in {took:.1f}s"
    assert len(set(ids)) == DELIVERIES, "a delivery was sent twice while its lease held"
    assert max(receiver.concurrent_max.values()) == 1
    assert all(r.verified_with == [0] for r in receiver.received)
    claimed = [int(out.split("claimed ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(claimed) == DELIVERIES
    assert sum(1 for c in claimed if c) >= 2, claimed  # the work really was shared
    assert {r["status"] for r in hooks.deliveries(limit=DELIVERIES)} == {"succeeded"}


def _dispatch_with_clock_ahead(url: str, seconds_ahead: float) -> dict[str, int]:
    """A dispatcher in a fresh interpreter whose clock runs SECONDS_AHEAD of real time,
    so expired leases need no waiting."""
    from dataclasses import replace

    from service.bootstrap import build
    from service.config import Settings
    from service.webhooks.admin import Webhooks

    def clock() -> datetime:
        return datetime.now(UTC) + timedelta(seconds=seconds_ahead)

    settings = replace(Settings(database_url=url), webhook_allow_loopback=True,
                       webhook_timeout_seconds=2.0, webhook_lease_seconds=30.0)
    services = build(settings, clock=clock)
    try:
        hooks = Webhooks(services.engine, settings, clock,
                     services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
        return hooks.dispatcher(name="restarted").run(concurrency=4, once=True).as_dict()
    finally:
        services.close()


def test_a_dispatcher_killed_mid_run_loses_nothing(services, hooks, receiver):
    total = 120
    receiver.respond = lambda r: (time.sleep(0.05), (204, {}, b""))[1]
    _queue(services, hooks, receiver, total)
    victim = _work(services.settings, "--concurrency", "4", "--name", "victim")
    deadline = time.monotonic() + 30
    while len(receiver.received) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    held = {r["id"] for r in hooks.deliveries(limit=total)
            if r["status"] == "pending" and r["locked_until"] is not None}
    assert held, "the kill should have landed while sends were under way"
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(1) as pool:
        # Restarted while the dead one's leases still hold: it leaves those alone...
        first = pool.apply(_dispatch_with_clock_ahead, (services.settings.database_url, 0))
        rows = hooks.deliveries(limit=total)
        still_held = [r["id"] for r in rows if r["status"] == "pending"]
        assert set(still_held) == held
        # ...and once they have expired, it takes them over.
        second = pool.apply(_dispatch_with_clock_ahead, (services.settings.database_url, 31))
    assert second["claimed"] == len(still_held)
    assert first["claimed"] + second["claimed"] + 20 >= total
    counts = Counter(receiver.ids())
    assert len(counts) == total  # everything delivered at least once
    twice = {i for i, n in counts.items() if n > 1}
    assert len(twice) <= 4  # only what was in flight when the dispatcher died
    assert all(r.verified_with == [0] for r in receiver.received)
    assert {r["status"] for r in hooks.deliveries(limit=total)} == {"succeeded"}


def _append_then_die(url: str) -> None:
    from service.application.commands import Context, SubmitComment
    from service.bootstrap import build
    from service.config import Settings

    services = build(Settings(database_url=url))
    services.moderation.submit_comment(SubmitComment("a-1", "Reader", "Last words"), Context())
    os.kill(os.getpid(), signal.SIGKILL)  # right after the commit, before anything is sent


def test_a_crash_right_after_commit_loses_no_delivery(services, hooks, receiver):
    endpoint, secret = hooks.create_endpoint(receiver.url, event_types=["comment.submitted"])
    receiver.secrets.append(secret)
    moderate(services, comments=0)
    process = multiprocessing.get_context("spawn").Process(
        target=_append_then_die, args=(services.settings.database_url,))
    process.start()
    process.join(timeout=60)
    assert process.exitcode == -signal.SIGKILL
    [pending] = hooks.deliveries(endpoint.id)
    assert pending["status"] == "pending"
    worker = _work(services.settings, "--once")
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    [got] = receiver.received
    assert got.verified_with == [0] and got.payload["type"] == "comment.submitted"


def test_sigterm_lets_sends_under_way_finish_then_exits(services, hooks, receiver):
    receiver.respond = lambda r: (time.sleep(0.5), (204, {}, b""))[1]
    _queue(services, hooks, receiver, 80)
    worker = _work(services.settings, "--concurrency", "2", "--name", "graceful")
    deadline = time.monotonic() + 30
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGTERM)
    out, err = worker.communicate(timeout=10)
    assert worker.returncode == 0, err
    assert "graceful: claimed" in out
    rows = hooks.deliveries(limit=100)
    # Whatever it had started was finished and recorded; nothing is left leased.
    assert not [r for r in rows if r["status"] == "pending" and r["locked_until"]]
    succeeded = [r for r in rows if r["status"] == "succeeded"]
    assert len(succeeded) == len(receiver.received) >= 1
