"""The delivery outbox: one row per (event, endpoint), written in the event's transaction.

`WebhookOutbox` is a Follower of the unit of work: inside the very transaction that appends
an event it inserts a delivery row for every enabled endpoint subscribed to the event's
type. One commit makes both durable; a rollback leaves neither. Nothing polls the log with
"position > cursor", which would skip an event that commits late.

A delivery is `pending` (an automatic attempt is due at `next_attempt_at`), `succeeded`, or
`failed` (its automatic attempts are used up, or the endpoint answered 410). `due_at` is
when a dispatcher should next pick it up: the earlier of the next automatic attempt and a
manual redelivery request, NULL when there is nothing to do.

Claiming is one statement, `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED
LIMIT n) RETURNING ...`: concurrent dispatchers on PostgreSQL skip each other's rows. SQLite
has no row locks (SQLAlchemy silently drops the clause there); the same single statement is
atomic under SQLite's one writer. A claim is a lease (`locked_until`) with a random
`lock_token`: if the dispatcher dies the lease runs out and another one takes the delivery
(so delivery is at least once), and a late result from a lapsed lease never overwrites the
state written by the dispatcher that holds the delivery now.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain.errors import NotFound
from ..domain.events import DomainEvent
from ..domain.subscriptions import DELIVERY_STATUSES, PING
from ..eventstore import RecordedEvent
from .payloads import event_payload, ping_payload, serialize
from .tables import webhook_attempts, webhook_deliveries, webhook_endpoints

STATUSES = DELIVERY_STATUSES
PENDING, SUCCEEDED, FAILED = STATUSES
AUTO, MANUAL = "auto", "manual"
RECOVER_LIMIT = 10_000

class DeliveryNotFound(NotFound):
    code = "webhook_delivery_not_found"


@dataclass(frozen=True)
class Claimed:
    """A leased delivery: what a dispatcher needs to send it and to record the outcome."""

    id: int
    endpoint_id: int
    event_id: str
    event_type: str
    event_position: int | None
    payload: str
    include_body: bool
    status: str
    attempts: int
    next_attempt_at: datetime | None
    manual_requested_at: datetime | None
    lock_token: str

    @property
    def manual(self) -> bool:
        return self.manual_requested_at is not None


class WebhookOutbox:
    """The Follower: delivery rows for every matching enabled endpoint, in the append's
    transaction. Pass to `Moderation(..., followers=[WebhookOutbox(clock)])`."""

    def __init__(self, clock: Callable[[], datetime]):
        self.clock = clock

    def prepare(self, conn: Connection, domain_events: Sequence[DomainEvent]) -> list:
        """Before the append takes the log's head lock: the endpoints to fan out to (a read
        that needs no position, so it is not made while every other writer waits)."""
        return conn.execute(_ENABLED_ENDPOINTS).all()

    def handle(self, conn: Connection,
               changes: Sequence[tuple[RecordedEvent, DomainEvent]],
               endpoints: list | None = None) -> None:
        documents = []
        for recorded, event in changes:
            document = event_payload(recorded, event)
            if document is not None:
                documents.append((recorded, serialize(document)))
        if not documents:
            return
        if endpoints is None:
            endpoints = conn.execute(_ENABLED_ENDPOINTS).all()
        if not endpoints:
            return
        now = self.clock()
        rows = [
            _new_row(endpoint.id, recorded.event_id, recorded.type, recorded.position, text,
                     endpoint.include_body, now)
            for recorded, text in documents
            for endpoint in endpoints
            if not endpoint.event_types or recorded.type in endpoint.event_types
        ]
        if rows:
            conn.execute(_INSERT_DELIVERIES, rows)


_ENABLED_ENDPOINTS = (
    sa.select(webhook_endpoints.c.id, webhook_endpoints.c.event_types,
              webhook_endpoints.c.include_body)
    .where(webhook_endpoints.c.enabled.is_(True))
)
_INSERT_DELIVERIES = webhook_deliveries.insert()


def _new_row(endpoint_id: int, event_id: str, event_type: str, position: int | None,
             payload: str, include_body: bool, now: datetime) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id, "event_id": event_id, "event_type": event_type,
        "event_position": position, "payload": payload, "include_body": include_body,
        "status": PENDING, "attempts": 0, "next_attempt_at": now,
        "manual_requested_at": None, "due_at": now, "locked_until": None, "lock_token": None,
        "created_at": now, "last_attempt_at": None, "last_status_code": None,
        "last_error": None, "succeeded_at": None,
    }


_CLAIMED = (
    webhook_deliveries.c.id, webhook_deliveries.c.endpoint_id, webhook_deliveries.c.event_id,
    webhook_deliveries.c.event_type, webhook_deliveries.c.event_position,
    webhook_deliveries.c.payload, webhook_deliveries.c.include_body,
    webhook_deliveries.c.status, webhook_deliveries.c.attempts,
    webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.manual_requested_at,
    webhook_deliveries.c.lock_token,
)


def claim_statement(now: datetime, lease: timedelta, limit: int, token: str) -> sa.Update:
    """The single claiming statement (see the module docstring)."""
    d = webhook_deliveries
    free = sa.or_(d.c.locked_until.is_(None), d.c.locked_until <= now)
    enabled = sa.select(webhook_endpoints.c.id).where(webhook_endpoints.c.enabled.is_(True))
    due = (
        sa.select(d.c.id)
        .where(d.c.due_at <= now, free, d.c.endpoint_id.in_(enabled))
        .order_by(d.c.due_at, d.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=d)
    )
    return (
        d.update()
        .where(d.c.id.in_(due.scalar_subquery()), d.c.due_at <= now, free)
        .values(locked_until=now + lease, lock_token=token)
        .returning(*_CLAIMED)
    )


def claim(conn: Connection, *, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    token = str(uuid.uuid4())
    rows = conn.execute(claim_statement(now, lease, limit, token)).all()
    return sorted((Claimed(**r._mapping) for r in rows), key=lambda c: c.id)


@dataclass(frozen=True)
class AttemptRecord:
    kind: str
    number: int | None
    started_at: datetime
    duration_ms: int
    status_code: int | None
    succeeded: bool
    error: str | None
    response_body: str | None
    next_attempt_at: datetime | None


def record(conn: Connection, claimed: Claimed, attempt: AttemptRecord,
           state: dict[str, Any] | None) -> bool:
    """Store the attempt; apply STATE (the delivery's new columns) if the lease is still ours.

    Returns False when the lease had lapsed and been taken over: the attempt is kept in the
    log (it happened) but the delivery's state belongs to the dispatcher now holding it.
    """
    conn.execute(webhook_attempts.insert().values(delivery_id=claimed.id, **attempt.__dict__))
    d = webhook_deliveries
    values = dict(state or {})
    values.update(locked_until=None, lock_token=None, last_attempt_at=attempt.started_at,
                  last_status_code=attempt.status_code, last_error=attempt.error)
    result = conn.execute(
        d.update().where(d.c.id == claimed.id, d.c.lock_token == claimed.lock_token)
        .values(**values))
    return result.rowcount > 0


def release(conn: Connection, claimed: Claimed) -> None:
    """Give a claimed delivery back untouched (the dispatcher is stopping before sending)."""
    d = webhook_deliveries
    conn.execute(d.update().where(d.c.id == claimed.id, d.c.lock_token == claimed.lock_token)
                 .values(locked_until=None, lock_token=None))


def due_at(status: str, next_attempt_at: datetime | None,
           manual_requested_at: datetime | None) -> datetime | None:
    times = [t for t in (next_attempt_at if status == PENDING else None, manual_requested_at)
             if t is not None]
    return min(times) if times else None


def add_ping(conn: Connection, endpoint_id: int, *, now: datetime) -> int:
    message_id = str(uuid.uuid4())
    row = _new_row(endpoint_id, message_id, PING, None,
                   serialize(ping_payload(message_id, endpoint_id, now)), False, now)
    return conn.execute(webhook_deliveries.insert().values(**row)
                        .returning(webhook_deliveries.c.id)).scalar_one()


def request_redelivery(conn: Connection, delivery_id: int, *, now: datetime) -> None:
    """Send again soon, as a manual attempt: same webhook-id, fresh timestamp and signature.
    The automatic schedule is neither reset nor used up by it."""
    d = webhook_deliveries
    row = conn.execute(sa.select(d.c.status, d.c.next_attempt_at).where(d.c.id == delivery_id)
                       ).one_or_none()
    if row is None:
        raise DeliveryNotFound(f"no webhook delivery with id {delivery_id}")
    conn.execute(d.update().where(d.c.id == delivery_id).values(
        manual_requested_at=now, due_at=due_at(row.status, row.next_attempt_at, now)))


def requeue_failed(conn: Connection, endpoint_id: int, *, since: datetime,
                   until: datetime | None, now: datetime, limit: int) -> int:
    """Manual redelivery of the endpoint's failed deliveries made in [since, until)."""
    d = webhook_deliveries
    window = [d.c.endpoint_id == endpoint_id, d.c.status == FAILED, d.c.created_at >= since]
    if until is not None:
        window.append(d.c.created_at < until)
    ids = sa.select(d.c.id).where(*window).order_by(d.c.id).limit(limit)
    result = conn.execute(d.update().where(d.c.id.in_(ids.scalar_subquery()))
                          .values(manual_requested_at=now, due_at=now))
    return result.rowcount


def missing_event_ids(conn: Connection, endpoint_id: int, event_ids: Sequence[str]) -> set[str]:
    if not event_ids:
        return set()
    d = webhook_deliveries
    have = set(conn.execute(sa.select(d.c.event_id).where(
        d.c.endpoint_id == endpoint_id, d.c.event_id.in_(list(event_ids)))).scalars())
    return set(event_ids) - have


def add_deliveries(conn: Connection, endpoint_id: int, include_body: bool,
                   items: Sequence[tuple[RecordedEvent, str]], *, now: datetime) -> int:
    rows = [_new_row(endpoint_id, r.event_id, r.type, r.position, text, include_body, now)
            for r, text in items]
    if rows:
        conn.execute(webhook_deliveries.insert(), rows)
    return len(rows)


def get_delivery(conn: Connection, delivery_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(webhook_deliveries).where(
        webhook_deliveries.c.id == delivery_id)).one_or_none()
    if row is None:
        raise DeliveryNotFound(f"no webhook delivery with id {delivery_id}")
    return dict(row._mapping)


def attempts_of(conn: Connection, delivery_id: int) -> list[dict[str, Any]]:
    a = webhook_attempts
    return [dict(r._mapping) for r in conn.execute(
        sa.select(a).where(a.c.delivery_id == delivery_id).order_by(a.c.id))]


def list_deliveries(conn: Connection, *, endpoint_id: int | None = None,
                    status: str | None = None, event_type: str | None = None,
                    since: datetime | None = None, until: datetime | None = None,
                    before_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first; page with BEFORE_ID (the last id of the previous page)."""
    d = webhook_deliveries
    query = sa.select(d)
    if endpoint_id is not None:
        query = query.where(d.c.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(d.c.status == status)
    if event_type is not None:
        query = query.where(d.c.event_type == event_type)
    if since is not None:
        query = query.where(d.c.created_at >= since)
    if until is not None:
        query = query.where(d.c.created_at < until)
    if before_id is not None:
        query = query.where(d.c.id < before_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(d.c.id.desc()).limit(limit))]


def status_counts(conn: Connection) -> dict[tuple[int, str], int]:
    d = webhook_deliveries
    return {(r.endpoint_id, r.status): r.n for r in conn.execute(
        sa.select(d.c.endpoint_id, d.c.status, sa.func.count().label("n"))
        .group_by(d.c.endpoint_id, d.c.status))}


def purge(conn: Connection, *, before: datetime) -> int:
    """Delete finished (succeeded or failed) deliveries made before BEFORE, with attempts."""
    d = webhook_deliveries
    old = sa.select(d.c.id).where(d.c.status.in_([SUCCEEDED, FAILED]), d.c.created_at < before,
                                  d.c.manual_requested_at.is_(None), d.c.lock_token.is_(None))
    conn.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(old)))
    return conn.execute(d.delete().where(d.c.id.in_(old))).rowcount
