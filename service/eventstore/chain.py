"""The hash chain over the log: each event's hash covers the previous hash and the event
exactly as stored, so rewriting or removing any stored event breaks every hash after it.

Sealed personal data is hashed as its ciphertext, so an erasure (which drops only a key)
never breaks the chain. Encoding: SHA-256(previous hash || canonical JSON of
[position, event_id, stream_id, version, type, schema_version, data, metadata,
recorded_at]) with keys sorted; the first event's previous hash is 32 zero bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .tables import event_store_head, events

GENESIS = bytes(32)


def canonical(position: int, event_id: str, stream_id: str, version: int, type_: str,
              schema_version: int, data: Any, metadata: Any, recorded_at: datetime) -> bytes:
    """The bytes an event's hash covers: the same before the insert and after a read."""
    return orjson.dumps(
        [position, str(event_id), stream_id, version, type_, schema_version, data, metadata,
         recorded_at.astimezone(UTC).isoformat(timespec="microseconds")],
        option=orjson.OPT_SORT_KEYS,
    )


def link(previous: bytes, encoded: bytes) -> bytes:
    return hashlib.sha256(previous + encoded).digest()


def link_row(previous: bytes, row: dict[str, Any]) -> bytes:
    """The hash of an insert row of the events table, chained to `previous`."""
    return link(previous, canonical(
        row["position"], row["event_id"], row["stream_id"], row["version"], row["type"],
        row["schema_version"], row["data"], row["metadata"], row["recorded_at"]))


@dataclass(frozen=True)
class Break:
    """The first place the stored log disagrees with its chain."""

    position: int
    reason: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.reason}"


@dataclass(frozen=True)
class Verification:
    checked: int
    head: int
    head_hash: bytes
    broken: Break | None


_CHAINED = (
    events.c.position, events.c.event_id, events.c.stream_id, events.c.version, events.c.type,
    events.c.schema_version, events.c.data, events.c.metadata, events.c.recorded_at,
    events.c.hash,
)


def iter_chained(conn: Connection, *, after: int = 0, batch_size: int = 2000
                 ) -> Iterator[tuple]:
    """Stored rows with their hash in position order, page by page (flat memory)."""
    while True:
        page = conn.execute(
            sa.select(*_CHAINED).where(events.c.position > after)
            .order_by(events.c.position).limit(batch_size)
        ).all()
        yield from page
        if len(page) < batch_size:
            return
        after = page[-1].position


def stored_hash(conn: Connection, position: int) -> bytes | None:
    if position == 0:
        return GENESIS
    return conn.execute(
        sa.select(events.c.hash).where(events.c.position == position)).scalar_one_or_none()


def verify(conn: Connection, *, start: int = 1, progress: Any = None) -> Verification:
    """Recompute the chain from `start` (trusting the stored hash just before it)."""
    start = max(start, 1)
    previous = stored_hash(conn, start - 1)
    head = conn.execute(
        sa.select(event_store_head.c.last_position).where(event_store_head.c.id == 1)
    ).scalar_one()
    if previous is None:
        return Verification(0, head, GENESIS, Break(start - 1, "event is missing"))
    expected_position, checked = start, 0
    for row in iter_chained(conn, after=start - 1):
        if row.position != expected_position:
            return Verification(checked, head, previous, Break(
                expected_position,
                f"event is missing (next stored position is {row.position})"))
        computed = link(previous, canonical(*row[:9]))
        if computed != row.hash:
            stored = row.hash.hex() if row.hash else "nothing"
            return Verification(checked, head, previous, Break(
                row.position, f"stored event does not match its hash (computed "
                f"{computed.hex()}, stored {stored}): its content or an earlier one changed"))
        previous, expected_position, checked = computed, expected_position + 1, checked + 1
        if progress is not None:
            progress(1)
    if expected_position - 1 != head and head >= start:
        return Verification(checked, head, previous, Break(
            expected_position, f"event is missing (the head says the log ends at {head})"))
    return Verification(checked, head, previous, None)
