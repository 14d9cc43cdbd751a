"""Benchmarks: how fast the service is, how it scales, on SQLite and PostgreSQL.

    python -m bench.run                      # everything, both databases (long: ~1 hour)
    python -m bench.run --quick              # small sizes, a few minutes
    python -m bench.run --db postgres --only appends,reads --sizes 10000,100000

Prints a table per section and, with --json FILE, one JSON line per figure. Each figure
is the median of --runs runs with its min and max. PostgreSQL runs against
BENCH_POSTGRES_URL (default: database `bench` on the local server), whose tables it
replaces; SQLite runs in a temporary file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from service.bootstrap import Services, build
from service.config import Settings
from service.db import read_transaction, write_transaction
from service.eventstore import ANY, NewEvent
from service.migrate import upgrade

from .bulk import bulk_load
from .http_load import run_load
from .servers import running

PG_URL = os.environ.get("BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
RESULTS: list[dict] = []


def machine() -> dict:
    info = {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip()
                           for line in Path("/proc/cpuinfo").read_text().splitlines()
                           if line.startswith("model name"))
        mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text()
                          .splitlines() if line.startswith("MemTotal")))
        info["memory_gb"] = round(mem_kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    return info


def record(db: str, section: str, name: str, values: list[float], unit: str,
           **extra: object) -> None:
    row = {"db": db, "section": section, "name": name, "unit": unit,
           "median": round(statistics.median(values), 2), "min": round(min(values), 2),
           "max": round(max(values), 2), "runs": len(values), **extra}
    RESULTS.append(row)
    more = " ".join(f"{k}={v}" for k, v in extra.items())
    print(f"  {db:8} {section:10} {name:44} {row['median']:>12,.2f} {unit:10} "
          f"[{row['min']:,.2f} .. {row['max']:,.2f}] {more}", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def fresh(db: str, tmp: Path) -> Settings:
    if db == "sqlite":
        path = tmp / f"bench-{uuid.uuid4().hex[:6]}.db"
        settings = Settings(database_url=f"sqlite:///{path}", pool_size=12)
    else:
        settings = Settings(database_url=PG_URL, pool_size=12)
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    upgrade(settings)
    return settings


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- sections ---------------------------------------------------------------------------
def bench_appends(db: str, tmp: Path, runs: int, count: int) -> None:
    settings = fresh(db, tmp)
    services = build(settings)
    try:
        for writers in (1, 8):
            rates = []
            for _ in range(runs):
                per = count // writers

                def writer(n: int, per: int = per) -> None:
                    for i in range(per):
                        with write_transaction(services.engine) as conn:
                            services.store.append(conn, f"bench-{n}-{i % 50}", [
                                NewEvent("bench.appended", {"n": n, "i": i})], ANY)

                seconds = timed(lambda w=writers: list(
                    ThreadPoolExecutor(w).map(writer, range(w))))
                rates.append(per * writers / seconds)
            record(db, "appends", f"append 1 event per tx, {writers} writer(s)", rates,
                   "events/s")
    finally:
        services.close()


def bench_reads(db: str, tmp: Path, runs: int, sizes: list[int]) -> None:
    settings = fresh(db, tmp)
    services = build(settings)
    loaded = 0
    try:
        for size in sizes:
            t = time.perf_counter()
            head = bulk_load(services.engine, size - loaded, seed=size)
            load_s = time.perf_counter() - t
            record(db, "load", f"bulk load to {size:,} comments", [head / load_s],
                   "events/s", events=head)
            loaded = size
            rebuild_rate, peak_mb = rebuild_probe(settings)
            record(db, "rebuild", f"rebuild {head:,} events", [rebuild_rate], "events/s",
                   peak_rss_mb=peak_mb)
            read_latencies(db, services, size, runs)
            feed_rate(db, services, head, size)
    finally:
        services.close()


def rebuild_probe(settings: Settings) -> tuple[float, float]:
    """Rebuild in a fresh process, so its peak memory is the rebuild's own."""
    code = ("import json,resource,time,sys;"
            "from service.bootstrap import build;from service.config import Settings;"
            f"s=build(Settings(database_url={settings.database_url!r}));"
            "t=time.perf_counter();r=s.runner.rebuild(s.engine,swap=True,batch_size=5000);"
            "d=time.perf_counter()-t;"
            "print(json.dumps([r.events/d,resource.getrusage(resource.RUSAGE_SELF)"
            ".ru_maxrss/1024]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MODERATION_LOG_LEVEL": "WARNING"},
                          cwd=Path(__file__).resolve().parent.parent, check=True)
    rate, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return rate, round(peak, 1)


