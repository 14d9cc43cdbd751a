"""Crypto-shredding: personal data in events is sealed with a key per data subject.

The log never holds an author's name, e-mail, address or comment text in plain form. Erasing
a subject deletes its key row; every event stays byte for byte as it was, but the sealed part
can no longer be opened. Keys are cached per vault, which lives for one transaction or rebuild.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine

from ..db import write_transaction
from .master_key import NO_MASTER, MasterKeys
from .tables import installation, subject_keys

ALGORITHM = "A256GCM"
ADDRESS_PREFIX = "addresses-"


def address_subject(day: date) -> str:
    """Network addresses are sealed under a key per day (inside the author's sealed part),
    so destroying a day's key makes that day's addresses unreadable for everyone at once."""
    return f"{ADDRESS_PREFIX}{day.isoformat()}"


class PersonalDataVault:
    def __init__(self, conn: Connection, clock: Callable[[], datetime],
                 master: MasterKeys = NO_MASTER,
                 day_keys: dict[str, bytes] | None = None):
        self._conn = conn
        self._clock = clock
        self._master = master
        # Address day keys this process has used to seal, shared across transactions: the
        # current day's key is never swept (retention is at least a day), so sealing with
        # it needs no query. Only sealing uses it; opening always asks the database.
        self._day_keys = day_keys if day_keys is not None else {}
        self._keys: dict[str, bytes | None] = {}
        self._new: set[str] = set()
        self._created: set[str] = set()  # keys this transaction made
        self._pseudonym_key: bytes | None = None

    def pseudonym(self, kind: str, value: str) -> str:
        """A stable id for a value (an e-mail) that cannot be reversed without our secret."""
        if self._pseudonym_key is None:
            self._pseudonym_key = self._conn.execute(
                sa.select(installation.c.pseudonym_key).where(installation.c.id == 1)
            ).scalar_one()
        digest = hmac.new(self._pseudonym_key, f"{kind}:{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def mark_new(self, subject_id: str) -> None:
        """The caller just minted this subject id at random: no key can exist yet, so
        sealing need not look for one first."""
        self._new.add(subject_id)

    def seal(self, subject_id: str, payload: dict[str, Any], aad: str) -> dict[str, str]:
        key = self._day_keys.get(subject_id) if subject_id.startswith(ADDRESS_PREFIX) \
            else None
        if key is None:
            key = self._key(subject_id, create=True)
            if subject_id.startswith(ADDRESS_PREFIX) and subject_id not in self._created:
                # committed before this transaction began: safe to share (a key made in
                # this transaction would vanish with a rollback)
                if len(self._day_keys) > 4:
                    self._day_keys.clear()
                self._day_keys[subject_id] = key  # type: ignore[assignment]
        assert key is not None
        nonce = os.urandom(12)
        plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        sealed = AESGCM(key).encrypt(nonce, plaintext, aad.encode())
        return {
            "alg": ALGORITHM,
            "subject": subject_id,
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(sealed).decode(),
        }

    def open(self, sealed: dict[str, str], aad: str) -> dict[str, Any] | None:
        """The sealed payload, or None once its subject has been erased.

        A subject who comes back after an erasure (the same e-mail, so the same author id)
        gets a fresh key; what was sealed under the destroyed one does not open with it
        (the tag check fails) and stays erased."""
        key = self._key(sealed["subject"], create=False)
        if key is None:
            return None
        try:
            plaintext = AESGCM(key).decrypt(
                base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]),
                aad.encode(),
            )
        except InvalidTag:
            return None
        return orjson.loads(plaintext)  # a replay opens every comment: the fast parser

    def holds(self, subject_id: str) -> bool:
        """Whether a key exists for the subject (its sealed data can still be opened)."""
        return self._key(subject_id, create=False) is not None

    def preload(self, subject_ids: set[str]) -> None:
        """Fetch many keys in one query (a replay reads thousands of authors' comments)."""
        wanted = sorted(s for s in subject_ids if s not in self._keys)
        postgres = self._conn.dialect.name == "postgresql"
        size = 5000 if postgres else 1000
        for i in range(0, len(wanted), size):
            chunk = wanted[i:i + size]
            if postgres:  # one array parameter: compiled once, not parsed per batch
                found = dict(self._conn.execute(_KEYS_ANY, {"ids": chunk}).all())
            else:
                found = dict(self._conn.execute(
                    sa.select(subject_keys.c.subject_id, subject_keys.c.key)
                    .where(subject_keys.c.subject_id.in_(chunk))).all())
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys.update({s: self._unwrap(found.get(s)) for s in chunk})

    def holding(self, subject_ids: set[str]) -> set[str]:
        """Which of these subjects still have a key, in one query that reads no key (the
        feed says whether an author was erased; it opens nothing)."""
        known = {s for s in subject_ids if s in self._keys}
        held = {s for s in known if self._keys[s] is not None}
        wanted = sorted(subject_ids - known)
        statement = _HELD_ANY if self._conn.dialect.name == "postgresql" else _HELD
        for i in range(0, len(wanted), 1000):
            held.update(self._conn.execute(statement, {"ids": wanted[i:i + 1000]}).scalars())
        return held

    def erase(self, subject_id: str) -> bool:
        self._keys[subject_id] = None
        result = self._conn.execute(
            subject_keys.delete().where(subject_keys.c.subject_id == subject_id)
        )
        return result.rowcount > 0

    def address_days(self, before: date) -> list[str]:
        """The subjects of the per-day address keys for days before `before`."""
        ids = self._conn.execute(
            sa.select(subject_keys.c.subject_id)
            .where(subject_keys.c.subject_id.startswith(ADDRESS_PREFIX, autoescape=True))
        ).scalars()
        return sorted(s for s in ids if s[len(ADDRESS_PREFIX):] < before.isoformat())

    def _key(self, subject_id: str, *, create: bool) -> bytes | None:
        if subject_id in self._keys and (self._keys[subject_id] is not None or not create):
            return self._keys[subject_id]
        key = None if subject_id in self._new else self._load(subject_id)
        if key is None and create:
            fresh = AESGCM.generate_key(256)
            won = self._conn.execute(_insert_ignoring_conflict(self._conn), {
                "subject_id": subject_id, "key": self._master.wrap(fresh),
                "created_at": self._clock()},
            ).scalar_one_or_none()
            key = fresh if won is not None else self._load(subject_id)  # a racer's key won
            if won is not None:
                self._created.add(subject_id)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[subject_id] = key
        return key

    def _load(self, subject_id: str) -> bytes | None:
        return self._unwrap(self._conn.execute(
            _LOAD_KEY, {"subject_id": subject_id}).scalar_one_or_none())

    def _unwrap(self, stored: bytes | None) -> bytes | None:
        return None if stored is None else self._master.unwrap(stored)


def rewrap_subject_keys(engine: Engine, master: MasterKeys, *, batch: int = 500) -> int:
    """Wrap every subject key with the current master key, a batch per short transaction
    (the service keeps running). Each row is replaced only if it is still what was read,
    so a key erased meanwhile stays erased. Returns how many were rewrapped."""
    done, after = 0, ""
    while True:
        with write_transaction(engine) as conn:
            rows = conn.execute(
                sa.select(subject_keys.c.subject_id, subject_keys.c.key)
                .where(subject_keys.c.subject_id > after)
                .order_by(subject_keys.c.subject_id).limit(batch)).all()
            for row in rows:
                if master.wrapped_by_current(row.key):
                    continue
                conn.execute(subject_keys.update().where(
                    subject_keys.c.subject_id == row.subject_id,
                    subject_keys.c.key == row.key,
                ).values(key=master.wrap(master.unwrap(row.key))))
                done += 1
        if len(rows) < batch:
            return done
        after = rows[-1].subject_id


_LOAD_KEY = sa.select(subject_keys.c.key).where(
    subject_keys.c.subject_id == sa.bindparam("subject_id"))
_NEW_KEY: dict[str, sa.Insert] = {}
_HELD = sa.select(subject_keys.c.subject_id).where(
    subject_keys.c.subject_id.in_(sa.bindparam("ids", expanding=True)))
# one array parameter: the statement is compiled once, not once per list length
_KEYS_ANY = sa.select(subject_keys.c.subject_id, subject_keys.c.key).where(
    subject_keys.c.subject_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.String()))))
_HELD_ANY = sa.select(subject_keys.c.subject_id).where(
    subject_keys.c.subject_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.String()))))


def _insert_ignoring_conflict(conn: Connection):  # noqa: ANN202
    """Two first comments by one author may race to create the key; either key wins.
    Built once per dialect (it runs in every first comment)."""
    dialect = conn.dialect.name
    if dialect not in _NEW_KEY:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        _NEW_KEY[dialect] = insert(subject_keys).on_conflict_do_nothing(
            index_elements=["subject_id"]).returning(subject_keys.c.key)
    return _NEW_KEY[dialect]
