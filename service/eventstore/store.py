"""Append and read events.

Positions are gapless and in commit order on both databases: an append takes the head row's
lock (`UPDATE ... RETURNING`) and keeps it until its transaction ends, so a reader that asks
for "events after N" can never miss one that commits late, and a rollback burns no number.
The unique `(stream_id, version)` key stays the final arbiter of concurrent writers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ..db import UTCDateTime
from . import chain
from .errors import DuplicateEvent, WrongExpectedVersion
from .tables import event_store_head, events


class Expect(Enum):
    ANY = "any"
    NO_STREAM = "no_stream"
    STREAM_EXISTS = "stream_exists"


ANY = Expect.ANY
NO_STREAM = Expect.NO_STREAM
STREAM_EXISTS = Expect.STREAM_EXISTS
ExpectedVersion = int | Expect


@dataclass(frozen=True)
class NewEvent:
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_version: int = 1
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    event_id: str
    stream_id: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


_COLUMNS = (
    events.c.position, events.c.event_id, events.c.stream_id, events.c.version, events.c.type,
    events.c.schema_version, events.c.data, events.c.metadata, events.c.recorded_at,
)


class EventStore:
    def __init__(self, clock: Callable[[], datetime] = utc_now):
        self._clock = clock

    def append(
        self,
        conn: Connection,
        stream_id: str,
        new_events: Sequence[NewEvent],
        expected_version: ExpectedVersion,
        *,
        writes: Any = None,
        read_version: int | None = None,
        locked_reads: Sequence[Any] = (),
    ) -> list[RecordedEvent]:
        """Append to one stream. On any error the caller's transaction must be rolled back.

        With `writes` (a `db.DeferredWrites` on `conn`), the event rows are held there and
        sent with the writes that follow them; a conflict is raised when they are sent.
        `read_version` is the stream's version as the caller read it in this transaction
        (it need not be read again). `locked_reads` (`db.LockedRead`s) are answered once
        the head row is locked, in the head update's own round trip when there are
        `writes`."""
        if not new_events:
            return []
        # Everything that does not need a position happens before the head row is locked:
        # a stream's version is read first when a specific one is expected (a writer that
        # appends in between loses at the unique key below, as it should). ANY and
        # STREAM_EXISTS read it under the lock, where no other append can move it.
        early = isinstance(expected_version, int)
        if early:
            current = self.stream_version(conn, stream_id) if read_version is None \
                else read_version
            _check_expected(stream_id, expected_version, current)
        advance = {"n": len(new_events), "now": self._clock()}
        if writes is not None:
            head = writes.lead(_ADVANCE_HEAD, advance, locked_reads)
        else:
            head = conn.execute(_ADVANCE_HEAD, advance).one()
            for read in locked_reads:
                read.row = conn.execute(read.statement, read.params).one()
        if not early:
            # A new stream needs no read: version 1 already taken fails the unique key.
            current = 0 if expected_version is NO_STREAM else self.stream_version(conn,
                                                                                  stream_id)
            _check_expected(stream_id, expected_version, current)
        first = head.last_position - len(new_events) + 1
        rows = [
            {
                "position": first + i,
                "event_id": e.event_id,
                "stream_id": stream_id,
                "version": current + 1 + i,
                "type": e.type,
                "schema_version": e.schema_version,
                "data": e.data,
                "metadata": e.metadata,
                "recorded_at": head.last_recorded_at,
            }
            for i, e in enumerate(new_events)
        ]
        previous = head.previous_hash or chain.GENESIS
        for row in rows:
            row["hash"] = previous = chain.link_row(previous, row)
        if writes is not None:
            def refused(exc: Exception) -> None:
                if isinstance(exc, IntegrityError):
                    raise self._conflict(conn, exc, stream_id, expected_version) from exc

            writes.on_error(events.name, refused)
            writes.execute(_INSERT_EVENTS, rows)
            return [_recorded(r) for r in rows]
        try:
            conn.execute(_INSERT_EVENTS, rows)
        except IntegrityError as exc:
            raise self._conflict(conn, exc, stream_id, expected_version) from exc
        return [_recorded(r) for r in rows]

    def _conflict(self, conn: Connection, exc: IntegrityError, stream_id: str,
                  expected_version: ExpectedVersion) -> Exception:
        """What a unique key refusing an event insert means."""
        if "event_id" in str(exc.orig):
            return DuplicateEvent(str(exc.orig))
        # the failed insert has aborted this transaction (PostgreSQL): read elsewhere
        with conn.engine.connect() as fresh:
            actual = self.stream_version(fresh, stream_id)
        return WrongExpectedVersion(stream_id, expected_version, actual)

    def stream_version(self, conn: Connection, stream_id: str) -> int:
        return conn.execute(_STREAM_VERSION, {"stream_id": stream_id}).scalar_one()

    def read_stream(
        self,
        conn: Connection,
        stream_id: str,
        *,
        to_version: int | None = None,
        to_position: int | None = None,
        as_of: datetime | None = None,
    ) -> list[RecordedEvent]:
        """One stream in version order, optionally only as far as a version, a log
        position, or a moment (events recorded at or before it)."""
        if to_version is None and to_position is None and as_of is None:
            return [_recorded_row(r)
                    for r in conn.execute(_READ_STREAM, {"stream_id": stream_id}).all()]
        query = sa.select(*_COLUMNS).where(events.c.stream_id == stream_id)
        if as_of is not None:
            query = query.where(events.c.recorded_at <= sa.literal(as_of, UTCDateTime()))
        if to_version is not None:
            query = query.where(events.c.version <= to_version)
        if to_position is not None:
            query = query.where(events.c.position <= to_position)
        return [_recorded_row(r) for r in conn.execute(query.order_by(events.c.version)).all()]

    def read_all(
        self,
        conn: Connection,
        *,
        after: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        to_position: int | None = None,
        exclude_types: Sequence[str] | None = None,
    ) -> list[RecordedEvent]:
        """The global feed, in position order, starting after `after`; `limit` counts the
        events returned, after `types` and `exclude_types` have filtered them."""
        if not types and not stream_prefix and conn.dialect.name == "postgresql":
            # the hot path of every feed page and replay batch: the driver's own values,
            # already typed (JSONB parsed by the engine's loader, UTC timestamps), with
            # no type processing per event; through SQLAlchemy still, so a lost
            # connection is recognised, invalidated and reported as any other
            end = to_position if to_position is not None else _NO_END
            if exclude_types:
                rows = conn.exec_driver_sql(_PG_READ_ALL_EXCLUDING,
                                            (after, end, sorted(exclude_types), limit))
            else:
                rows = conn.exec_driver_sql(_PG_READ_ALL, (after, end, limit))
            return [RecordedEvent(*row) for row in rows.fetchall()]
        query = sa.select(*_COLUMNS).where(events.c.position > after)
        if types:
            query = query.where(events.c.type.in_(list(types)))
        if exclude_types:
            query = query.where(events.c.type.not_in(sorted(exclude_types)))
        if stream_prefix:
            query = query.where(
                events.c.stream_id.startswith(stream_prefix, autoescape=True)
            )
        if to_position is not None:
            query = query.where(events.c.position <= to_position)
        query = query.order_by(events.c.position).limit(limit)
        return [_recorded_row(r) for r in conn.execute(query).all()]

    def read_feed(
        self,
        conn: Connection,
        *,
        after: int = 0,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        exclude_types: Sequence[str] | None = None,
    ) -> list[FeedRow]:
        """A page of the global feed as the database holds it, for readers that pass the
        payloads on instead of decoding them: each row is (position, event_id, stream_id,
        version, type, schema_version, recorded_at as ISO text, metadata and data as JSON
        text, held), where `held` says whether the subject of the event's sealed personal
        part still has its key (None when it has none). One statement: the key check
        rides in it (a second round trip per page cost more than the check)."""
        if conn.dialect.name == "postgresql":
            clauses, params = ["position > %s"], [after]
            if types:
                clauses.append("type = ANY(%s)")
                params.append(list(types))
            if exclude_types:
                clauses.append("type <> ALL(%s)")
                params.append(sorted(exclude_types))
            rows = conn.exec_driver_sql(
                _PG_FEED.format(" AND ".join(clauses)), (*params, limit)).fetchall()
            out, last, text = [], None, ""
            for p, e, s, v, t, sv, at, m, d, h in rows:
                if at != last:  # an append's events share their time: printed once
                    last, text = at, at.isoformat()
                out.append((p, e, s, v, t, sv, text, m, d, h))
            return out
        clauses, params = ["position > ?"], [after]
        if types:
            clauses.append(f"type IN ({', '.join('?' * len(types))})")
            params += list(types)
        if exclude_types:
            clauses.append(f"type NOT IN ({', '.join('?' * len(exclude_types))})")
            params += sorted(exclude_types)
        return conn.exec_driver_sql(
            _SQLITE_FEED.format(" AND ".join(clauses)), (*params, limit)).fetchall()

    def iter_all(
        self, conn: Connection, *, after: int = 0, to_position: int | None = None,
        batch_size: int = 2000,
    ) -> Iterator[RecordedEvent]:
        """Stream the whole log in pages; memory stays flat however long the log is."""
        while True:
            page = self.read_all(conn, after=after, limit=batch_size, to_position=to_position)
            yield from page
            if len(page) < batch_size:
                return
            after = page[-1].position

    def last_of_type(self, conn: Connection, type_: str) -> RecordedEvent | None:
        """The latest event of one type (an index lookup on (type, position)), or None."""
        row = conn.execute(sa.select(*_COLUMNS).where(events.c.type == type_)
                           .order_by(events.c.position.desc()).limit(1)).first()
        return None if row is None else _recorded_row(row)

    def read_before(self, conn: Connection, *, types: Sequence[str], before: int | None,
                    limit: int) -> list[RecordedEvent]:
        """Events of these types, newest first, before position `before` (None: the head)."""
        query = sa.select(*_COLUMNS).where(events.c.type.in_(list(types)))
        if before is not None:
            query = query.where(events.c.position < before)
        query = query.order_by(events.c.position.desc()).limit(limit)
        return [_recorded_row(r) for r in conn.execute(query).all()]

    def read_chained(self, conn: Connection, *, types: Sequence[str], after: int,
                     to_position: int, limit: int = 1000
                     ) -> list[tuple[RecordedEvent, bytes]]:
        """Events of these types in (after, to_position], in position order, each with its
        stored chain hash (for exports that let a reader match rows to proofs)."""
        query = (sa.select(*_COLUMNS, events.c.hash)
                 .where(events.c.position > after, events.c.position <= to_position,
                        events.c.type.in_(list(types)))
                 .order_by(events.c.position).limit(limit))
        return [(_recorded_row(r[:-1]), r[-1]) for r in conn.execute(query).all()]

    def position_before(self, conn: Connection, moment: datetime) -> int:
        """The last position recorded strictly before `moment` (0 if none). Recording times
        never decrease along the log, so [since, until) is a range of positions."""
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)).where(
                events.c.recorded_at < sa.literal(moment, UTCDateTime()))
        ).scalar_one()

    def get(self, conn: Connection, event_id: str) -> RecordedEvent | None:
        """One event by its id, or None."""
        row = conn.execute(sa.select(*_COLUMNS).where(events.c.event_id == event_id)).first()
        return None if row is None else _recorded_row(row)

    def read_window(
        self,
        conn: Connection,
        *,
        types: Sequence[str],
        since: datetime,
        until: datetime | None = None,
        after: int = 0,
        limit: int = 500,
    ) -> list[RecordedEvent]:
        """Events of these types recorded in [since, until), in position order after `after`."""
        query = sa.select(*_COLUMNS).where(
            events.c.type.in_(list(types)), events.c.position > after,
            events.c.recorded_at >= sa.literal(since, UTCDateTime()))
        if until is not None:
            query = query.where(events.c.recorded_at < sa.literal(until, UTCDateTime()))
        query = query.order_by(events.c.position).limit(limit)
        return [_recorded_row(r) for r in conn.execute(query).all()]

    def count_by_type(self, conn: Connection, *, types: Sequence[str],
                      since: datetime | None = None,
                      until: datetime | None = None) -> dict[str, int]:
        """How many events of each of these types were recorded in [since, until)."""
        query = sa.select(events.c.type, sa.func.count()).where(
            events.c.type.in_(list(types)))
        if since is not None:
            query = query.where(events.c.recorded_at >= sa.literal(since, UTCDateTime()))
        if until is not None:
            query = query.where(events.c.recorded_at < sa.literal(until, UTCDateTime()))
        found = dict(conn.execute(query.group_by(events.c.type)).all())
        return {t: int(found.get(t, 0)) for t in types}

    def open_as_of(
        self,
        conn: Connection,
        *,
        opened_by: str,
        closed_by: Sequence[str],
        position: int,
        after: int = 0,
        limit: int = 100,
    ) -> list[RecordedEvent]:
        """Events of type `opened_by` at or before `position` whose stream had no event of
        a `closed_by` type by then (say, comments still pending), in position order."""
        opened, closed = events.alias("opened"), events.alias("closed")
        query = (
            sa.select(*(opened.c[c.name] for c in _COLUMNS))
            .where(
                opened.c.type == opened_by,
                opened.c.position > after,
                opened.c.position <= position,
                ~sa.exists().where(
                    closed.c.stream_id == opened.c.stream_id,
                    closed.c.type.in_(list(closed_by)),
                    closed.c.position <= position,
                ),
            )
            .order_by(opened.c.position)
            .limit(limit)
        )
        return [_recorded_row(r) for r in conn.execute(query).all()]

    def head(self, conn: Connection) -> int:
        return conn.execute(
            sa.select(event_store_head.c.last_position).where(event_store_head.c.id == 1)
        ).scalar_one()

    def lock_head(self, conn: Connection) -> int:
        """Hold the append lock until the transaction ends, so no event can be added."""
        return conn.execute(
            event_store_head.update()
            .where(event_store_head.c.id == 1)
            .values(last_position=event_store_head.c.last_position)
            .returning(event_store_head.c.last_position)
        ).scalar_one()

    def position_at(self, conn: Connection, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 if none)."""
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)).where(
                events.c.recorded_at <= moment
            )
        ).scalar_one()