def read_latencies(db: str, services: Services, size: int, runs: int) -> None:
    q = services.queries
    with read_transaction(services.engine) as conn:
        positions = [r[0] for r in conn.execute(sa.text(
            "SELECT submitted_position FROM moderation_queue ORDER BY submitted_position"))]
        article = conn.execute(sa.text(
            "SELECT article_id FROM articles ORDER BY approved DESC LIMIT 1")).scalar_one()
        thread = [r[0] for r in conn.execute(sa.text(
            "SELECT submitted_position FROM public_comments WHERE article_id = :a AND "
            "approved_at IS NOT NULL ORDER BY submitted_position"), {"a": article})]
        some = [r[0] for r in conn.execute(sa.text(
            "SELECT comment_id FROM comment_state ORDER BY last_position LIMIT 200"))]
    deep = positions[int(len(positions) * 0.9)] if positions else None
    deep_thread = thread[int(len(thread) * 0.9)] if thread else None
    cases = {
        "queue first page (50)": lambda: q.queue(limit=50),
        "queue deep page (90% in, keyset)": lambda: q.queue(limit=50, after=deep),
        "queue by risk, first page": lambda: q.queue(sort="risk", limit=50),
        "public thread first page": lambda: q.public_thread(article, limit=50),
        "public thread deep page": lambda: q.public_thread(article, after=deep_thread,
                                                           limit=50),
        "comment history": lambda: q.history(random.choice(some)),
    }
    for name, call in cases.items():
        call()  # warm
        lat = [timed(call) * 1000 for _ in range(200)]
        record(db, "reads", f"{name} @ {size:,}", [statistics.median(lat)], "ms p50",
               p99_ms=round(percentile(lat, 0.99), 2), size=size)


def feed_rate(db: str, services: Services, head: int, size: int) -> None:
    def read_all() -> None:
        after = 0
        while True:
            page = services.queries.feed(after=after, limit=1000)
            if not page:
                return
            after = page[-1]["position"]

    record(db, "feed", f"feed 0 -> end ({head:,} events) @ {size:,}",
           [head / timed(read_all)], "events/s")


def submission_plan(settings: Settings) -> Callable[[int], list[tuple]]:
    """An article to comment on and the baseline's table, in a fresh database; then
    plan(n) is n submissions of the same Kurdish-and-English comment."""
    from service.application.commands import Actor, Context, RegisterArticle

    from .baseline import create_table
    services = build(settings)
    services.moderation.register_article(RegisterArticle("bench", "Bench"),
                                         Context(Actor("bench", "admin")))
    services.close()
    create_table(settings)
    body = {"author": {"name": "Hêvî"}, "body": "ئەم هەواڵە زۆر گرنگە — a fair point."}

    def plan(n: int) -> list[tuple]:
        return [("POST", "/v1/articles/bench/comments", body, {}) for _ in range(n)]

    return plan


def bench_http(db: str, tmp: Path, runs: int, clients: int, per_client: int,
               workers: int) -> None:
    settings = fresh(db, tmp)
    plan = submission_plan(settings)
    figures = {}
    for kind in ("baseline", "service"):
        with running(kind, settings.database_url, workers) as base:
            run_load(base, [plan(20) for _ in range(clients)])  # warm up
            rates, p50s, p99s, errors = [], [], [], 0
            for _ in range(runs):
                result = run_load(base, [plan(per_client) for _ in range(clients)])
                rates.append(result.rps)
                p50s.append(percentile(result.latencies_ms, 0.5))
                p99s.append(percentile(result.latencies_ms, 0.99))
                errors += result.errors + sum(n for c, n in result.statuses.items()
                                              if c != 202)
        figures[kind] = statistics.median(rates)
        record(db, "http", f"POST comment, {kind}, {clients} clients, {workers} workers",
               rates, "req/s", p50_ms=round(statistics.median(p50s), 1),
               p99_ms=round(statistics.median(p99s), 1), errors=errors)
    record(db, "http", "service / baseline throughput", [figures["service"] /
                                                         figures["baseline"]], "ratio")
    bench_decisions(db, settings, runs, clients, workers)


