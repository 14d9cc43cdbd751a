"""The audit features' costs: the hash chain on the append path, and exports at scale.

- chain: appends of one event per transaction through the event store, with the chain as
  it is ("after") and with its hashing replaced by a constant ("before": the previous hash
  is still read in the head update, which costs no extra round trip); the difference is
  the chain's cost per append. Also the hashing alone, per event.
- export: `moderation audit export` of the whole log in a fresh process, whose peak RSS is
  the export's own, at growing log sizes: flat memory means the peak does not grow.

    python -m bench.run --only audit --sizes 100000,357000   # ~1M events at the end
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from service.bootstrap import build
from service.config import Settings
from service.db import write_transaction
from service.eventstore import ANY, NewEvent, chain
from service.eventstore import store as store_module

from .bulk import bulk_load

ROOT = Path(__file__).resolve().parent.parent


def _appends_per_second(settings: Settings, count: int) -> float:
    services = build(settings)
    try:
        started = time.perf_counter()
        for i in range(count):
            with write_transaction(services.engine) as conn:
                services.store.append(conn, f"bench-{i % 50}", [NewEvent(
                    "bench.appended", {"i": i, "note": "a moderately sized payload " * 4},
                    {"actor": {"id": "bench", "role": "system"}})], ANY)
        return count / (time.perf_counter() - started)
    finally:
        services.close()


def bench_chain(db: str, fresh: Callable[[], Settings], runs: int, count: int,
                record: Callable[..., None]) -> None:
    real = store_module.chain.link_row
    before, after = [], []
    _appends_per_second(fresh(), count // 4)  # warm up: imports, caches, first connections
    for _ in range(runs):
        store_module.chain.link_row = lambda previous, row: bytes(32)  # type: ignore[assignment]
        try:
            before.append(_appends_per_second(fresh(), count))
        finally:
            store_module.chain.link_row = real  # type: ignore[assignment]
        after.append(_appends_per_second(fresh(), count))
    record(db, "chain", "append 1 event per tx, without hashing", before, "events/s")
    record(db, "chain", "append 1 event per tx, hash chain", after, "events/s")
    cost = [100 * (1 / a - 1 / b) / (1 / a) for a, b in zip(after, before, strict=True)]
    record(db, "chain", "chain's share of an append", cost, "%")
    row = {"position": 1, "event_id": "2b1a1b8e-8a43-4d33-9f62-1a2b3c4d5e6f",
           "stream_id": "comment-2b1a1b8e-8a43-4d33-9f62-1a2b3c4d5e6f", "version": 3,
           "type": "comment.rejected", "schema_version": 1,
           "data": {"comment_id": "2b1a1b8e", "reasons": ["off_topic"], "note": "x" * 80,
                    "moderator_id": "maya", "decided_at": "2026-12-03T09:00:00+00:00"},
           "metadata": {"actor": {"id": "maya", "role": "moderator"}},
           "recorded_at": datetime.now(UTC)}
    n = 20000
    started = time.perf_counter()
    previous = chain.GENESIS
    for _ in range(n):
        previous = chain.link_row(previous, row)
    hash_us = (time.perf_counter() - started) / n * 1e6
    record(db, "chain", "hash one event (canonical JSON + SHA-256)", [hash_us], "us")
    record(db, "chain", "hashing's share of an append", [
        100 * hash_us / (1e6 / rate) for rate in after], "%")


def export_probe(settings: Settings, tmp: Path) -> tuple[float, float, int]:
    """Export the whole log in a fresh process: events/s, peak RSS (MB), bytes written."""
    out = tmp / "export.jsonl"
    code = ("import json,resource,time,os;"
            "from service.bootstrap import build;from service.config import Settings;"
            f"s=build(Settings(database_url={settings.database_url!r}));"
            "w=s.exports.window(None,None);t=time.perf_counter();"
            f"f=open({str(out)!r},'wb');[f.write(c) for c in s.exports.stream('jsonl',w)];"
            "f.close();d=time.perf_counter()-t;"
            "print(json.dumps([w.size/d,resource.getrusage(resource.RUSAGE_SELF)"
            f".ru_maxrss/1024,os.path.getsize({str(out)!r})]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MODERATION_LOG_LEVEL": "WARNING"}, cwd=ROOT,
                          check=True)
    rate, peak, size = json.loads(done.stdout.strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    return rate, round(peak, 1), size


def bench_export(db: str, settings: Settings, tmp: Path, sizes: list[int],
                 record: Callable[..., None]) -> None:
    services = build(settings)
    loaded = 0
    try:
        for size in sizes:
            head = bulk_load(services.engine, size - loaded, seed=size)
            loaded = size
            rate, peak, written = export_probe(settings, tmp)
            record(db, "export", f"export {head:,} events (jsonl)", [rate], "events/s",
                   peak_rss_mb=peak, bytes=written)
    finally:
        services.close()
