"""API tokens: a role per token, only a SHA-256 hash kept, revocable, shown once at creation.

A token is `<role prefix>_<43 url-safe characters>` (256 random bits), so hashing it with
plain SHA-256 is enough: there is nothing to brute-force, and looking it up by its hash
leaks nothing useful through timing. The token's `name` is the identity recorded as the
actor of everything done with it; several tokens may share a name (rotation).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import UTCDateTime, metadata


class Role(StrEnum):
    MODERATOR = "moderator"
    AUDITOR = "auditor"
    ADMIN = "admin"


ROLES = tuple(r.value for r in Role)
PREFIXES = {Role.MODERATOR: "mod", Role.AUDITOR: "aud", Role.ADMIN: "adm"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
TOKEN = re.compile(r"^(mod|aud|adm)_[A-Za-z0-9_-]{43}$")
# last_used_at is a hint for operators, not an audit trail: refresh it at most this often
# so a busy token does not turn every read into a write.
TOUCH_INTERVAL = timedelta(minutes=5)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hint", sa.String(12), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("role IN ('moderator', 'auditor', 'admin')", name="role_known"),
)


class TokenError(ValueError):
    """A token request that cannot be honoured (bad name or role, unknown id)."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: str
    hint: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create(conn: Connection, *, name: str, role: str, now: datetime) -> tuple[TokenInfo, str]:
    """Make a token for NAME with ROLE. Returns its record and the token, which is never kept."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise TokenError("name must be 1-100 letters, digits, '.', '_', '@' or '-', "
                         "starting with a letter or digit")
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    token = f"{PREFIXES[Role(role)]}_{secrets.token_urlsafe(32)}"
    hint = token[:8]
    token_id = conn.execute(
        api_tokens.insert().values(name=name, role=role, token_hash=hash_token(token),
                                   hint=hint, created_at=now)
        .returning(api_tokens.c.id)
    ).scalar_one()
    return TokenInfo(token_id, name, role, hint, now, None, None), token


def list_tokens(conn: Connection, *, include_revoked: bool = True) -> list[TokenInfo]:
    query = sa.select(*_COLUMNS).order_by(api_tokens.c.id)
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [TokenInfo(**r._mapping) for r in conn.execute(query)]


def get(conn: Connection, token_id: int) -> TokenInfo | None:
    row = conn.execute(sa.select(*_COLUMNS).where(api_tokens.c.id == token_id)).one_or_none()
    return None if row is None else TokenInfo(**row._mapping)


def revoke(conn: Connection, token_id: int, *, now: datetime) -> TokenInfo:
    """Revoke a token; revoking it again changes nothing. Unknown ids raise TokenError."""
    conn.execute(
        api_tokens.update()
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    row = conn.execute(
        sa.select(*_COLUMNS).where(api_tokens.c.id == token_id)).one_or_none()
    if row is None:
        raise TokenError(f"no token with id {token_id}")
    return TokenInfo(**row._mapping)


def verify(conn: Connection, token: str) -> TokenInfo | None:
    """The active token's record, or None when the token is malformed, unknown or revoked."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    row = conn.execute(
        sa.select(*_COLUMNS).where(api_tokens.c.token_hash == hash_token(token))
    ).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return TokenInfo(**row._mapping)


def needs_touch(info: TokenInfo, now: datetime) -> bool:
    return info.last_used_at is None or now - info.last_used_at >= TOUCH_INTERVAL


def touch(conn: Connection, token_id: int, *, now: datetime) -> None:
    """Record that a token was used (at most once per TOUCH_INTERVAL; see needs_touch)."""
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id)
                 .values(last_used_at=now))


_COLUMNS = (
    api_tokens.c.id, api_tokens.c.name, api_tokens.c.role, api_tokens.c.hint,
    api_tokens.c.created_at, api_tokens.c.revoked_at, api_tokens.c.last_used_at,
)
