"""Keeps the read models in step with the log: inline on every append, and by full replay.

Inline: the projections and their checkpoints are written in the append's own transaction,
and the checkpoint update demands that each projection was exactly at the previous position,
so an event can never be skipped or applied twice.

Rebuild: the log is replayed into a new version of every table (see versions.py),
streaming in batches while appends go on; what was appended meanwhile is replayed until
little is left; then, under the append lock, the last few events are replayed and the new
tables switched in by catalog changes only, with the checkpoints, in one short transaction.
The comparison with the old tables reads a snapshot taken at the switch.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import (
    WRITE,
    DeferredWrites,
    read_transaction,
    shares_one_connection,
    write_transaction,
    writer_lock,
)
from ..domain.events import DomainEvent
from ..eventstore import EventStore, RecordedEvent
from ..eventstore.codec import CodecFactory
from .admin_actions import AdminActionsProjection
from .articles import ArticleProjection
from .authors import AuthorProjection
from .base import Change, Projection, checkpoints
from .comments import CommentStateProjection
from .decision_log import DecisionLogProjection
from .moderator_activity import ModeratorActivityProjection
from .public_threads import PublicThreadProjection
from .queue import QueueProjection
from .reports import ReportProjection
from .search import SearchProjection
from .versions import TableVersions, table_versions

log = logging.getLogger(__name__)

ALL_PROJECTIONS: tuple[type[Projection], ...] = (
    CommentStateProjection,
    QueueProjection,
    PublicThreadProjection,
    ArticleProjection,
    ModeratorActivityProjection,
    DecisionLogProjection,
    AdminActionsProjection,
    AuthorProjection,
    ReportProjection,
    SearchProjection,
)
# Replay outside the lock until at most this many events are left for the switch.
CATCH_UP_SLACK = 50
CATCH_UP_ROUNDS = 10
CATCH_UP_BATCH = 2000
SWITCH_ATTEMPTS = 20
SWITCH_LOCK_TIMEOUT_MS = 100


class ProjectionOutOfStep(RuntimeError):
    """A projection's checkpoint is not where the next event expects it: refuse to go on."""


@dataclass
class TableDifference:
    table: str
    live_rows: int
    rebuilt_rows: int
    mismatched_keys: list[str] = field(default_factory=list)


@dataclass
class RebuildReport:
    position: int
    events: int
    differences: list[TableDifference]
    swapped: bool
    # how long appends waited for the switch: from the append lock to its commit
    locked_ms: float = 0.0

    @property
    def identical(self) -> bool:
        return not self.differences


