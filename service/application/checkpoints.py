"""Signed checkpoints: the log's head position and hash, signed with Ed25519 and appended
to the log itself as `audit.checkpoint` (so webhook subscribers receive and can keep them).

A checkpoint is made under the append lock: nothing can be appended between reading the
head's hash and recording the checkpoint, so it names exactly the event before it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ..audit.signing import FORMAT, Signer, statement
from ..db import read_transaction
from ..domain.events import CHECKPOINT_STREAM, AuditCheckpoint
from ..eventstore import ANY, EventStore, RecordedEvent, chain
from .commands import Actor, Context
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
CHECKPOINTER = Context(Actor(id="checkpointer", role="system"))


class NoSigningKey(RuntimeError):
    """Checkpoints need MODERATION_SIGNING_KEY (or the demo's key file)."""


class Checkpoints:
    def __init__(self, engine: Engine, store: EventStore,
                 unit_of_work: Callable[[], UnitOfWork], clock: Callable[[], datetime],
                 signer: Signer | None):
        self.engine = engine
        self.store = store
        self._unit_of_work = unit_of_work
        self.clock = clock
        self.signer = signer

    @property
    def public_key(self) -> str | None:
        return self.signer.public_key if self.signer else None

    @property
    def key_id(self) -> str | None:
        return self.signer.key_id if self.signer else None

    def sign(self, ctx: Context = CHECKPOINTER) -> dict[str, Any]:
        """Sign the head now and record it; returns the checkpoint."""
        made = self._sign(ctx, due=None)
        assert made is not None
        return made

    def sign_if_due(self, *, every: int, minutes: float,
                    ctx: Context = CHECKPOINTER) -> dict[str, Any] | None:
        """Sign when `every` events (0: never by count) came since the last checkpoint, or
        `minutes` passed since it (0: never by time) and at least one event came."""
        if not (every or minutes) or self.signer is None:
            return None
        with read_transaction(self.engine) as conn:  # cheap look first, without the lock
            due = self._due(self.store.head(conn),
                            self.store.last_of_type(conn, AuditCheckpoint.TYPE), every, minutes)
        if not due:
            return None
        return self._sign(ctx, due=(every, minutes))

    def _due(self, head: int, last: RecordedEvent | None, every: int, minutes: float) -> bool:
        since = head - (last.position if last else 0)
        if since <= 0:
            return False
        if every and since >= every:
            return True
        if minutes:
            if last is None:
                return True
            return self.clock() - last.recorded_at >= timedelta(minutes=minutes)
        return False

    def _sign(self, ctx: Context, due: tuple[int, float] | None) -> dict[str, Any] | None:
        if self.signer is None:
            raise NoSigningKey("no signing key: set MODERATION_SIGNING_KEY (base64 of an "
                               "Ed25519 seed; `moderation audit keygen` makes one)")
        with self._unit_of_work() as uow:
            head = self.store.lock_head(uow.conn)
            if due is not None and not self._due(
                    head, self.store.last_of_type(uow.conn, AuditCheckpoint.TYPE), *due):
                return None  # another dispatcher signed first
            head_hash = chain.stored_hash(uow.conn, head)
            if head_hash is None:
                raise RuntimeError(f"the log has no event at its head position {head}")
            now = self.clock()
            hex_hash = head_hash.hex()
            event = AuditCheckpoint(head, hex_hash, now, self.signer.key_id,
                                    self.signer.public_key,
                                    self.signer.sign(statement(head, hex_hash, now)))
            [rec] = uow.record(CHECKPOINT_STREAM, [event], ANY, ctx.metadata())
            uow.commit()
        log.info("checkpoint of position %d (hash %s) signed with key %s, at position %d",
                 head, hex_hash, event.key_id, rec.position)
        return as_dict(rec)

    def list(self, *, before: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Checkpoints newest first, before log position `before`."""
        with read_transaction(self.engine) as conn:
            rows = self.store.read_before(conn, types=[AuditCheckpoint.TYPE], before=before,
                                          limit=limit)
        return [as_dict(r) for r in rows]

    def latest(self) -> dict[str, Any] | None:
        with read_transaction(self.engine) as conn:
            last = self.store.last_of_type(conn, AuditCheckpoint.TYPE)
        return as_dict(last) if last else None


def as_dict(recorded: RecordedEvent) -> dict[str, Any]:
    """A checkpoint as the API and proofs show it: the signed fields plus where it is."""
    d = recorded.data
    return {
        "position": recorded.position, "head_position": d["head_position"],
        "head_hash": d["head_hash"], "signed_at": d["signed_at"], "key_id": d["key_id"],
        "public_key": d["public_key"], "signature": d["signature"], "format": FORMAT,
    }