# The hot statements are built once: building and caching a construct on every call cost
# more Python than the database spent running it.
_N = sa.bindparam("n", type_=sa.Integer())
_NOW = sa.bindparam("now", type_=UTCDateTime())
_ADVANCE_HEAD = (
    event_store_head.update()
    .where(event_store_head.c.id == 1)
    .values(
        last_position=event_store_head.c.last_position + _N,
        last_recorded_at=sa.case(
            (event_store_head.c.last_recorded_at > _NOW, event_store_head.c.last_recorded_at),
            else_=_NOW,
        ),
    )
    # the hash of the event just before the positions this append takes, read in the head
    # update itself so the chain costs no extra round trip
    .returning(
        event_store_head.c.last_position, event_store_head.c.last_recorded_at,
        sa.select(events.c.hash)
        .where(events.c.position == event_store_head.c.last_position - _N)
        .scalar_subquery().label("previous_hash"),
    )
)
_STREAM_VERSION = sa.select(sa.func.coalesce(sa.func.max(events.c.version), 0)).where(
    events.c.stream_id == sa.bindparam("stream_id"))
_INSERT_EVENTS = events.insert()
_READ_STREAM = sa.select(*_COLUMNS).where(events.c.stream_id == sa.bindparam("stream_id")) \
    .order_by(events.c.version)


