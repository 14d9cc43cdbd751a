"""Keeps the read models in step with the log: inline on every append, and by full replay.

Inline: the projections and their checkpoints are written in the append's own transaction,
and the checkpoint update demands that each projection was exactly at the previous position,
so an event can never be skipped or applied twice.

Rebuild: the log is replayed into fresh copies of every table (`rebuild_*`), streaming in
batches; the final catch-up, the comparison and the swap run under the append lock, so the
copies and the live tables describe the same position.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import DeferredWrites, read_transaction, shares_one_connection, write_transaction
from ..domain.events import DomainEvent
from ..eventstore import EventStore, RecordedEvent
from ..eventstore.codec import CodecFactory
from .admin_actions import AdminActionsProjection
from .articles import ArticleProjection
from .authors import AuthorProjection
from .base import Projection, checkpoints
from .comments import CommentStateProjection
from .decision_log import DecisionLogProjection
from .moderator_activity import ModeratorActivityProjection
from .public_threads import PublicThreadProjection
from .queue import QueueProjection
from .reports import ReportProjection
from .search import SearchProjection

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
REBUILD_PREFIX = "rebuild_"


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
        """Replay the whole log into fresh tables; compare with live; swap them in if asked."""
        shadow_md = sa.MetaData()
        shadows = {
            cls: tuple(_shadow_copy(t, shadow_md) for t in cls.live_tables)
            for cls in self.projection_types
        }
        fresh = {live.name: shadow for cls in self.projection_types
                 for live, shadow in zip(cls.live_tables, shadows[cls], strict=True)}
        replicas = [cls(tables=shadows[cls], sources=fresh) for cls in self.projection_types]
        with write_transaction(engine) as conn:
            shadow_md.drop_all(conn)
            shadow_md.create_all(conn)
            target = self.store.head(conn)
        applied, position = 0, 0
        try:
            for batch in self._prefetched(engine, target, batch_size):
                with write_transaction(engine) as conn:
                    self._replay(conn, replicas, batch)
                position = batch[-1].position
                applied += len(batch)
                if progress:
                    progress(applied, target)
            with write_transaction(engine) as conn:
                final = self.store.lock_head(conn)
                tail = self.store.read_all(conn, after=position, limit=10**9)
                self._replay(conn, replicas, tail)
                applied += len(tail)
                if progress and tail:
                    progress(applied, final)
                differences = [
                    diff for cls in self.projection_types
                    for live, shadow in zip(cls.live_tables, shadows[cls], strict=True)
                    if (diff := compare_tables(conn, live, shadow)) is not None
                ]
                if swap:
                    self._swap(conn, shadows, final)
        finally:
            with write_transaction(engine) as conn:
                shadow_md.drop_all(conn)
        log.info("projections replayed %d events to position %d: %s", applied, final,
                 "identical" if not differences else f"{len(differences)} table(s) differed")
        return RebuildReport(final, applied, differences, swap)

    def _prefetched(self, engine: Engine, target: int,
                    batch_size: int) -> Iterator[list[RecordedEvent]]:
        """Batches of the log up to `target`, read one step ahead on another connection,
        so reading and parsing the next batch overlaps writing this one. At most two
        batches wait in memory. An in-memory database has one connection: read in turn."""
        if shares_one_connection(engine):
            after = 0
            while after < target:
                with read_transaction(engine) as conn:
                    batch = self.store.read_all(conn, after=after, limit=batch_size,
                                                to_position=target)
                if not batch:
                    return
                yield batch
                after = batch[-1].position
            return
        ready: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()

        def read() -> None:
            after = 0
            try:
                while after < target and not stop.is_set():
                    with read_transaction(engine) as conn:
                        batch = self.store.read_all(conn, after=after, limit=batch_size,
                                                    to_position=target)
                    if not batch:
                        break
                    ready.put(batch)
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
                batch: list[RecordedEvent]) -> None:
        codec = self.codec_for(conn)
        changes = list(zip(batch, codec.decode_all(batch), strict=True))
        for replica in replicas:
            replica.apply_all(conn, changes)

    def _swap(self, conn: Connection, shadows: dict, position: int) -> None:
        for cls in self.projection_types:
            for live, shadow in zip(cls.live_tables, shadows[cls], strict=True):
                conn.execute(live.delete())
                conn.execute(live.insert().from_select(
                    [c.name for c in live.columns], sa.select(*shadow.columns)))
        conn.execute(checkpoints.delete().where(checkpoints.c.name.in_(self.names)))
        conn.execute(checkpoints.insert(),
                     [{"name": name, "position": position} for name in self.names])


def _shadow_copy(table: sa.Table, shadow_md: sa.MetaData) -> sa.Table:
    """Same columns and primary key, no secondary indexes: cheaper to fill, no name clashes."""
    columns = [sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
                         autoincrement=False) for c in table.columns]
    return sa.Table(REBUILD_PREFIX + table.name, shadow_md, *columns)


def _bytewise(conn: Connection, column: sa.Column) -> sa.ColumnElement:
    if conn.dialect.name == "postgresql" and isinstance(column.type, sa.String):
        return column.collate("C")
    return column


def compare_tables(conn: Connection, live: sa.Table, shadow: sa.Table,
                   max_keys: int = 10) -> TableDifference | None:
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
    return TableDifference(live.name, live_count, rebuilt_count, mismatched[:max_keys])
