"""Remembered results of idempotent commands, written in the command's own transaction.

A retry with the same key and the same request gets the first result back and appends
nothing; the same key with a different request is refused. Two racing first attempts both
try to insert the key; the primary key lets exactly one commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import JSONDoc, UTCDateTime, metadata
from .errors import IdempotencyKeyReused

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(200), primary_key=True),  # "submit:" + an article id
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("result", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)


def request_fingerprint(request: dict[str, Any]) -> str:
    # ASCII escapes keep any string hashable, even one with an unpaired surrogate
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def recall(conn: Connection, scope: str, key: str, fingerprint: str) -> dict[str, Any] | None:
    row = conn.execute(
        sa.select(idempotency_keys.c.request_hash, idempotency_keys.c.result).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    ).one_or_none()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request",
            {"idempotency_key": ["Already used with different content."]},
        )
    return row.result


def remember(conn: Connection, scope: str, key: str, fingerprint: str,
             result: dict[str, Any], now: datetime) -> None:
    conn.execute(_REMEMBER, {"scope": scope, "key": key, "request_hash": fingerprint,
                             "result": result, "created_at": now})


_REMEMBER = idempotency_keys.insert()  # built once: every keyed submission writes one


def remember_more(conn: Connection, scope: str, key: str, result: dict[str, Any]) -> None:
    """Replace a remembered result (a bulk request keeps its results as its items commit)."""
    conn.execute(_REMEMBER_MORE, {"_scope": scope, "_key": key, "result": result})


_REMEMBER_MORE = idempotency_keys.update().where(
    idempotency_keys.c.scope == sa.bindparam("_scope"),
    idempotency_keys.c.key == sa.bindparam("_key")).values(result=sa.bindparam("result"))