class ProjectionRunner:
    def __init__(self, store: EventStore, codec_for: CodecFactory,
                 projection_types: Sequence[type[Projection]] = ALL_PROJECTIONS):
        self.store = store
        self.codec_for = codec_for
        self.projection_types = tuple(projection_types)
        self.live = [cls() for cls in self.projection_types]
        written: set[str] = set()
        for cls in self.projection_types:  # a projection reads only what is already applied
            unknown = {t.name for t in cls.reads} - written
            if unknown:
                raise ValueError(f"{cls.name} reads {sorted(unknown)} before they are written")
            written.update(t.name for t in cls.live_tables)
        self.names = [p.name for p in self.live]
        self._advance = (  # built once: it runs in every append
            checkpoints.update()
            # plain comparisons, not IN (...): an IN list is re-expanded on every call
            .where(sa.or_(*(checkpoints.c.name == sa.literal(n) for n in self.names)),
                   checkpoints.c.position == sa.bindparam("previous"))
            .values(position=sa.bindparam("last"))
        )

    # -- inline -------------------------------------------------------------------------
    def apply(self, conn: Connection, changes: Iterable[tuple[RecordedEvent, DomainEvent]]) -> None:
        changes = list(changes)
        if not changes:
            return
        first, last = changes[0][0].position, changes[-1][0].position

        def out_of_step(_moved: int = 0) -> ProjectionOutOfStep:
            return ProjectionOutOfStep(
                f"projections are not at position {first - 1}; run "
                "'moderation projections rebuild'")

        advance = {"previous": first - 1, "last": last}
        # with deferred writes (see db.DeferredWrites) the database checks the count
        if isinstance(conn, DeferredWrites):
            conn.execute_expecting(self._advance, advance, len(self.names), "checkpoints",
                                   out_of_step)
        elif conn.execute(self._advance, advance).rowcount != len(self.names):
            raise out_of_step()
        for projection in self.live:
            projection.apply_all(conn, changes)

    def status(self, conn: Connection) -> dict[str, int]:
        rows = conn.execute(sa.select(checkpoints.c.name, checkpoints.c.position))
        return {r.name: r.position for r in rows}

    # -- rebuild ------------------------------------------------------------------------
    def rebuild(
        self,
        engine: Engine,
        *,
        swap: bool = True,
        batch_size: int = 2000,
        progress: Callable[[int, int], None] | None = None,
    ) -> RebuildReport:
        """Replay the whole log into a new version of every table; compare it with the live
        one; switch to it if asked. Appends go on meanwhile and wait only for the switch."""
        with fewer_collections():
            return self._rebuild(engine, swap=swap, batch_size=batch_size, progress=progress)

    def _rebuild(self, engine: Engine, *, swap: bool, batch_size: int,
                 progress: Callable[[int, int], None] | None) -> RebuildReport:
        tables = [t for cls in self.projection_types for t in cls.live_tables]
        versions = table_versions(engine.dialect.name, tables)
        fresh = {t.name: versions.shadow[t.name] for t in tables}
        replicas = [cls(tables=tuple(fresh[t.name] for t in cls.live_tables), sources=fresh,
                        replay=True) for cls in self.projection_types]
        done = {"applied": 0, "position": 0}

        def replay_to(target: int, size: int = batch_size) -> None:
            held = False
            for batch in self._prefetched(engine, target, size, after=done["position"]):
                with write_transaction(engine) as conn:
                    # what the replicas hold is written at the end of the run
                    held = batch[-1][0].position < target
                    self._replay(conn, replicas, changes=batch, flush=not held)
                done["position"] = batch[-1][0].position
                done["applied"] += len(batch)
                if progress:
                    progress(done["applied"], target)
            if held:  # the log ended short of the target (never, with gapless positions)
                with write_transaction(engine) as conn:
                    self._flush(conn, replicas)

        snapshot: Connection | None = None
        versions.prepare(engine)
        try:
            with read_transaction(engine) as conn:
                head = self.store.head(conn)
            replay_to(head)
            versions.finish(engine)
            # what was appended meanwhile, outside the lock, until what is left is short
            # (or stops shrinking: writers as fast as the replay; the switch takes the rest)
            behind = None
            for _ in range(CATCH_UP_ROUNDS):
                with read_transaction(engine) as conn:
                    head = self.store.head(conn)
                if head - done["position"] <= CATCH_UP_SLACK or (
                        behind is not None and head - done["position"] >= behind):
                    break
                behind = head - done["position"]
                replay_to(head, max(batch_size, CATCH_UP_BATCH))
            switch = self._switch_postgres if engine.dialect.name == "postgresql" \
                else self._switch_sqlite
            final, tail, snapshot, locked_ms = switch(engine, versions, replicas,
                                                      done["position"], swap)
            done["applied"] += tail
            if progress and tail:
                progress(done["applied"], final)
            # both versions as of the switch, in one snapshot taken before any later append
            pairs = [(versions.retired[t.name], t) if swap else (t, versions.shadow[t.name])
                     for t in tables]
            differences = [
                diff for (live, rebuilt), t in zip(pairs, tables, strict=True)
                if (diff := compare_tables(snapshot, live, rebuilt, name=t.name)) is not None
            ]
        finally:
            if snapshot is not None:
                snapshot.close()
            versions.discard(engine)
        log.info("projections replayed %d events to position %d: %s", done["applied"], final,
                 "identical" if not differences else f"{len(differences)} table(s) differed")
        return RebuildReport(final, done["applied"], differences, swap, round(locked_ms, 1))

    def _switch_postgres(self, engine: Engine, versions: TableVersions,
                         replicas: list[Projection], position: int,
                         swap: bool) -> tuple[int, int, Connection, float]:
        """Hold the append lock; replay the tail on another connection and commit it; take
        the snapshot the comparison reads; switch the tables and the checkpoints; commit.
        Appends wait from the lock to the commit. If a live table cannot be locked at once
        (a long reader, or an append that wrote it before queueing for the head row), give
        up the lock, let appends through, and try again."""
        tail = 0
        for attempt in range(SWITCH_ATTEMPTS):
            with engine.connect() as lock:
                lock.begin()
                final = self.store.lock_head(lock)
                locked = time.perf_counter()
                with write_transaction(engine) as conn:
                    batch = self.store.read_all(conn, after=position, limit=10**9,
                                                to_position=final)
                    self._replay(conn, replicas, batch)
                tail += len(batch)
                position = final
                snapshot = engine.connect()
                try:
                    snapshot.execution_options(isolation_level="REPEATABLE READ")
                    snapshot.begin()
                    snapshot.exec_driver_sql("SELECT 1")  # the snapshot is taken here
                    if swap:
                        lock.exec_driver_sql(
                            f"SET LOCAL lock_timeout = {SWITCH_LOCK_TIMEOUT_MS}")
                        versions.switch(lock)
                        self._set_checkpoints(lock, final)
                    lock.commit()
                    return final, tail, snapshot, (time.perf_counter() - locked) * 1000
                except sa.exc.OperationalError as exc:
                    snapshot.close()
                    if "lock timeout" not in str(exc) and "deadlock" not in str(exc):
                        raise
                    log.warning("rebuild: live tables busy, switch attempt %d put off",
                                attempt + 1)
            time.sleep(0.05 * (attempt + 1))
        raise RuntimeError("rebuild: could not lock the live tables to switch them")

    def _switch_sqlite(self, engine: Engine, versions: TableVersions,
                       replicas: list[Projection], position: int,
                       swap: bool) -> tuple[int, int, Connection, float]:
        """One write transaction: the tail, the switch and the checkpoints. The snapshot is
        begun before the writer lock is let go, so no append can come between."""
        with writer_lock(engine):
            with engine.connect() as conn:
                conn.execution_options(**{WRITE: True})
                with conn.begin():
                    final = self.store.lock_head(conn)
                    locked = time.perf_counter()
                    batch = self.store.read_all(conn, after=position, limit=10**9,
                                                to_position=final)
                    self._replay(conn, replicas, batch)
                    if swap:  # the switch last: it leaves this connection to reload the schema
                        self._set_checkpoints(conn, final)
                        versions.switch(conn)
                locked_ms = (time.perf_counter() - locked) * 1000
            snapshot = engine.connect()
            snapshot.begin()
            self.store.head(snapshot)  # WAL: the snapshot is taken at the first read
        return final, len(batch), snapshot, locked_ms

    def _set_checkpoints(self, conn: Connection, position: int) -> None:
        conn.execute(checkpoints.delete().where(checkpoints.c.name.in_(self.names)))
        conn.execute(checkpoints.insert(),
                     [{"name": name, "position": position} for name in self.names])

    def _decoded(self, conn: Connection, batch: list[RecordedEvent]) -> list[Change]:
        return list(zip(batch, self.codec_for(conn).decode_all(batch), strict=True))

    def _prefetched(self, engine: Engine, target: int, batch_size: int,
                    after: int = 0) -> Iterator[list[Change]]:
        """Batches of the log after `after` up to `target`, decoded, each event with its
        domain event. They are read and decoded one step ahead on another connection and
        thread, so that work overlaps the writes of this batch (the driver lets go of
        the interpreter while it waits for the database). At most two batches wait in
        memory. An in-memory database has one connection: read in turn."""
        if shares_one_connection(engine):
            while after < target:
                with read_transaction(engine) as conn:
                    batch = self.store.read_all(conn, after=after, limit=batch_size,
                                                to_position=target)
                    changes = self._decoded(conn, batch)
                if not batch:
                    return
                yield changes
                after = batch[-1].position
            return
        ready: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        start = after

        def read() -> None:
            after = start
            try:
                while after < target and not stop.is_set():
                    with read_transaction(engine) as conn:
                        batch = self.store.read_all(conn, after=after, limit=batch_size,
                                                    to_position=target)
                        changes = self._decoded(conn, batch)
                    if not batch:
                        break
                    ready.put(changes)
                    after = batch[-1].position
                ready.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                ready.put(exc)

        reader = threading.Thread(target=read, name="rebuild-reader", daemon=True)
        reader.start()
        try:
            while (item := ready.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while reader.is_alive():  # unblock a reader waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    ready.get(timeout=0.1)
            reader.join()

    def _replay(self, conn: Connection, replicas: list[Projection],
                batch: list[RecordedEvent] | None = None, *,
                changes: list[Change] | None = None, flush: bool = True) -> None:
        if changes is None:
            changes = self._decoded(conn, batch or [])
        for replica in replicas:
            replica.apply_all(conn, changes)
        if flush:
            self._flush(conn, replicas)

    @staticmethod
    def _flush(conn: Connection, replicas: list[Projection]) -> None:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # all rows held at once
        for replica in replicas:
            replica.flush(conn)


@contextlib.contextmanager
def fewer_collections(young: int = 50_000) -> Iterator[None]:
    """The cyclic garbage collector run less often while a replay makes millions of short-
    lived objects (decoded events, rows) that reference counting frees anyway: at the
    default threshold (700 allocations) it walked the young objects so often that reading
    and decoding a batch took twice as long, and more as the heap grew."""
    before = gc.get_threshold()
    gc.set_threshold(max(young, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _bytewise(conn: Connection, column: sa.Column) -> sa.ColumnElement:
    if conn.dialect.name == "postgresql" and isinstance(column.type, sa.String):
        return column.collate("C")
    return column


# Above this many rows not stored identically, the tables are walked side by side instead
# (a rebuild after the read models were lost: every row differs).
CANDIDATE_LIMIT = 5000


def compare_tables(conn: Connection, live: sa.Table, shadow: sa.Table,
                   max_keys: int = 10, *, name: str | None = None) -> TableDifference | None:
    """The database finds the rows not stored identically in both tables (EXCEPT, both
    ways: one scan of each, in C); only those rows are read here and compared as values,
    as the walk below compares them. Two equal tables of millions of rows cost no row in
    Python."""
    columns = [c.name for c in live.columns]
    pk = [c.name for c in live.primary_key.columns]
    candidates: set[tuple] = set()
    for a, b in ((live, shadow), (shadow, live)):
        unequal = sa.select(*(a.c[c] for c in columns)).except_(
            sa.select(*(b.c[c] for c in columns))).subquery()
        candidates.update(tuple(r) for r in conn.execute(
            sa.select(*(unequal.c[k] for k in pk)).limit(CANDIDATE_LIMIT + 1)))
    if not candidates:
        return None
    if len(candidates) > CANDIDATE_LIMIT:
        return walk_tables(conn, live, shadow, max_keys, name=name)
    mismatched: list[str] = []
    ordered = sorted(candidates)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i:i + 500]
        found = [_rows_by_key(conn, t, pk, columns, chunk) for t in (live, shadow)]
        for key in chunk:
            a, b = found[0].get(key), found[1].get(key)
            if b is None:
                mismatched.append(f"{key} only live")
            elif a is None:
                mismatched.append(f"{key} only rebuilt")
            elif a != b:
                mismatched.append(f"{key} differs")
    if not mismatched:
        return None
    live_count, rebuilt_count = (
        conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        for t in (live, shadow))
    return TableDifference(name or live.name, live_count, rebuilt_count,
                           mismatched[:max_keys])


def _rows_by_key(conn: Connection, table: sa.Table, pk: list[str], columns: list[str],
                 keys: list[tuple]) -> dict[tuple, tuple]:
    key = sa.tuple_(*(table.c[k] for k in pk)) if len(pk) > 1 else table.c[pk[0]]
    values = keys if len(pk) > 1 else [k[0] for k in keys]
    rows = conn.execute(sa.select(*(table.c[c] for c in columns)).where(key.in_(values)))
    at = [columns.index(k) for k in pk]
    return {tuple(row[i] for i in at): tuple(row) for row in rows}


def walk_tables(conn: Connection, live: sa.Table, shadow: sa.Table,
                max_keys: int = 10, *, name: str | None = None) -> TableDifference | None:
    """Walk both tables in primary-key order, side by side, without loading either whole."""
    pk = [i for i, c in enumerate(live.columns) if c.primary_key]

    def rows(table: sa.Table):  # noqa: ANN202
        # Walk in code-point order, the order Python compares str in: byte-wise "C"
        # collation on PostgreSQL (SQLite's default BINARY already is).
        keys = [_bytewise(conn, table.c[c.name]) for c in live.primary_key.columns]
        names = [table.c[c.name] for c in live.columns]
        # yield_per on the statement, so PostgreSQL uses a server-side cursor: a table of
        # millions of rows is walked, never loaded
        result = conn.execute(sa.select(*names).order_by(*keys).execution_options(
            yield_per=2000))
        for row in result:
            yield tuple(row[i] for i in pk), tuple(row)

    live_count = rebuilt_count = 0
    mismatched: list[str] = []
    live_rows, shadow_rows = rows(live), rows(shadow)
    a, b = next(live_rows, None), next(shadow_rows, None)
    while a is not None or b is not None:
        if a is not None and (b is None or a[0] < b[0]):
            live_count += 1
            mismatched.append(f"{a[0]} only live")
            a = next(live_rows, None)
        elif b is not None and (a is None or b[0] < a[0]):
            rebuilt_count += 1
            mismatched.append(f"{b[0]} only rebuilt")
            b = next(shadow_rows, None)
        else:
            live_count += 1
            rebuilt_count += 1
            if a[1] != b[1]:
                mismatched.append(f"{a[0]} differs")
            a, b = next(live_rows, None), next(shadow_rows, None)
    if not mismatched:
        return None
    return TableDifference(name or live.name, live_count, rebuilt_count,
                           mismatched[:max_keys])
