"""The global event feed's read speed: in-process and over HTTP, on a large log.

    python -m bench.feed grow --url URL --to 2800000   # replicate a bulk-loaded log in SQL
    python -m bench.feed inproc --url URL --runs 3      # queries.feed, 0 -> end, 1,000 a page
    python -m bench.feed http --url URL --runs 2        # GET /v1/events?limit=1000, paged
    python -m bench.feed profile --url URL              # cProfile of one in-process pass

`inproc` reads the log as bench.run's feed figure does (position 0 to the end, pages of
1,000, `services.queries.feed` as an auditor sees it). `http` pages through
`GET /v1/events?limit=1000` with an auditor's token, through Flask's test client
(`--server`: a real gunicorn process, one sync worker, one keep-alive client).

Bulk-loading millions of events with their read models takes an hour on a shared machine;
`grow` copies the events already loaded (a `bench.bulk` log) until the log is `--to`
events long, in SQL: new event ids, stream ids with a suffix (versions stay unique per
stream), positions continued, the same payloads and sealed parts (so the same authors'
keys are looked up). The copies' chain hashes are not recomputed: the feed does not read
them. The read models are not touched (the feed does not read them either).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import os
import pstats
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from urllib.parse import urlsplit

import sqlalchemy as sa

from service.bootstrap import build
from service.config import Settings
from service.db import write_transaction

from .servers import ROOT, free_port

PAGE = 1000


def grow(url: str, to: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        head = conn.exec_driver_sql("SELECT last_position FROM event_store_head").scalar_one()
    base = head
    copy = 0
    while head < to:
        copy += 1
        n = min(base, to - head)
        sqlite = engine.dialect.name == "sqlite"
        # SQLite keeps a UUID as 32 hex digits (SQLAlchemy's Uuid without a native type)
        new_id = "lower(hex(randomblob(16)))" if sqlite else "gen_random_uuid()"
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO events (position, event_id, stream_id, version, type, "
                "schema_version, data, metadata, recorded_at, hash) "
                f"SELECT position + {head}, {new_id}, stream_id || '~{copy}', version, type, "
                "schema_version, data, metadata, recorded_at, hash FROM events "
                f"WHERE position <= {n} ORDER BY position")
            conn.exec_driver_sql(f"UPDATE event_store_head SET last_position = {head + n}")
        head += n
        print(f"grown to {head:,} events", flush=True)
    engine.dispose()


def services_for(url: str):  # noqa: ANN201
    return build(Settings(database_url=url, pool_size=4))


def read_inproc(services, events: int | None = None) -> int:  # noqa: ANN001
    after, count = 0, 0
    while events is None or count < events:
        page = services.queries.feed(after=after, limit=PAGE)
        if not page:
            return count
        count += len(page)
        after = page[-1]["position"]
    return count


def server_cpu(engine) -> float:  # noqa: ANN001
    """CPU seconds the PostgreSQL backends serving this database have used (read from
    /proc: the server runs on this machine), so a figure taken on a loaded machine can say
    what the feed costs apart from waiting for a core."""
    if engine.dialect.name != "postgresql":
        return 0.0
    with engine.connect() as conn:
        pids = conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()").scalars().all()
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def inproc(url: str, runs: int, events: int | None) -> list[tuple[float, float, float]]:
    """Per run: events/s, the client's CPU µs per event, the server's CPU µs per event."""
    services = services_for(url)
    probe = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        rates = []
        for _ in range(runs):
            server = server_cpu(probe)
            cpu = time.process_time()
            t = time.perf_counter()
            n = read_inproc(services, events)
            wall = time.perf_counter() - t
            cpu = time.process_time() - cpu
            server = server_cpu(probe) - server
            rates.append((n / wall, cpu / n * 1e6, server / n * 1e6))
        return rates
    finally:
        probe.dispose()
        services.close()


def auditor_token(services) -> str:  # noqa: ANN001
    from service.identity.tokens import create
    with write_transaction(services.engine) as conn:
        _, secret = create(conn, name="bench-feed", role="auditor",
                           now=services.clock())
    return secret


def next_after(body: bytes) -> int:
    """The page's `next_after`, read from its tail: the client parses nothing else (an
    auditor reads every event, so a page holds next_after - after of them)."""
    tail = body[body.rindex(b'"next_after":') + 13:]
    return int(tail[:tail.index(b"}")])


def read_pages(get, events: int | None) -> tuple[int, int]:  # noqa: ANN001
    """Page through GET /v1/events with `get(path) -> (status, body)`: (last position, bytes)."""
    after, size = 0, 0
    while events is None or after < events:
        status, body = get(f"/v1/events?after={after}&limit={PAGE}")
        assert status == 200, body[:300]
        size += len(body)
        following = next_after(body)
        if following == after:
            break
        after = following
    return after, size


def read_http_client(client, token: str, events: int | None) -> tuple[int, int]:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {token}"}

    def get(path: str) -> tuple[int, bytes]:
        response = client.get(path, headers=headers)
        return response.status_code, response.get_data()

    return read_pages(get, events)


def over_http(url: str, runs: int, server: bool, events: int | None) -> list[float]:
    from service.app import create_app
    services = services_for(url)
    token = auditor_token(services)
    rates = []
    try:
        if server:
            with gunicorn(url) as base:
                parts = urlsplit(base)
                for _ in range(runs):
                    conn = http.client.HTTPConnection(parts.hostname, parts.port)
                    t = time.perf_counter()
                    n, _ = _read_http_server(conn, token, events)
                    rates.append(n / (time.perf_counter() - t))
                    conn.close()
        else:
            app = create_app(services.settings, services)
            client = app.test_client()
            for _ in range(runs):
                t = time.perf_counter()
                n, _ = read_http_client(client, token, events)
                rates.append(n / (time.perf_counter() - t))
        return rates
    finally:
        services.close()


@contextmanager
def gunicorn(url: str):  # noqa: ANN201
    """One sync gunicorn worker on the app factory (`moderation serve` would first replay
    the read models that a grown log leaves behind; the feed does not read them)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "MODERATION_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--keep-alive", "30", "service.app:create_app_from_env()"],
        env=env, cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def _read_http_server(conn, token: str, events: int | None) -> tuple[int, int]:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {token}"}

    def get(path: str) -> tuple[int, bytes]:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    return read_pages(get, events)


