"""How long appends pause while a rebuild runs and swaps its read models in.

    python -m bench.pause [--db sqlite|postgres|both] [--comments 20000] [--runs 2]

A log of `--comments` comments is bulk-loaded (bench/bulk.py) and its read models built
by one rebuild. Then, for each run, a writer process submits comments through the real
command path (screening, sealing, inline projections, outbox; one transaction each) as fast
as it can while this process rebuilds with `swap=True`. The writer records when each
submission returns; the longest gap between two of them is the longest pause an append
saw. Printed: the gap before the rebuild (the writer's own jitter), the longest gap during
the rebuild, the longest gap in its last phase (after the last replay batch: the final
catch-up and the swap), the longest gap spanning the switch's own transaction (the tail,
the switch, the checkpoints, the commit; timed here, on the same monotonic clock as the
writer's), the writer's median time per submission, how long the rebuild held the append
lock (where the runner reports it), and failed submissions (a lock timeout is a failure).
PostgreSQL runs against BENCH_POSTGRES_URL, whose tables it replaces.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

from service.application.commands import Context, SubmitComment
from service.bootstrap import build
from service.config import Settings

from .bulk import bulk_load
from .run import fresh


def _writer(url: str, stop, out) -> None:  # noqa: ANN001 - a spawned process
    """Submit comments until told to stop; hand back when each returned (and failures)."""
    services = build(Settings(database_url=url))
    done: list[float] = []
    failures: list[str] = []
    i = 0
    try:
        while not stop.is_set():
            try:
                services.moderation.submit_comment(
                    SubmitComment(f"bench-{i % 50}", "Writer", f"A comment while rebuilding {i}"),
                    Context())
            except Exception as exc:  # noqa: BLE001 - counted, the bench goes on
                failures.append(type(exc).__name__)
            done.append(time.monotonic())
            i += 1
    finally:
        services.close()
        out.put((done, failures))


def one_run(services, seconds_before: float = 1.5) -> dict:  # noqa: ANN001
    """The writer is another process, as the service's workers are: in this one it would
    share the interpreter lock with the rebuild, and its gaps would measure that."""
    ctx = multiprocessing.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    writer = ctx.Process(target=_writer, args=(services.settings.database_url, stop, out))
    writer.start()
    time.sleep(seconds_before + 2.0)  # its start-up, then some steady appends
    batches: list[float] = []
    switches: list[tuple[float, float]] = []  # each attempt at the switch, start and end
    runner = services.runner
    name = "_switch_postgres" if services.engine.dialect.name == "postgresql" \
        else "_switch_sqlite"
    original = getattr(runner, name)

    def timed_switch(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        begun = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            switches.append((begun, time.monotonic()))

    setattr(runner, name, timed_switch)
    started = time.monotonic()
    report = services.runner.rebuild(services.engine, swap=True, batch_size=5000,
                                     progress=lambda n, total: batches.append(
                                         time.monotonic()))
    ended = time.monotonic()
    delattr(runner, name)
    time.sleep(0.5)
    stop.set()
    done, failures = out.get()
    writer.join()

    def longest(a: float, b: float) -> float:
        inside = [t for t in done if a <= t <= b]
        after = next((t for t in done if t > b), b)
        before = [t for t in done if t < a][-1:] or [a]
        points = before + inside + [after]
        return max((y - x for x, y in zip(points, points[1:], strict=False)), default=0.0)

    def around(a: float, b: float) -> float:
        """The longest gap between two submissions returning that spans part of [a, b]."""
        points = [t for t in done if t < a][-1:] + [t for t in done if a <= t <= b] + \
            [next((t for t in done if t > b), b)]
        return max((y - x for x, y in zip(points, points[1:], strict=False)), default=0.0)

    # the last phase: from the last replay batch of the bulk (the tail's progress report
    # comes after the final catch-up) to the rebuild's end
    last_batch = batches[-2] if len(batches) >= 2 else started
    return {
        "events": report.events,
        "rebuild_s": round(ended - started, 2),
        "rebuild_events_per_s": round(report.events / (ended - started)),
        "append_lock_held_ms": getattr(report, "locked_ms", None),
        "gap_before_ms": round(longest(started - seconds_before, started) * 1000, 1),
        "gap_during_ms": round(longest(started, ended) * 1000, 1),
        "gap_last_phase_ms": round(longest(last_batch, ended) * 1000, 1),
        # the switch's own transaction (the tail, the switch, the checkpoints, the commit)
        "gap_switch_ms": round(max(around(a, b) for a, b in switches) * 1000, 1),
        "writer_median_ms": round(statistics.median(
            y - x for x, y in zip(done, done[1:], strict=False)) * 1000, 1),
        "submissions_during": sum(1 for t in done if started <= t <= ended),
        "failures": len(failures),
        "identical": report.identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--comments", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        for db in dbs:
            settings = fresh(db, Path(tmp))
            services = build(settings)
            try:
                head = bulk_load(services.engine, args.comments)
                services.runner.rebuild(services.engine, swap=True, batch_size=5000)
                rows = [one_run(services) for _ in range(args.runs)]
            finally:
                services.close()
            for row in rows:
                print(json.dumps({"db": db, "log_events": head, **row}), flush=True)
            print(f"{db:8} log {head:,} events: longest append pause during a rebuild "
                  f"{statistics.median(r['gap_during_ms'] for r in rows):,.1f} ms (median "
                  f"of {len(rows)}), in its last phase (catch-up and swap) "
                  f"{statistics.median(r['gap_last_phase_ms'] for r in rows):,.1f} ms, "
                  f"append lock held {[r['append_lock_held_ms'] for r in rows]} ms, "
                  f"pause across the switch {[r['gap_switch_ms'] for r in rows]} ms, "
                  f"before it {statistics.median(r['gap_before_ms'] for r in rows):,.1f} ms; "
                  f"failed submissions {sum(r['failures'] for r in rows)}", flush=True)


if __name__ == "__main__":
    main()
