"""Stable wire names and JSON payloads for domain events, with upcasting on read.

Stored payloads are versioned (`schema_version`); an old payload is upcast step by step when
read, so events written years ago are never rewritten. Personal data is sealed by the vault.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from ..domain.events import (
    EVENT_TYPES,
    PLAIN_EVENTS,
    ArticleRegistered,
    AuthorErased,
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
    DomainEvent,
    Flag,
)
from .master_key import NO_MASTER, MasterKeys
from .personal_data import PersonalDataVault, address_subject
from .store import RecordedEvent

CURRENT_SCHEMA = {**{name: 1 for name in EVENT_TYPES}, CommentScreened.TYPE: 2}
PERSONAL_FIELDS = ("author_name", "author_email", "network_address", "body")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _screened_v1(data: dict[str, Any]) -> dict[str, Any]:
    """comment.screened 1 -> 2: version 1 kept each flag's evidence in plain form inside
    `flags`; version 2 seals it apart. Old evidence is moved to `unsealed_evidence`, served
    like sealed evidence (to moderators only) but it cannot be erased from the log."""
    flags = [{"code": f["code"], "guideline": f["guideline"]} for f in data["flags"]]
    return {**data, "flags": flags, "author_id": None, "evidence": None,
            "unsealed_evidence": [f["evidence"] for f in data["flags"]]}


UPCASTERS: dict[tuple[str, int], Upcaster] = {(CommentScreened.TYPE, 1): _screened_v1}


class UnknownEventType(Exception):
    pass


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


class EventCodec:
    def __init__(self, vault: PersonalDataVault, upcasters: dict | None = None):
        self._vault = vault
        self._upcasters = UPCASTERS if upcasters is None else upcasters

    @property
    def vault(self) -> PersonalDataVault:
        return self._vault

    def encode(self, event: DomainEvent) -> tuple[str, int, dict[str, Any]]:
        data = asdict(event)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = _time(value)
        if isinstance(event, CommentSubmitted):
            data.pop("erased")
            personal = {name: data.pop(name) for name in PERSONAL_FIELDS}
            if event.network_address is not None:  # sealed again, under the day's key
                personal["network_address"] = self._vault.seal(
                    address_subject(event.submitted_at.astimezone(UTC).date()),
                    {"network_address": event.network_address}, address_aad(event.comment_id))
            data["personal"] = self._vault.seal(event.author_id, personal, event.comment_id)
        elif sealed := getattr(event, "PERSONAL", ()):
            subject = getattr(event, getattr(event, "SUBJECT", "author_id"))
            personal = {name: data.pop(name) for name in sealed}
            data["personal"] = self._vault.seal(subject, personal, _aad(event.TYPE, subject))
        if isinstance(event, CommentRejected):
            data["reasons"] = list(event.reasons)
        if isinstance(event, AuthorErased):
            data["comment_ids"] = list(event.comment_ids)
        if isinstance(event, CommentScreened):
            # screening quotes the text (e-mail addresses, links, the words matched): sealed
            # under the author's key, so erasing the author erases it too
            author_id = event.author_id
            data["flags"] = [{"code": f.code, "guideline": f.guideline} for f in event.flags]
            data["evidence"] = self._vault.seal(
                author_id, {"evidence": [f.evidence for f in event.flags]},
                screening_aad(event.comment_id)) if author_id and event.flags else None
        return event.TYPE, CURRENT_SCHEMA[event.TYPE], data

    def decode_all(self, batch: list[RecordedEvent], *,
                   personal: bool = True) -> list[DomainEvent]:
        """Decode many events, fetching their personal-data keys in one go (or, when the
        reader may not see personal data, not opening it at all)."""
        if personal:
            self._vault.preload({s for r in batch if (s := _subject(r)) is not None})
        return [self.decode(r, personal=personal) for r in batch]

    def decode(self, recorded: RecordedEvent, *, personal: bool = True) -> DomainEvent:
        cls = EVENT_TYPES.get(recorded.type)
        if cls is None:
            raise UnknownEventType(recorded.type)
        data = self.upcast(recorded.type, recorded.schema_version, recorded.data)
        if cls is CommentSubmitted:
            opened = self._vault.open(data["personal"], data["comment_id"]) if personal \
                else None
            held = dict(opened or dict.fromkeys(PERSONAL_FIELDS))
            address = held.get("network_address")
            if isinstance(address, dict):  # None once the day's key is swept
                inner = self._vault.open(address, address_aad(data["comment_id"]))
                held["network_address"] = inner["network_address"] if inner else None
            return CommentSubmitted(
                comment_id=data["comment_id"], article_id=data["article_id"],
                parent_id=data["parent_id"], author_id=data["author_id"],
                submitted_at=_parse_time(data["submitted_at"]),
                **{name: held.get(name) for name in PERSONAL_FIELDS},
                erased=personal and opened is None,
            )
        if cls is CommentApproved:
            return CommentApproved(
                data["comment_id"], data["article_id"], data["previous_status"],
                data["moderator_id"], data["note"], _parse_time(data["decided_at"]))
        if cls is CommentRejected:
            return CommentRejected(
                data["comment_id"], data["article_id"], data["previous_status"],
                data["moderator_id"], tuple(data["reasons"]),
                data["guideline_version"], data["note"], _parse_time(data["decided_at"]))
        if cls in PLAIN_EVENTS:
            return _plain(cls, data)
        if cls is CommentScreened:
            return self._screened(data, personal)
        if sealed := getattr(cls, "PERSONAL", ()):
            subject = data[getattr(cls, "SUBJECT", "author_id")]
            opened = self._vault.open(data["personal"], _aad(cls.TYPE, subject)) \
                if personal and "personal" in data else None
            return _plain(cls, {**data, **{n: (opened or {}).get(n) for n in sealed}})
        if cls is ArticleRegistered:
            return ArticleRegistered(
                article_id=data["article_id"], title=data["title"], url=data["url"],
                language=data["language"], published_at=_parse_time(data["published_at"]),
                summary=data["summary"], registered_at=_parse_time(data["registered_at"]))
        return _plain(cls, data)

    def _screened(self, data: dict[str, Any], personal: bool) -> CommentScreened:
        sealed = data.get("evidence")
        evidence: list[str | None] = [None] * len(data["flags"])
        if personal and sealed is not None:
            opened = self._vault.open(sealed, screening_aad(data["comment_id"]))
            if opened is not None:
                evidence = opened["evidence"]
        elif personal and data.get("unsealed_evidence") is not None:
            evidence = data["unsealed_evidence"]
        flags = tuple(Flag(f["code"], f["guideline"], e)
                      for f, e in zip(data["flags"], evidence, strict=True))
        return CommentScreened(data["comment_id"], flags, data["risk"], data["screener"],
                               _parse_time(data["screened_at"]), data["author_id"])

    def public_payload(self, recorded: RecordedEvent) -> dict[str, Any]:
        """The payload without its sealed personal part, straight from storage: what a
        reader who may not see personal data gets, without decrypting or rebuilding the
        domain event (the feed's hot path)."""
        if recorded.type not in EVENT_TYPES:
            raise UnknownEventType(recorded.type)
        data = self.upcast(recorded.type, recorded.schema_version, recorded.data)
        return {k: v for k, v in data.items() if k not in PRIVATE_KEYS}

    def upcast(self, type_: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
        target = CURRENT_SCHEMA[type_]
        while schema_version < target:
            data = self._upcasters[(type_, schema_version)](dict(data))
            schema_version += 1
        if schema_version > target:
            raise UnknownEventType(f"{type_} schema {schema_version} is newer than this code")
        return data


PRIVATE_KEYS = frozenset({"personal", "evidence", "unsealed_evidence"})


def address_aad(comment_id: str) -> str:
    return f"{comment_id}/address"


def screening_aad(comment_id: str) -> str:
    return f"{comment_id}/screening"


def _aad(type_: str, subject: str) -> str:
    """What a sealed part of an author's event is bound to: it opens only there."""
    return f"{type_}:{subject}"


def _subject(recorded: RecordedEvent) -> str | None:
    """Whose key opens the sealed part of a stored event, if it has one."""
    if recorded.type == CommentScreened.TYPE:
        sealed = recorded.data.get("evidence")
    else:  # a submission's personal data, or a moderator's words about an author
        sealed = recorded.data.get("personal")
    return sealed["subject"] if isinstance(sealed, dict) else None


def _plain(cls: type, data: dict[str, Any]) -> DomainEvent:
    """An event of scalars, tuples, dicts and times, stored field for field."""
    values = {}
    for f in fields(cls):
        value = data[f.name]
        kind = str(f.type)
        if kind.startswith("datetime"):
            value = _parse_time(value)
        elif kind.startswith("tuple") and value is not None:
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


CodecFactory = Callable[[Connection], EventCodec]
"""Makes the codec for one connection (its vault reads and writes keys there); built once,
in the composition root, and handed to whoever decodes or encodes events."""


def codec_factory(clock: Callable[[], datetime],
                  master: MasterKeys = NO_MASTER) -> CodecFactory:
    day_keys: dict[str, bytes] = {}  # see PersonalDataVault

    def codec_for(conn: Connection) -> EventCodec:
        return EventCodec(PersonalDataVault(conn, clock, master, day_keys))
    return codec_for
