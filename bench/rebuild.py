"""How fast a rebuild replays a large log on PostgreSQL (or SQLite).

    python -m bench.rebuild load --comments 1000000      # 2.8M events, then one rebuild
    python -m bench.rebuild probe --runs 2 [--tree DIR]  # timed rebuilds with the switch

`load` replaces the tables of BENCH_POSTGRES_URL (or `--url`) with a bulk-loaded log
(bench/bulk.py) of events only, then builds the read models by one rebuild: loading with
the projections applied inline runs at a few thousand events a second, a replay several
times that. `probe` rebuilds, with the switch, in a fresh process per run (its peak
memory is the rebuild's own), and prints events/s with the load average, the CPU seconds
the rebuild's process used and those of the database server's processes for it (on a
shared machine steadier figures than time; the server's only on this machine). `--tree` runs
the rebuild of another checkout of the service (the code before a change) on the same
database, so before and after can alternate in the same minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from service.bootstrap import build
from service.config import Settings

from .bulk import bulk_load
from .run import PG_URL

HERE = Path(__file__).resolve().parent.parent


def load(url: str, comments: int) -> None:
    from service.migrate import upgrade

    # a transaction of ten thousand comments spends a while in Python between statements
    settings = Settings(database_url=url, pool_size=4,
                        pg_idle_in_transaction_timeout_ms=600_000, pg_statement_timeout_ms=0)
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    upgrade(settings)
    services = build(settings)
    t = time.perf_counter()
    head = bulk_load(services.engine, comments, project=False, batch=10000,
                     progress=lambda n: print(f"  loaded {n:,} comments "
                                              f"({time.perf_counter() - t:,.0f} s)",
                                              flush=True) if n % 200000 == 0 else None)
    print(json.dumps({"loaded_events": head, "seconds": round(time.perf_counter() - t, 1)}),
          flush=True)
    services.close()
    print(json.dumps(probe(url, HERE)), flush=True)


class ServerCpu:
    """CPU seconds the database server's processes for this database used meanwhile
    (PostgreSQL on this machine: each backend's /proc entry, sampled every half second,
    so a backend that ends is counted as of its last sample)."""

    def __init__(self, url: str):
        self.seen: dict[int, float] = {}
        self.stopping = threading.Event()
        self.engine = sa.create_engine(url) if url.startswith("postgresql") else None
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        if self.engine is None:
            return
        tick = os.sysconf("SC_CLK_TCK")
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            me = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            while not self.stopping.wait(0.5):
                pids = conn.exec_driver_sql(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> %s", (me,)).scalars().all()
                for pid in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seen[pid] = (int(fields[11]) + int(fields[12])) / tick

    def stop(self) -> float | None:
        self.stopping.set()
        self.thread.join()
        if self.engine is None:
            return None
        self.engine.dispose()
        return round(sum(self.seen.values()), 1)


def probe(url: str, tree: Path, batch_size: int = 5000) -> dict:
    code = ("import json,resource,time,sys;"
            "from service.bootstrap import build;from service.config import Settings;"
            f"s=build(Settings(database_url={url!r}));"
            "t=time.perf_counter();"
            f"r=s.runner.rebuild(s.engine,swap=True,batch_size={batch_size});"
            "d=time.perf_counter()-t;"
            "print(json.dumps({'events':r.events,'seconds':round(d,2),"
            "'events_per_s':round(r.events/d),'identical':r.identical,"
            "'differences':[x.table for x in r.differences],'locked_ms':r.locked_ms,"
            "'cpu_s':round(resource.getrusage(resource.RUSAGE_SELF).ru_utime"
            "+resource.getrusage(resource.RUSAGE_SELF).ru_stime,1),"
            "'peak_rss_mb':round(resource.getrusage(resource.RUSAGE_SELF)"
            ".ru_maxrss/1024,1)}))")
    before = os.getloadavg()
    server = ServerCpu(url)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MODERATION_LOG_LEVEL": "WARNING"},
                          cwd=tree, check=False)
    server_s = server.stop()
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"tree": str(tree), **out, "server_cpu_s": server_s,
            "load_before": round(before[0], 2),
            "load_after": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["load", "probe"])
    parser.add_argument("--url", default=PG_URL)
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--tree", action="append", type=Path,
                        help="checkouts to alternate (default: this one)")
    parser.add_argument("--json", help="append one JSON line per run to this file")
    args = parser.parse_args()
    if args.command == "load":
        load(args.url, args.comments)
        return
    for _ in range(args.runs):
        for tree in args.tree or [HERE]:
            row = probe(args.url, tree.resolve(), args.batch_size)
            print(json.dumps(row), flush=True)
            if args.json:
                with open(args.json, "a") as out:
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
