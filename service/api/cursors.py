"""Opaque pagination cursors: base64url text naming the list and the last position seen.

A cursor is only valid for the list that issued it (a queue cursor sorted oldest-first
cannot be replayed against the newest-first queue or the audit log); anything else is a
400 `invalid_cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime
from typing import Any

from .errors import ApiError

_PAYLOAD = re.compile(r"^v1:([a-z_-]+):(\d{1,18})(?::(-?[0-9.e+-]{1,32}))?$")


def encode(kind: str, position: int, score: float | None = None) -> str:
    text = f"v1:{kind}:{int(position)}" + (f":{float(score)!r}" if score is not None else "")
    return base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")


def decode(kind: str, cursor: str | None) -> int | None:
    """The position a cursor points after, None for no cursor; ApiError(400) if malformed."""
    position, _ = decode_scored(kind, cursor, scored=False)
    return position


def decode_scored(kind: str, cursor: str | None, *,
                  scored: bool = True) -> tuple[int | None, float | None]:
    """(position, score) of a cursor for a list ordered by a score, e.g. risk."""
    if cursor is None:
        return None, None
    try:
        if len(cursor) > 100 or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid() from None
    match = _PAYLOAD.fullmatch(text)
    if not match or match.group(1) != kind or (match.group(3) is not None) != scored:
        raise _invalid()
    score = None
    if scored:
        try:
            score = float(match.group(3))
        except ValueError:
            raise _invalid() from None
        if not math.isfinite(score):
            raise _invalid()
    return int(match.group(2)), score


def encode_keys(kind: str, keys: tuple | list) -> str:
    """A cursor after a row of a list ordered by several keys (ints, floats, UTC datetimes,
    strings), e.g. the reported queue's (open reports, risk, submitted at, id)."""
    plain = [k.isoformat() if isinstance(k, datetime) else k for k in keys]
    text = f"v1:{kind}:" + json.dumps(plain, separators=(",", ":"), ensure_ascii=True)
    return base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")


def decode_keys(kind: str, cursor: str | None, types: tuple[type, ...]) -> tuple | None:
    """The keys of a cursor made by `encode_keys` for KIND, checked against TYPES; None for
    no cursor; ApiError(400) if malformed or of another list."""
    if cursor is None:
        return None
    prefix = f"v1:{kind}:"
    try:
        if len(cursor) > 400 or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        if not text.startswith(prefix):
            raise ValueError
        raw = json.loads(text[len(prefix):])
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError
        return tuple(_key(value, kind_) for value, kind_ in zip(raw, types, strict=True))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise _invalid() from None


def _key(value: Any, kind: type) -> Any:
    if kind is datetime:
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return moment
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str) and len(value) <= 200:
        return value
    raise ValueError


def next_cursor(kind: str, rows: list[dict], limit: int, key: str,
                score_key: str | None = None) -> str | None:
    """A cursor after the last of LIMIT rows, when a further page may exist (rows > limit)."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode(kind, last[key], last[score_key] if score_key else None)


def _invalid() -> ApiError:
    return ApiError(400, "invalid_cursor",
                    "The cursor is malformed or belongs to another list; use the "
                    "next_cursor of a previous page, or omit it to start from the beginning.",
                    {"cursor": ["Not a valid cursor for this list."]})