def bench_decisions(db: str, settings: Settings, runs: int, clients: int,
                    workers: int) -> None:
    """Moderators approving under concurrency, half of them racing for the same comments."""
    from service.application.commands import Context, SubmitComment
    from service.db import write_transaction as wt
    from service.identity import tokens

    services = build(settings)
    with wt(services.engine) as conn:
        _, token = tokens.create(conn, name="bench-mod", role="moderator",
                                 now=services.clock())
    rates, conflicts = [], []
    try:
        with running("service", settings.database_url, workers) as base:
            for _ in range(runs):
                ids = [services.moderation.submit_comment(
                    SubmitComment("bench", "Reader", f"comment {i}"), Context()).id
                    for i in range(clients * 20)]
                headers = {"Authorization": f"Bearer {token}", "If-Match": '"2"'}
                plans = []
                for c in range(clients):
                    # even clients race each other for the same comments
                    mine = ids[: len(ids) // 2] if c % 2 == 0 else ids[len(ids) // 2:]
                    mine = mine[c // 2::max(1, clients // 2)] if c % 2 else mine[:20]
                    plans.append([("POST", f"/v1/comments/{i}/approve", {}, headers)
                                  for i in mine])
                result = run_load(base, plans)
                rates.append(result.rps)
                conflicts.append(result.statuses.get(409, 0))
                assert result.errors == 0, result.statuses
    finally:
        services.close()
    record(db, "http", f"approve, {clients} clients (half racing)", rates, "req/s",
           conflicts_409=int(statistics.median(conflicts)))


def bench_webhooks(db: str, tmp: Path, runs: int, deliveries: int) -> None:
    """Deliveries/s to a local receiver, with one and with several dispatcher processes."""
    import http.server
    import socketserver

    from service.application.commands import Actor, Context, RegisterArticle, SubmitComment
    from service.webhooks import endpoints

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        request_queue_size = 128  # several dispatchers connect at once

    receiver = Server(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    env = {**os.environ, "MODERATION_WEBHOOK_ALLOW_LOOPBACK": "1",
           "MODERATION_LOG_LEVEL": "WARNING"}
    try:
        for dispatchers in (1, 4):
            rates = []
            for _ in range(runs):
                settings = fresh(db, tmp)
                env["DATABASE_URL"] = settings.database_url
                services = build(settings)
                with write_transaction(services.engine) as conn:
                    endpoints.create(conn, url=url, event_types=["comment.submitted"],
                                     now=services.clock())
                services.moderation.register_article(RegisterArticle("bench", "Bench"),
                                                     Context(Actor("bench", "admin")))
                for i in range(deliveries):
                    services.moderation.submit_comment(
                        SubmitComment("bench", "Reader", f"comment {i}"), Context())
                services.close()
                t = time.perf_counter()
                workers = [subprocess.Popen(
                    [sys.executable, "-m", "service.cli", "webhooks", "work", "--once",
                     "--concurrency", "8"], env=env,
                    cwd=Path(__file__).resolve().parent.parent,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for _ in range(dispatchers)]
                for worker in workers:
                    worker.wait(timeout=600)
                rates.append(deliveries / (time.perf_counter() - t))
                with read_transaction(build(settings).engine) as conn:
                    states = dict(conn.execute(sa.text(
                        "SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
                    ).all())
                assert states.get("succeeded") == deliveries, states
            record(db, "webhooks", f"deliveries, {dispatchers} dispatcher process(es)", rates,
                   "deliveries/s", deliveries=deliveries, note="includes process start-up")
    finally:
        receiver.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--only", default="appends,reads,http,webhooks",
                        help="comma-separated sections: appends, reads, http, webhooks, "
                        "peer (the write path beside the eventsourcing library), "
                        "audit (the hash chain's cost per append; exports at --sizes)")
    parser.add_argument("--deliveries", type=int, default=1000,
                        help="webhook deliveries per run")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comment counts for the read benchmarks")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=150, help="per client and run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--quick", action="store_true",
                        help="sizes 2000,20000, fewer requests: a smoke run")
    parser.add_argument("--json", help="write one JSON line per figure to this file")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.requests, args.appends, args.runs = "2000,20000", 50, 500, 2
        args.deliveries = 200
    sizes = [int(s) for s in args.sizes.split(",")]
    only = set(args.only.split(","))
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    print(json.dumps({"machine": machine()}))
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for db in dbs:
            print(f"== {db}")
            if "appends" in only:
                bench_appends(db, tmp, args.runs, args.appends)
            if "reads" in only:
                bench_reads(db, tmp, args.runs, sizes)
            if "http" in only:
                bench_http(db, tmp, args.runs, args.clients, args.requests, args.workers)
            if "webhooks" in only:
                bench_webhooks(db, tmp, args.runs, args.deliveries)
            if "audit" in only:  # see bench/audit.py
                from . import audit
                audit.bench_chain(db, lambda db=db: fresh(db, tmp), args.runs, args.appends,
                                  record)
                audit.bench_export(db, fresh(db, tmp), tmp, sizes, record)
            if "peer" in only:  # needs .[bench]; see bench/peer.py
                from . import peer
                for row in peer.bench(db, tmp, args.appends // 5, args.runs, peer.print_row):
                    RESULTS.append({"section": "peer", **row})
    if args.json:
        with open(args.json, "w") as out:
            for row in RESULTS:
                out.write(json.dumps(row) + "\n")
    print("\n" + json.dumps({"results": len(RESULTS)}))


if __name__ == "__main__":
    main()
