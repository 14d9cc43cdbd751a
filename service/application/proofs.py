"""Inclusion and consistency proofs over the hash chain, read in one snapshot.

See service/audit/proofs.py for what a proof holds, how it is checked and what it costs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, Engine

from ..audit.proofs import FORMAT, event_document
from ..db import read_transaction
from ..domain.errors import DomainError
from ..domain.events import AuditCheckpoint
from ..eventstore import EventStore, chain
from .checkpoints import as_dict

# A proof carries every event it spans (about 0.5-1 KB each); longer spans are proved as a
# sequence of consistency proofs between the checkpoints in them.
MAX_PROOF_EVENTS = 10_000


class ProofSubjectNotFound(DomainError):
    """No checkpoint there, or none that covers the position asked about."""

    code = "checkpoint_not_found"


class ProofTooLong(DomainError):
    code = "proof_too_long"


class Proofs:
    def __init__(self, engine: Engine, store: EventStore):
        self.engine = engine
        self.store = store

    def inclusion(self, position: int, checkpoint: int | None = None) -> dict[str, Any]:
        """What proves event POSITION is in the log under a checkpoint (default: the
        latest; else the one at log position CHECKPOINT)."""
        with read_transaction(self.engine) as conn:
            signed = self._checkpoint(conn, checkpoint, "checkpoint")
            head = signed["head_position"]
            if position > head:
                raise ProofSubjectNotFound(
                    f"event {position} is not under the checkpoint at position "
                    f"{signed['position']} (it signs up to {head}); sign a newer one",
                    {"position": [f"At most {head} under this checkpoint."]})
            self._short_enough(position, head, "position")
            previous = chain.stored_hash(conn, position - 1)
            if previous is None:
                raise ProofSubjectNotFound(f"event {position - 1} is missing from the log",
                                           {"position": ["The log has a gap before it."]})
            events = self._events(conn, position, head)
        return {"format": FORMAT, "kind": "inclusion", "position": position,
                "previous_hash": previous.hex(), "events": events, "checkpoint": signed}

    def consistency(self, older: int, newer: int) -> dict[str, Any]:
        """What proves the checkpoint at log position NEWER extends the one at OLDER."""
        if older >= newer:
            raise DomainError("from must be before to", {"to": ["Must be after from."]})
        with read_transaction(self.engine) as conn:
            first = self._checkpoint(conn, older, "from")
            last = self._checkpoint(conn, newer, "to")
            self._short_enough(first["head_position"] + 1, last["head_position"], "to")
            events = self._events(conn, first["head_position"] + 1, last["head_position"])
        return {"format": FORMAT, "kind": "consistency", "from": first, "to": last,
                "events": events}

    def _checkpoint(self, conn: Connection, position: int | None, field: str
                    ) -> dict[str, Any]:
        if position is None:
            latest = self.store.last_of_type(conn, AuditCheckpoint.TYPE)
            if latest is None:
                raise ProofSubjectNotFound("no checkpoint has been signed yet",
                                           {field: ["Sign one: moderation audit checkpoint."]})
            return as_dict(latest)
        [found] = self.store.read_all(conn, after=position - 1, limit=1) or [None]
        if found is None or found.position != position or found.type != AuditCheckpoint.TYPE:
            raise ProofSubjectNotFound(f"there is no checkpoint at position {position}",
                                       {field: ["Not the position of an audit.checkpoint."]})
        return as_dict(found)

    def _short_enough(self, first: int, last: int, field: str) -> None:
        if last - first + 1 > MAX_PROOF_EVENTS:
            raise ProofTooLong(
                f"the proof would span {last - first + 1} events, more than "
                f"{MAX_PROOF_EVENTS}; prove it against an earlier checkpoint and link "
                "checkpoints with consistency proofs",
                {field: [f"At most {MAX_PROOF_EVENTS} events apart."]})

    def _events(self, conn: Connection, first: int, last: int) -> list[dict[str, Any]]:
        out = []
        for row in chain.iter_chained(conn, after=first - 1,
                                      batch_size=min(2000, last - first + 1)):
            if row.position > last:
                break
            out.append(event_document(row))
        return out
