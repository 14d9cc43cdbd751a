"""Proofs over the hash chain, and their offline verifier.

The log is a linear hash chain: hash(n) = SHA-256(hash(n-1) || canonical(event n)). So

- an **inclusion proof** that event N is in the log under a checkpoint holds the hash before
  N, the events N .. the checkpoint's head as stored, and the signed checkpoint: hashing
  forward must land exactly on the signed head hash;
- a **consistency proof** that checkpoint Q extends checkpoint P holds both signed
  checkpoints and the events after P's head up to Q's head: hashing forward from P's signed
  hash must land exactly on Q's.

Forging either means finding a SHA-256 collision. The cost is linear: a proof carries every
event between the two points (about 0.5-1 KB each as stored, sealed personal data as
ciphertext), so it is small between neighbouring checkpoints (MODERATION_CHECKPOINT_EVERY
apart) and a long span is checked as a sequence of consistency proofs between the
checkpoints in it. A Merkle tree (RFC 9162) would make each proof logarithmic at the cost of
a tree kept beside the log; at checkpoints every thousand events the linear proofs stay
under a megabyte, so the chain is kept as it is.

`verify` needs only this module, `chain.canonical` and the public key: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..eventstore.chain import canonical, link
from .signing import verify_checkpoint

FORMAT = "moderation-audit-proof/v1"
EVENT_FIELDS = ("position", "event_id", "stream_id", "version", "type", "schema_version",
                "data", "metadata", "recorded_at")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def event_document(row: Any) -> dict[str, Any]:
    """One stored event as a proof carries it (a row of chain.iter_chained)."""
    (position, event_id, stream_id, version, type_, schema_version, data, metadata,
     recorded_at, hash_) = row
    return {
        "position": position, "event_id": str(event_id), "stream_id": stream_id,
        "version": version, "type": type_, "schema_version": schema_version, "data": data,
        "metadata": metadata, "recorded_at": recorded_at.isoformat(timespec="microseconds"),
        "hash": hash_.hex() if hash_ else None,
    }


def _walk(start: bytes, events: list[dict[str, Any]], first: int, last: int
          ) -> tuple[bytes | None, str]:
    """Hash forward from START over EVENTS, which must be exactly positions FIRST..LAST."""
    if len(events) != last - first + 1:
        return None, f"expected events {first}..{last}, got {len(events)} events"
    current = start
    for expected, event in enumerate(events, start=first):
        if not isinstance(event, dict) or event.get("position") != expected:
            return None, f"expected the event at position {expected}"
        try:
            encoded = canonical(*(event[f] for f in EVENT_FIELDS[:-1]),
                                datetime.fromisoformat(event["recorded_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            return None, f"event {expected} is malformed: {exc}"
        current = link(current, encoded)
        claimed = event.get("hash")
        if claimed is not None and claimed != current.hex():
            return None, (f"event {expected} does not hash to the hash it claims: its "
                          "content, or an earlier event's, was changed")
    return current, ""


def _hex(value: object, what: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise ValueError(f"{what} must be 64 hex digits")
    return bytes.fromhex(value)


def verify(proof: dict[str, Any], public_key: str) -> Verdict:
    """Check an inclusion or consistency proof with the signer's public key alone."""
    if not isinstance(proof, dict) or proof.get("format") != FORMAT:
        return Verdict(False, f"not a {FORMAT} document")
    try:
        if proof.get("kind") == "inclusion":
            return _inclusion(proof, public_key)
        if proof.get("kind") == "consistency":
            return _consistency(proof, public_key)
    except (KeyError, TypeError, ValueError) as exc:
        return Verdict(False, f"malformed proof: {exc}")
    return Verdict(False, "kind must be inclusion or consistency")


def _inclusion(proof: dict[str, Any], public_key: str) -> Verdict:
    checkpoint, position = proof["checkpoint"], proof["position"]
    if not verify_checkpoint(public_key, checkpoint):
        return Verdict(False, "the checkpoint's signature does not verify with this key")
    head = checkpoint["head_position"]
    if not isinstance(position, int) or not 1 <= position <= head:
        return Verdict(False, f"position {position} is not under the checkpoint (head {head})")
    end, problem = _walk(_hex(proof["previous_hash"], "previous_hash"), proof["events"],
                         position, head)
    if end is None:
        return Verdict(False, problem)
    if end.hex() != checkpoint["head_hash"]:
        return Verdict(False, f"the events hash to {end.hex()}, not to the signed head hash "
                              f"{checkpoint['head_hash']}: the log was rewritten")
    event = proof["events"][0]
    return Verdict(True, f"event {position} ({event['type']} {event['event_id']}) is in the "
                         f"log under the checkpoint of position {head} signed "
                         f"{checkpoint['signed_at']}")


def _consistency(proof: dict[str, Any], public_key: str) -> Verdict:
    older, newer = proof["from"], proof["to"]
    for name, checkpoint in (("from", older), ("to", newer)):
        if not verify_checkpoint(public_key, checkpoint):
            return Verdict(False, f"the '{name}' checkpoint's signature does not verify "
                                  "with this key")
    start, end = older["head_position"], newer["head_position"]
    if not start < end:
        return Verdict(False, "the 'to' checkpoint must be after the 'from' one")
    reached, problem = _walk(_hex(older["head_hash"], "from.head_hash"), proof["events"],
                             start + 1, end)
    if reached is None:
        return Verdict(False, problem)
    if reached.hex() != newer["head_hash"]:
        return Verdict(False, f"the log after position {start} hashes to {reached.hex()}, not "
                              f"to the later checkpoint's {newer['head_hash']}: it does not "
                              "extend the earlier log (rewritten or forked)")
    return Verdict(True, f"the log at position {end} extends the log at position {start} "
                         f"({end - start} events later)")
