"""Open event streams against ordinary requests: with N streams open on one server, does
the API keep its latency, and does every stream receive every event, in order?

    .venv/bin/python -m bench.streams [--streams 200] [--requests 300] [--events 100]

Starts `moderation serve` (the configured worker class) on a fresh SQLite file or on
BENCH_POSTGRES_URL with --postgres, measures GET /v1/queue latency with no stream open,
then opens the streams, measures again while idle and while comments are being submitted,
and checks each stream's positions against the log.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from .servers import ROOT, running

ARTICLE = "bench-streams"


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def latencies(base: str, token: str, count: int) -> list[float]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    out = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("GET", "/v1/queue?limit=20", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        out.append((time.perf_counter() - started) * 1000)
    conn.close()
    return out


def log_head(base: str) -> int:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", "/readyz")
    head = json.loads(conn.getresponse().read())["log_head"]
    conn.close()
    return head


def summary(values: list[float]) -> str:
    values = sorted(values)
    return (f"p50 {statistics.median(values):.1f} ms, "
            f"p95 {values[int(len(values) * 0.95) - 1]:.1f} ms")


class Follower(threading.Thread):
    def __init__(self, base: str, token: str, after: int):
        super().__init__(daemon=True)
        self.parts = urlsplit(base)
        self.token = token
        self.after = after
        self.positions: list[int] = []
        self.connected = threading.Event()
        self.error: str | None = None
        self.stop = False

    def run(self) -> None:
        try:
            conn = http.client.HTTPConnection(self.parts.hostname, self.parts.port, timeout=60)
            conn.request("GET", f"/v1/events/stream?after={self.after}",
                         headers={"Authorization": f"Bearer {self.token}"})
            response = conn.getresponse()
            if response.status != 200:
                self.error = f"HTTP {response.status}"
                self.connected.set()
                return
            self.connected.set()
            while not self.stop:
                line = response.fp.readline()
                if not line:
                    return
                if line.startswith(b"id: "):
                    self.positions.append(int(line[4:]))
        except Exception as exc:  # noqa: BLE001 - reported
            self.error = repr(exc)
            self.connected.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--events", type=int, default=100, help="comments submitted live")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    if args.postgres:
        url = os.environ.get("BENCH_POSTGRES_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    else:
        url = f"sqlite:///{tmp / 'streams.db'}"
    env = {**os.environ, "DATABASE_URL": url, "MODERATION_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    cli(env, "db", "upgrade")
    cli(env, "seed")
    cli(env, "articles", "register", ARTICLE, "--title", "Streams")
    token = cli(env, "tokens", "create", "--name", "bench-mod", "--role", "moderator")
    with running("service", url, args.workers) as base:
        parts = urlsplit(base)
        latencies(base, token, 30)  # warm up
        quiet = latencies(base, token, args.requests)

        def submit(tag: str) -> None:
            c = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            for n in range(args.events):
                body = json.dumps({"author": {"name": f"Reader {n}"}, "body": f"{tag} {n}"})
                c.request("POST", f"/v1/articles/{ARTICLE}/comments", body=body,
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                assert r.status == 202, r.status
                time.sleep(0.02)

        def while_writing(tag: str) -> list[float]:
            writer = threading.Thread(target=submit, args=(tag,))
            writer.start()
            measured = latencies(base, token, args.requests)
            writer.join()
            return measured

        quiet_busy = while_writing("quiet")
        head = log_head(base)
        followers = [Follower(base, token, head) for _ in range(args.streams)]
        for follower in followers:
            follower.start()
        for follower in followers:
            follower.connected.wait(30)
        refused = [f.error for f in followers if f.error]
        time.sleep(1)
        idle = latencies(base, token, args.requests)

        busy = while_writing("live")
        final = log_head(base)
        expected = list(range(head + 1, final + 1))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
                f.positions != expected for f in followers if not f.error):
            time.sleep(0.2)
        complete = sum(1 for f in followers if f.positions == expected)
        for follower in followers:
            follower.stop = True
    ratio_idle = statistics.median(idle) / statistics.median(quiet)
    ratio_busy = statistics.median(busy) / statistics.median(quiet_busy)
    print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}, "
          f"{args.workers} workers, {args.streams} streams ({len(refused)} refused)")
    print(f"GET /v1/queue, no stream open:        {summary(quiet)}")
    print(f"GET /v1/queue, streams open, idle:    {summary(idle)}  ({ratio_idle:.2f}x)")
    print(f"while {args.events} comments are submitted, no stream: {summary(quiet_busy)}")
    print(f"while {args.events} comments are submitted, streams open: {summary(busy)}  "
          f"({ratio_busy:.2f}x)")
    print(f"streams that received every one of the {len(expected)} events in order: "
          f"{complete} of {args.streams}")


if __name__ == "__main__":
    main()