def profile(url: str, out: str | None, events: int | None) -> None:
    services = services_for(url)
    try:
        read_inproc(services, events)  # warm
        profiler = cProfile.Profile()
        t = time.perf_counter()
        profiler.enable()
        n = read_inproc(services, events)
        profiler.disable()
        print(f"{n:,} events in {time.perf_counter() - t:.2f} s (profiled)")
        stats = pstats.Stats(profiler)
        if out:
            stats.dump_stats(out)
        stats.sort_stats("tottime").print_stats(25)
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["grow", "inproc", "http", "profile"])
    parser.add_argument("--url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench"))
    parser.add_argument("--to", type=int, default=2_800_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server", action="store_true")
    parser.add_argument("--out")
    parser.add_argument("--events", type=int, help="stop after this many (default: the end)")
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    if args.what == "grow":
        grow(args.url, args.to)
        return
    if args.what == "profile":
        profile(args.url, args.out, args.events)
        return
    if args.what == "inproc":
        figures = inproc(args.url, args.runs, args.events)
        rates = [r for r, _, _ in figures]
        cpu = (f"client {statistics.median(c for _, c, _ in figures):.1f} µs/event, server "
               f"{statistics.median(s for _, _, s in figures):.1f} µs/event")
    else:
        rates, cpu = over_http(args.url, args.runs, args.server, args.events), ""
    load = os.getloadavg()[0]
    print(f"{args.label:8} {args.what:6} {sa.make_url(args.url).get_backend_name():10} "
          f"median {statistics.median(rates):>10,.0f} events/s  "
          f"runs {', '.join(f'{r:,.0f}' for r in rates)}  {cpu}  load {load:.1f}", flush=True)


if __name__ == "__main__":
    main()
