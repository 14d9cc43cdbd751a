"""The write path side by side with the reference library (`pip install -e .[bench]`).

    python -m bench.peer                          # both databases, 1, 4 and 8 threads
    python -m bench.peer --db postgres --ops 800 --runs 3

In one process, against one database server, each operation one transaction, no HTTP:

- library save:     `eventsourcing` saves a new aggregate of one event
- library get+save: it loads an aggregate of one event, triggers one more and saves it
- ours append:      `EventStore.append` of one event to a new stream
- ours submit:      `submit_comment` (submitted + screened, sealing, inline projections,
                    webhook outbox)
- ours approve:     `approve` of a pending comment (load, decide, append, projections)
- raw commit:       psycopg INSERT of one row + COMMIT on one connection (PostgreSQL)

Each figure is the median of `--runs` runs (operations per second over the wall clock of
all threads, and the median run's p50 and p99 latency); ratios are ours over the library's
save (append, submit) or get+save (approve). The operations of one thread count run one
after another in the same run, so a noisy neighbour slows all of them alike. PostgreSQL
runs in BENCH_POSTGRES_URL (its public schema is replaced), SQLite in temporary files.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from service.application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    SubmitComment,
)
from service.bootstrap import Services, build
from service.config import Settings
from service.db import write_transaction
from service.eventstore import NO_STREAM, NewEvent
from service.migrate import upgrade

PG_URL = os.environ.get("BENCH_POSTGRES_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/bench")
THREADS = (1, 4, 8)
BODY = "A fair point about the council's budget, though the figures for 2025 look off."
MODERATOR = Context(Actor("bench-moderator", "moderator"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_threads(threads: int, ops: int, op: Callable[[int, int], object]
                ) -> tuple[float, list[float]]:
    """`ops` calls of op(thread, i) spread over `threads` threads: (ops/s, latencies ms)."""
    per = max(1, ops // threads)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads + 1)

    def work(n: int) -> None:
        start.wait()
        mine = latencies[n]
        try:
            for i in range(per):
                t = time.perf_counter()
                op(n, i)
                mine.append((time.perf_counter() - t) * 1000)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise errors[0]
    flat = [x for lat in latencies for x in lat]
    return len(flat) / seconds, flat


# -- the library ------------------------------------------------------------------------
_LIBRARY: dict[str, type] = {}


def library_types() -> tuple[type, type]:
    """The library's aggregate and application, defined once (it registers topics)."""
    if not _LIBRARY:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event

        class Note(Aggregate):
            @event("Written")
            def __init__(self, text: str):
                self.text = text
                self.approved = False

            @event("Approved")
            def approve(self, by: str) -> None:
                self.approved = True
                self.by = by

        class Notes(Application):
            pass

        _LIBRARY.update(note=Note, app=Notes)
    return _LIBRARY["app"], _LIBRARY["note"]


def library_app(db: str, tmp: Path):  # noqa: ANN201
    notes, note = library_types()
    if db == "sqlite":
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(tmp / f"library-{uuid.uuid4().hex[:6]}.db")}
    else:
        url = sa.make_url(PG_URL)
        env = {"PERSISTENCE_MODULE": "eventsourcing.postgres",
               "POSTGRES_DBNAME": url.database, "POSTGRES_HOST": url.host or "127.0.0.1",
               "POSTGRES_PORT": str(url.port or 5432), "POSTGRES_USER": url.username or "",
               "POSTGRES_PASSWORD": url.password or "", "POSTGRES_POOL_SIZE": "10",
               "POSTGRES_MAX_OVERFLOW": "10"}
    return notes(env=env), note


# -- ours -------------------------------------------------------------------------------
def fresh(db: str, tmp: Path, suffix: str = "") -> Settings:
    """A new schema. Bare appends get a database of their own (`suffix`): events appended
    outside the command handlers leave the inline projections behind, which then refuse
    the next command (by design)."""
    if db == "sqlite":
        settings = Settings(database_url=f"sqlite:///{tmp}/ours{suffix}-{uuid.uuid4().hex[:6]}"
                            ".db", pool_size=12)
    else:
        url = sa.make_url(PG_URL)
        url = url.set(database=url.database + suffix)
        if suffix:
            admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"),
                                    {"d": url.database}).first():
                    conn.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
            admin.dispose()
        settings = Settings(database_url=url.render_as_string(hide_password=False),
                            pool_size=12)
        engine = sa.create_engine(settings.database_url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        engine.dispose()
    upgrade(settings)
    return settings


def submit(services: Services) -> str:
    return services.moderation.submit_comment(
        SubmitComment("bench", "Reader", BODY), Context()).id


def raw_commit_rate(ops: int) -> tuple[float, list[float]]:
    import psycopg

    url = sa.make_url(PG_URL)
    with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                         password=url.password, dbname=url.database) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, "
                     "body text NOT NULL)")
        conn.commit()

        def op(_n: int, i: int) -> None:
            conn.execute("INSERT INTO bench_raw (body) VALUES (%s)", (BODY,))
            conn.commit()

        return run_threads(1, ops, op)


