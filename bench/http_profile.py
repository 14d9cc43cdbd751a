"""Where a submission's CPU goes in a real server: `moderation serve` (gunicorn, gevent)
under the closed-loop load of bench/http_load.py, sampled by py-spy.

    pip install py-spy
    python -m bench.http_profile [--db sqlite|postgres] [--workers 1] [--clients 4]

Prints CPU per request of the server's workers (from /proc, exact), of the database
server's backends (PostgreSQL) and of the load generator, then the workers' samples split
by component (the command, Flask-Limiter, flask-smorest and marshmallow, body parsing,
metrics, logging, Flask and werkzeug, gunicorn and gevent). Needs root or ptrace rights.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .http_load import run_load
from .servers import running

# First match wins, outermost first: a stack under the command is the command's, whatever
# library it is in at the leaf.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("command (submit_comment)", ("submit_comment (",)),
    ("Flask-Limiter + limits", ("flask_limiter/", "limits/")),
    ("body parsing (parse_body)", ("parse_body (",)),
    ("flask-smorest, webargs, marshmallow", ("flask_smorest/", "webargs/", "marshmallow/")),
    ("metrics (prometheus)", ("prometheus_client/", "service/metrics.py")),
    ("logging (access log)", ("logging/", "glogging.py")),
    ("other API code (service/api)", ("service/api/",)),
    ("Flask + werkzeug", ("flask/", "werkzeug/")),
    ("gunicorn + gevent (HTTP parsing, I/O)", ("gunicorn/", "gevent/")),
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def postgres_backends(database: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"postgres: .* {database} "], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def component(stack: str) -> str:
    for name, needles in COMPONENTS:
        if any(needle in stack for needle in needles):
            return name
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400, help="per client")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--kind", choices=["service", "baseline"], default="service",
                        help="baseline: the same stack's one plain INSERT (bench/baseline.py)")
    parser.add_argument("--stacks", help="also write the collapsed stacks to this file")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))

    from .run import PG_URL, fresh, submission_plan
    with tempfile.TemporaryDirectory() as tmp_dir:
        settings = fresh(args.db, Path(tmp_dir))
        plan = submission_plan(settings)
        with running(args.kind, settings.database_url, args.workers, pid_out=True) as (
                base, master):
            run_load(base, [plan(30) for _ in range(args.clients)])  # warm up
            workers = children(master)
            database = PG_URL.rsplit("/", 1)[1] if args.db == "postgres" else None
            backends = postgres_backends(database) if database else []
            raw = Path(tmp_dir) / "stacks.txt"
            spies = [subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--rate", str(args.rate), "--format",
                 "raw", "--output", f"{raw}.{pid}", "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in workers]
            time.sleep(1.5)  # py-spy attaches
            before = {pid: cpu_seconds(pid) for pid in workers + backends}
            own = os.times()
            result = run_load(base, [plan(args.requests) for _ in range(args.clients)])
            after = {pid: cpu_seconds(pid) for pid in workers + backends}
            own_after = os.times()
            for spy in spies:
                spy.send_signal(2)
            for spy in spies:
                spy.wait(timeout=60)
        report(args, result, workers, backends, before, after, own, own_after, raw)


def report(args, result, workers, backends, before, after, own, own_after, raw):  # noqa: ANN001, ANN201, PLR0913
    n = result.requests
    worker_cpu = sum(after[p] - before[p] for p in workers)
    db_cpu = sum(after[p] - before[p] for p in backends)
    client_cpu = (own_after.children_user + own_after.children_system
                  - own.children_user - own.children_system)
    print(f"{args.db}, {args.kind}: {n} submissions, {result.rps:.0f} req/s, statuses "
          f"{result.statuses}, load average {os.getloadavg()[0]:.2f}")
    print(f"  CPU per request: server workers {worker_cpu / n * 1000:.2f} ms, database "
          f"{db_cpu / n * 1000:.2f} ms, load generator {client_cpu / n * 1000:.2f} ms")
    samples: Counter[str] = Counter()
    for pid in workers:
        path = Path(f"{raw}.{pid}")
        if not path.exists():
            continue
        text = path.read_text()
        if args.stacks:
            with open(args.stacks, "a") as out:
                out.write(text)
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            samples[component(stack)] += int(count)
    total = sum(samples.values()) or 1
    print(f"  server workers' samples ({total}), share and ms per request of the measured "
          "worker CPU:")
    for name, count in samples.most_common():
        print(f"    {name:42} {count / total:6.1%} {count / total * worker_cpu / n * 1000:6.3f}")


if __name__ == "__main__":
    main()