_NO_END = 2**63 - 1
# RecordedEvent's fields, in order; the id as text (no UUID object per event)
_PG_SELECT = ("SELECT position, event_id::text, stream_id, version, type, schema_version, "
              "data, metadata, recorded_at FROM events WHERE position > %s AND position <= %s")
_PG_READ_ALL = _PG_SELECT + " ORDER BY position LIMIT %s"
_PG_READ_ALL_EXCLUDING = _PG_SELECT + " AND type <> ALL(%s) ORDER BY position LIMIT %s"


FeedRow = tuple[int, str, str, int, str, int, str, str, str, bool | None]
# The feed's statements, text only: no SQLAlchemy construct, row or type processing per
# event. `held` is an index lookup in subject_keys per event with a sealed part.
_PG_FEED = (
    "SELECT position, event_id::text, stream_id, version, type, schema_version, "
    "recorded_at, metadata::text, data::text, "
    "CASE WHEN jsonb_typeof(data -> 'personal') = 'object' THEN EXISTS (SELECT FROM "
    "subject_keys WHERE subject_id = data -> 'personal' ->> 'subject') END "
    "FROM events WHERE {} ORDER BY position LIMIT %s")
# SQLite keeps a UUID as 32 hex digits and a time as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC):
# both are put in the form Python prints them in (isoformat leaves out zero microseconds)
_SQLITE_FEED = (
    "SELECT position, CASE WHEN length(event_id) = 32 THEN lower(substr(event_id, 1, 8) || "
    "'-' || substr(event_id, 9, 4) || '-' || substr(event_id, 13, 4) || '-' || "
    "substr(event_id, 17, 4) || '-' || substr(event_id, 21)) ELSE event_id END, "
    "stream_id, version, type, schema_version, "
    "substr(recorded_at, 1, 10) || 'T' || CASE WHEN substr(recorded_at, 20) IN ('', "
    "'.000000') THEN substr(recorded_at, 12, 8) ELSE substr(recorded_at, 12) END || "
    "'+00:00', metadata, data, "
    "CASE WHEN json_type(data, '$.personal') = 'object' THEN EXISTS (SELECT 1 FROM "
    "subject_keys WHERE subject_id = json_extract(data, '$.personal.subject')) END "
    "FROM events WHERE {} ORDER BY position LIMIT ?")


def _check_expected(stream_id: str, expected: ExpectedVersion, current: int) -> None:
    if expected is ANY:
        return
    if expected is NO_STREAM:
        ok = current == 0
    elif expected is STREAM_EXISTS:
        ok = current > 0
    else:
        ok = current == expected
    if not ok:
        raise WrongExpectedVersion(stream_id, expected, current)


def _recorded_row(row: Any) -> RecordedEvent:
    """From a row of _COLUMNS, by position: the hot path of every feed and replay."""
    position, event_id, stream_id, version, type_, schema, data, metadata, at = row
    return RecordedEvent(position, str(event_id), stream_id, version, type_, schema, data,
                         metadata, at)


def _recorded(row: Any) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        event_id=str(row["event_id"]),
        stream_id=row["stream_id"],
        version=row["version"],
        type=row["type"],
        schema_version=row["schema_version"],
        data=row["data"],
        metadata=row["metadata"],
        recorded_at=row["recorded_at"],
    )
