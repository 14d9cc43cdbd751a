"""Webhook endpoints: where events go, which ones, and the secrets that sign them.

An endpoint subscribes to a list of event types (empty means all of them). Its secret is
`whsec_` + base64 of 32 random bytes, shown once when made or rotated. Rotating keeps the
previous secret signing alongside the new one for an overlap (24 h by default), so
receivers can switch without losing a message; at most MAX_OLD_SECRETS old ones are kept.

Secrets are stored as they are (a signing key has to be readable to sign); they are never
logged and never returned by a read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..db import write_transaction
from ..domain.errors import Conflict, InvalidInput, NotFound
from ..domain.subscriptions import MAX_DESCRIPTION, PING, SUBSCRIBABLE  # noqa: F401 - re-exported
from ..eventstore.master_key import NO_MASTER, MasterKeys
from . import signing
from .tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoint_secrets,
    webhook_endpoints,
)

MAX_OLD_SECRETS = 10

class EndpointNotFound(NotFound):
    code = "webhook_endpoint_not_found"


class InvalidEndpoint(InvalidInput):
    """A request to make or change an endpoint that cannot be honoured, per field."""


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    description: str
    event_types: tuple[str, ...]
    include_body: bool
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "description": self.description,
            "event_types": list(self.event_types), "include_body": self.include_body,
            "enabled": self.enabled, "disabled_at": self.disabled_at,
            "disabled_reason": self.disabled_reason, "failing_since": self.failing_since,
            "created_at": self.created_at, "updated_at": self.updated_at,
            "version": self.version,
        }


def valid_event_types(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidEndpoint("event_types must be a list of event type names",
                              {"event_types": ["Must be a list of strings."]})
    unknown = sorted(set(value) - set(SUBSCRIBABLE))
    if unknown:
        raise InvalidEndpoint(
            f"unknown event types: {', '.join(unknown)}",
            {"event_types": [f"Unknown: {', '.join(unknown)}. Known: {', '.join(SUBSCRIBABLE)}."]})
    return tuple(sorted(set(value), key=SUBSCRIBABLE.index))


def valid_description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise InvalidEndpoint("description is too long",
                              {"description": [f"At most {MAX_DESCRIPTION} characters."]})
    return value.strip()


def create(conn: Connection, *, url: str, event_types: Sequence[str] = (),
           description: str = "", include_body: bool = False,
           now: datetime, master: MasterKeys = NO_MASTER) -> tuple[Endpoint, str]:
    """Make an endpoint (URL already checked by the caller). Returns it and its secret."""
    endpoint_id = conn.execute(
        webhook_endpoints.insert().values(
            url=url, description=valid_description(description),
            event_types=list(valid_event_types(list(event_types))),
            include_body=bool(include_body), enabled=True, created_at=now, updated_at=now,
            version=1,
        ).returning(webhook_endpoints.c.id)
    ).scalar_one()
    secret = signing.new_secret()
    conn.execute(webhook_endpoint_secrets.insert().values(
        endpoint_id=endpoint_id, secret=master.wrap_text(secret), created_at=now,
        expires_at=None))
    return get(conn, endpoint_id), secret


def get(conn: Connection, endpoint_id: int, *, for_update: bool = False) -> Endpoint:
    query = sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
    if for_update:  # FOR NO KEY UPDATE: appends inserting deliveries (KEY SHARE) go on
        query = query.with_for_update(key_share=True)
    row = conn.execute(query).one_or_none()
    if row is None:
        raise EndpointNotFound(f"no webhook endpoint with id {endpoint_id}")
    return _endpoint(row._mapping)


def list_endpoints(conn: Connection, *, enabled: bool | None = None) -> list[Endpoint]:
    query = sa.select(webhook_endpoints).order_by(webhook_endpoints.c.id)
    if enabled is not None:
        query = query.where(webhook_endpoints.c.enabled.is_(enabled))
    return [_endpoint(r._mapping) for r in conn.execute(query)]


_UNSET: Any = object()


def update(conn: Connection, endpoint_id: int, *, now: datetime, url: str = _UNSET,
           event_types: Sequence[str] = _UNSET, description: str = _UNSET,
           include_body: bool = _UNSET, enabled: bool = _UNSET,
           expected_version: int | None = None) -> Endpoint:
    """Change what is given. Enabling a disabled endpoint clears its disabled reason and its
    failure run; deliveries held while it was disabled are then sent."""
    current = get(conn, endpoint_id, for_update=True)
    if expected_version is not None and expected_version != current.version:
        raise StaleEndpoint(current)
    values: dict[str, Any] = {}
    if url is not _UNSET:
        values["url"] = url
    if event_types is not _UNSET:
        values["event_types"] = list(valid_event_types(event_types))
    if description is not _UNSET:
        values["description"] = valid_description(description)
    if include_body is not _UNSET:
        values["include_body"] = bool(include_body)
    if enabled is not _UNSET and bool(enabled) != current.enabled:
        values["enabled"] = bool(enabled)
        if enabled:
            values.update(disabled_at=None, disabled_reason=None, failing_since=None)
        else:
            values.update(disabled_at=now, disabled_reason="disabled by an administrator")
    if not values:
        return current
    conn.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id)
                 .values(**values, updated_at=now, version=current.version + 1))
    return get(conn, endpoint_id)


class StaleEndpoint(Conflict):
    """If-Match named an older version of the endpoint than the current one."""

    code = "version_conflict"

    def __init__(self, current: Endpoint):
        super().__init__(f"webhook endpoint {current.id} is at version {current.version}; "
                         "fetch it and try again")
        self.current = current

    @property
    def details(self) -> dict[str, object]:
        return {"current_version": self.current.version}


def delete(conn: Connection, endpoint_id: int) -> None:
    """Remove the endpoint with its secrets, deliveries and attempts."""

    get(conn, endpoint_id)
    # Deliveries first, then the endpoint: the same lock order as a dispatcher recording
    # an attempt (delivery row, then endpoint row), so the two cannot deadlock.
    deliveries = sa.select(webhook_deliveries.c.id).where(
        webhook_deliveries.c.endpoint_id == endpoint_id)
    # Explicit rather than ON DELETE CASCADE alone: SQLite enforces it only with the
    # foreign_keys pragma, which a hand-opened connection may lack.
    conn.execute(webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(deliveries)))
    conn.execute(webhook_deliveries.delete().where(
        webhook_deliveries.c.endpoint_id == endpoint_id))
    conn.execute(webhook_endpoint_secrets.delete().where(
        webhook_endpoint_secrets.c.endpoint_id == endpoint_id))
    conn.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint_id))


def rotate_secret(conn: Connection, endpoint_id: int, *, now: datetime,
                  overlap: timedelta, master: MasterKeys = NO_MASTER) -> str:
    """A new current secret; the old current one keeps signing until now + OVERLAP."""
    current = get(conn, endpoint_id, for_update=True)
    secrets = webhook_endpoint_secrets
    conn.execute(secrets.delete().where(secrets.c.endpoint_id == endpoint_id,
                                        secrets.c.expires_at.is_not(None),
                                        secrets.c.expires_at <= now))
    conn.execute(secrets.update().where(secrets.c.endpoint_id == endpoint_id,
                                        secrets.c.expires_at.is_(None))
                 .values(expires_at=now + overlap))
    retired = conn.execute(
        sa.select(secrets.c.id).where(secrets.c.endpoint_id == endpoint_id,
                                      secrets.c.expires_at.is_not(None))
        .order_by(secrets.c.expires_at.desc(), secrets.c.id.desc())
    ).scalars().all()
    if len(retired) > MAX_OLD_SECRETS:
        conn.execute(secrets.delete().where(secrets.c.id.in_(retired[MAX_OLD_SECRETS:])))
    secret = signing.new_secret()
    conn.execute(secrets.insert().values(endpoint_id=endpoint_id,
                                         secret=master.wrap_text(secret),
                                         created_at=now, expires_at=None))
    conn.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id)
                 .values(updated_at=now, version=current.version + 1))
    return secret


def signing_secrets(conn: Connection, endpoint_id: int, now: datetime,
                    master: MasterKeys = NO_MASTER) -> list[str]:
    """Every secret that signs at NOW: the current one first, then unexpired old ones."""
    secrets = webhook_endpoint_secrets
    rows = conn.execute(
        sa.select(secrets.c.secret, secrets.c.expires_at).where(
            secrets.c.endpoint_id == endpoint_id,
            sa.or_(secrets.c.expires_at.is_(None), secrets.c.expires_at > now))
        .order_by(secrets.c.expires_at.is_not(None), secrets.c.id.desc())
    ).all()
    return [master.unwrap_text(r.secret) for r in rows]


def rewrap_secrets(engine: Engine, master: MasterKeys, *, batch: int = 500) -> int:
    """Wrap every signing secret with the current master key, in short transactions; a row
    is replaced only if it is still what was read. Returns how many were rewrapped."""
    secrets = webhook_endpoint_secrets
    done, after = 0, 0
    while True:
        with write_transaction(engine) as conn:
            rows = conn.execute(sa.select(secrets.c.id, secrets.c.secret)
                                .where(secrets.c.id > after).order_by(secrets.c.id)
                                .limit(batch)).all()
            for row in rows:
                if master.text_wrapped_by_current(row.secret):
                    continue
                conn.execute(secrets.update().where(
                    secrets.c.id == row.id, secrets.c.secret == row.secret,
                ).values(secret=master.wrap_text(master.unwrap_text(row.secret))))
                done += 1
        if len(rows) < batch:
            return done
        after = rows[-1].id


def secret_expiries(conn: Connection, endpoint_id: int, now: datetime) -> list[datetime]:
    """When each old secret that still signs stops signing (for the admin's view)."""
    secrets = webhook_endpoint_secrets
    return list(conn.execute(
        sa.select(secrets.c.expires_at).where(secrets.c.endpoint_id == endpoint_id,
                                              secrets.c.expires_at > now)
        .order_by(secrets.c.expires_at)).scalars())


def disable(conn: Connection, endpoint_id: int, *, now: datetime, reason: str) -> bool:
    """Disable an enabled endpoint, recording why. False if it already was disabled."""
    result = conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.enabled.is_(True))
        .values(enabled=False, disabled_at=now, disabled_reason=reason[:500], updated_at=now,
                version=webhook_endpoints.c.version + 1))
    return result.rowcount > 0


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row["id"], url=row["url"], description=row["description"],
        event_types=tuple(row["event_types"] or ()), include_body=row["include_body"],
        enabled=row["enabled"], disabled_at=row["disabled_at"],
        disabled_reason=row["disabled_reason"], failing_since=row["failing_since"],
        created_at=row["created_at"], updated_at=row["updated_at"], version=row["version"],
    )