def bench(db: str, tmp: Path, ops: int, runs: int,
          emit: Callable[[dict], None], threads_list: tuple[int, ...] = THREADS,
          raw: bool = True) -> list[dict]:
    settings = fresh(db, tmp)
    services = build(settings)
    bare = build(fresh(db, tmp, "_append"))
    app, note = library_app(db, tmp)
    services.moderation.register_article(RegisterArticle("bench", "Bench"),
                                         Context(Actor("bench", "admin")))
    rows: list[dict] = []
    try:
        for threads in threads_list:
            samples: dict[str, list[tuple[float, list[float]]]] = {}
            for _ in range(runs):
                per = max(1, ops // threads)
                # what get+save and approve work on, made untimed
                notes = []
                for _ in range(threads):
                    mine = []
                    for _ in range(per):
                        n = note("draft")
                        app.save(n)
                        mine.append(n.id)
                    notes.append(mine)
                pending = [[submit(services) for _ in range(per)] for _ in range(threads)]

                def lib_get_save(n: int, i: int, notes: list = notes) -> None:
                    aggregate = app.repository.get(notes[n][i])
                    aggregate.approve("bench")
                    app.save(aggregate)

                def append(n: int, i: int) -> None:
                    with write_transaction(bare.engine) as conn:
                        bare.store.append(conn, f"bench-{uuid.uuid4()}", [
                            NewEvent("bench.appended", {"n": n, "i": i})], NO_STREAM)

                def approve(n: int, i: int, pending: list = pending) -> None:
                    services.moderation.approve(ApproveComment(pending[n][i], 2), MODERATOR)

                cases = {
                    "library save": lambda n, i: app.save(note(BODY)),
                    "ours append": append,
                    "ours submit": lambda n, i: submit(services),
                    "library get+save": lib_get_save,
                    "ours approve": approve,
                }
                for name, op in cases.items():
                    samples.setdefault(name, []).append(run_threads(threads, ops, op))
            figures = {name: _figure(db, threads, name, runs) for name, runs in samples.items()}
            for name, fig in figures.items():
                peer = {"ours append": "library save", "ours submit": "library save",
                        "ours approve": "library get+save"}.get(name)
                if peer:
                    fig["ratio"] = round(fig["ops_s"] / figures[peer]["ops_s"], 2)
                    fig["vs"] = peer
                rows.append(fig)
                emit(fig)
        if db == "postgres" and raw:
            fig = _figure(db, 1, "raw psycopg INSERT+COMMIT",
                          [raw_commit_rate(ops) for _ in range(runs)])
            rows.append(fig)
            emit(fig)
    finally:
        services.close()
        bare.close()
        app.close()
    return rows


def _figure(db: str, threads: int, name: str,
            samples: list[tuple[float, list[float]]]) -> dict:
    ordered = sorted(samples, key=lambda s: s[0])
    rate, latencies = ordered[len(ordered) // 2]
    return {"db": db, "threads": threads, "name": name, "ops_s": round(rate, 1),
            "min": round(ordered[0][0], 1), "max": round(ordered[-1][0], 1),
            "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2), "runs": len(samples)}


def print_row(fig: dict) -> None:
    ratio = f"{fig['ratio']:.2f}x {fig['vs']}" if "ratio" in fig else ""
    print(f"  {fig['db']:8} {fig['threads']} thr  {fig['name']:26} {fig['ops_s']:>9,.1f}/s "
          f"[{fig['min']:,.0f} .. {fig['max']:,.0f}]  p50 {fig['p50_ms']:6.2f} ms  "
          f"p99 {fig['p99_ms']:7.2f} ms  {ratio}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--ops", type=int, default=400, help="operations per case and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", help="append one JSON line per figure to this file")
    parser.add_argument("--threads", default=",".join(map(str, THREADS)),
                        help="comma-separated thread counts (default 1,4,8)")
    parser.add_argument("--no-raw", action="store_true",
                        help="skip the raw psycopg commit rate (PostgreSQL)")
    args = parser.parse_args()
    threads = tuple(int(t) for t in args.threads.split(","))
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for db in dbs:
            print(f"== {db}", flush=True)
            rows += bench(db, Path(tmp), args.ops, args.runs, print_row, threads,
                          not args.no_raw)
    if args.json:
        with open(args.json, "a") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
