"""One write transaction around one command: rolled back unless `commit()` is called."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection, Engine

from ..db import WRITE, DeferredWrites, LockedRead, deferring, writer_lock
from ..domain.comment import Comment
from ..domain.events import DomainEvent, comment_stream
from ..eventstore import EventStore, NewEvent, RecordedEvent
from ..eventstore.codec import CodecFactory
from ..eventstore.store import ExpectedVersion
from ..projections.runner import ProjectionRunner
from ..telemetry import metrics


class Follower(Protocol):
    """Something that must see every appended event inside the append's own transaction
    (a webhook outbox, say): if it fails, the append fails; if the append rolls back, so
    does its output. It is not a projection: a rebuild never replays it."""

    def handle(self, conn: Connection,
               changes: Sequence[tuple[RecordedEvent, DomainEvent]]) -> None: ...

    # Optional: `prepare(conn, domain_events) -> state` runs before the append takes the
    # log's head lock, and its state is then passed on as `handle(conn, changes, state)`:
    # the place for reads that need no position.


class UnitOfWork:
    def __init__(self, engine: Engine, store: EventStore, runner: ProjectionRunner,
                 clock: Callable[[], datetime], codec_for: CodecFactory,
                 followers: Sequence[Follower] = ()):
        self._engine = engine
        self._codec_for = codec_for
        self.store = store
        self.runner = runner
        self.clock = clock
        self.followers = followers
        self.conn: Connection
        self._committed = False
        self._read_versions: dict[str, int] = {}  # streams read in this transaction
        self._held: DeferredWrites | None = None  # writes waiting for the commit

    def __enter__(self) -> UnitOfWork:
        self._writer = writer_lock(self._engine)
        waited = time.perf_counter()
        self._writer.__enter__()
        self._began = time.perf_counter()
        metrics().writer_lock_wait_seconds.observe(self._began - waited)
        try:  # a failed BEGIN (busy or lock timeout) must not keep the writer lock
            self.conn = self._engine.connect()
            try:
                self.conn.execution_options(**{WRITE: True})
                self._tx = self.conn.begin()
            except BaseException:
                self.conn.close()
                raise
        except BaseException:
            self._writer.__exit__(None, None, None)
            raise
        self.codec = self._codec_for(self.conn)
        self.vault = self.codec.vault
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()
            self._writer.__exit__(None, None, None)
            metrics().write_seconds.labels("commit" if self._committed else "rollback") \
                .observe(time.perf_counter() - self._began)

    def commit(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.commit()  # the held writes and COMMIT in one round trip, where it can
        self._tx.commit()
        self._committed = True

    @property
    def writer(self) -> Connection | DeferredWrites:
        """Where a handler's own writes go after `record(..., hold=True)`: with the held
        ones, in order (the connection itself when nothing is held)."""
        return self._held if self._held is not None else self.conn

    def load_comment(self, comment_id: str, *, personal: bool = True) -> Comment:
        """A comment from its stream; `personal=False` leaves its sealed personal data
        closed (a decision needs none of it: no key read, no decryption)."""
        stream = comment_stream(comment_id)
        history = self.store.read_stream(self.conn, stream)
        self._read_versions[stream] = history[-1].version if history else 0
        return Comment.from_history(
            comment_id, [self.codec.decode(r, personal=personal) for r in history])

    def record(
        self,
        stream_id: str,
        domain_events: list[DomainEvent],
        expected_version: ExpectedVersion,
        metadata: dict[str, Any] | list[dict[str, Any]],
        event_ids: list[str] | None = None,
        *,
        locked_reads: Sequence[LockedRead] = (),
        hold: bool = False,
    ) -> list[RecordedEvent]:
        """Append the events and bring every projection up to them, in this transaction.

        `metadata` is shared by all events or given per event; `event_ids` lets a caller
        name an event before it exists (a follow-up event cites it as its cause).
        `locked_reads` are answered once the log's head lock is taken (in the head
        update's round trip on PostgreSQL). With `hold`, the caller promises to read
        nothing more in this transaction and to write only through `writer`: the writes
        then wait for the commit and go with it, in one round trip."""
        metas = metadata if isinstance(metadata, list) else [metadata] * len(domain_events)
        ids = event_ids or [str(uuid.uuid4()) for _ in domain_events]
        # Encoding (and sealing personal data) and the followers' reads need no position:
        # they run before the append locks the head row, which every other writer waits for.
        new = []
        for event, meta, event_id in zip(domain_events, metas, ids, strict=True):
            type_, schema, data = self.codec.encode(event)
            new.append(NewEvent(type_, data, meta, schema, event_id))
        prepared = [(f, f.prepare(self.conn, domain_events)) if hasattr(f, "prepare")
                    else (f, _NOTHING) for f in self.followers]
        # From the head update to the commit every other writer waits: on PostgreSQL the
        # event rows and the read-model, checkpoint and outbox writes go out together, in
        # one round trip after the head update.
        writes = deferring(self.conn)
        held = writes if writes is not self.conn else None
        recorded = self.store.append(self.conn, stream_id, new, expected_version,
                                     writes=held,
                                     read_version=self._read_versions.get(stream_id),
                                     locked_reads=locked_reads)
        if stream_id in self._read_versions:
            self._read_versions[stream_id] = recorded[-1].version
        changes = list(zip(recorded, domain_events, strict=True))
        self.runner.apply(writes, changes)
        for follower, state in prepared:
            if state is _NOTHING:
                follower.handle(writes, changes)
            else:
                follower.handle(writes, changes, state)
        if held is not None:
            if hold:
                self._held = held
            else:
                held.flush()
        return recorded


_NOTHING = object()
