"""What an administrator can do with webhooks, each in its own short transaction.

The HTTP API and the CLI both go through `Webhooks`; neither touches the tables directly.
URLs are checked by the SSRF guard (which resolves the name) before any transaction opens.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..config import Settings
from ..db import read_transaction, write_transaction
from ..domain.errors import Conflict
from ..domain.events import (
    DomainEvent,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookEndpointDisabled,
    WebhookEndpointUpdated,
    WebhookSecretRotated,
    url_fingerprint,
    webhook_endpoint_stream,
)
from ..eventstore import ANY, EventStore
from ..eventstore.codec import CodecFactory
from ..eventstore.master_key import NO_MASTER, MasterKeys
from . import endpoints, outbox, payloads, ssrf
from .dispatcher import Dispatcher, RetryPolicy
from .endpoints import Endpoint, InvalidEndpoint
from .transport import Transport

if TYPE_CHECKING:
    from ..application.checkpoints import Checkpoints
    from ..application.unit_of_work import UnitOfWork

_UNSET: Any = endpoints._UNSET
# Who acts when a caller names nobody (tests, scripts); the API and the CLI always do.
SYSTEM_METADATA: dict[str, Any] = {"actor": {"id": "system", "role": "system"}}


class EndpointDisabled(Conflict):
    code = "webhook_endpoint_disabled"

    def __init__(self, endpoint: Endpoint):
        super().__init__(f"webhook endpoint {endpoint.id} is disabled"
                         + (f": {endpoint.disabled_reason}" if endpoint.disabled_reason else "")
                         + ". Enable it first (PATCH enabled=true)")
        self.endpoint = endpoint


class Webhooks:
    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime],
                 store: EventStore, codec_for: CodecFactory, *,
                 unit_of_work: Callable[[], UnitOfWork],
                 checkpoints: Checkpoints | None = None,
                 resolver: ssrf.Resolver = ssrf.system_resolver,
                 ssl_context: ssl.SSLContext | None = None,
                 master: MasterKeys = NO_MASTER,
                 housekeeping: Callable[[], object] | None = None):
        """`unit_of_work` opens the transaction every administrative change runs in, so the
        change and its event (with the caller's metadata: actor, request id) commit
        together."""
        self.engine = engine
        self.master = master  # wraps the signing secrets at rest
        self.housekeeping = housekeeping  # run by the dispatcher now and then
        self.unit_of_work = unit_of_work
        self.checkpoints = checkpoints  # signed by the dispatcher as events accumulate
        self.settings = settings
        self.clock = clock
        self.store = store
        self.codec_for = codec_for
        self.resolver = resolver
        self.ssl_context = ssl_context
        self.policy = ssrf.Policy(allow_loopback=settings.webhook_allow_loopback,
                                  https_only=settings.webhook_https_only)

    # -- endpoints ----------------------------------------------------------------------------

    def check_url(self, url: object) -> str:
        if not isinstance(url, str):
            raise InvalidEndpoint("url must be a string", {"url": ["Must be a string."]})
        try:
            ssrf.check_destination(url, self.policy, resolver=self.resolver,
                                   timeout=self.settings.webhook_connect_timeout_seconds)
        except ssrf.BlockedDestination as exc:
            raise InvalidEndpoint(f"this URL cannot receive webhooks: {exc}",
                                  {"url": [str(exc)]}) from None
        return url

    def create_endpoint(self, url: str, *, event_types: Sequence[str] | None = None,
                        description: str | None = None, include_body: bool = False,
                        metadata: dict[str, Any] | None = None) -> tuple[Endpoint, str]:
        url = self.check_url(url)
        types = endpoints.valid_event_types(list(event_types) if event_types else [])
        with self.unit_of_work() as uow:
            endpoint, secret = endpoints.create(
                uow.conn, url=url, event_types=types, description=description or "",
                include_body=include_body, now=self.clock(), master=self.master)
            origin, digest = url_fingerprint(endpoint.url)
            self._record(uow, endpoint.id, [WebhookEndpointCreated(
                endpoint.id, origin, digest, endpoint.event_types, endpoint.description,
                endpoint.include_body, endpoint.created_at)], metadata)
            uow.commit()
        return endpoint, secret

    def _record(self, uow: UnitOfWork, endpoint_id: int, events: list[DomainEvent],
                metadata: dict[str, Any] | None) -> None:
        # ANY: SQLite may hand a deleted endpoint's id to a new one; its stream goes on
        uow.record(webhook_endpoint_stream(endpoint_id), events, ANY,
                   metadata or SYSTEM_METADATA)

    def endpoints(self) -> list[Endpoint]:
        with read_transaction(self.engine) as conn:
            return endpoints.list_endpoints(conn)

    def endpoint(self, endpoint_id: int) -> Endpoint:
        with read_transaction(self.engine) as conn:
            return endpoints.get(conn, endpoint_id)

    def update_endpoint(self, endpoint_id: int, *, expected_version: int | None = None,
                        url: str = _UNSET, event_types: Sequence[str] = _UNSET,
                        description: str = _UNSET, include_body: bool = _UNSET,
                        enabled: bool = _UNSET,
                        metadata: dict[str, Any] | None = None) -> Endpoint:
        """Change what is given; records `webhook_endpoint.updated` for what changed
        (enabling included) and `webhook_endpoint.disabled` when it is switched off."""
        if url is not _UNSET:
            url = self.check_url(url)
        with self.unit_of_work() as uow:
            now = self.clock()
            before = endpoints.get(uow.conn, endpoint_id, for_update=True)
            after = endpoints.update(uow.conn, endpoint_id, now=now, url=url,
                                     event_types=event_types, description=description,
                                     include_body=include_body, enabled=enabled,
                                     expected_version=expected_version)
            events = _changes(before, after, now)
            if events:
                self._record(uow, endpoint_id, events, metadata)
            uow.commit()
        return after

    def delete_endpoint(self, endpoint_id: int, *,
                        metadata: dict[str, Any] | None = None) -> None:
        with self.unit_of_work() as uow:
            endpoints.get(uow.conn, endpoint_id)
            # The event first: an append takes the head lock before the delivery rows this
            # delete removes, the order every append follows (no deadlock with them).
            self._record(uow, endpoint_id, [WebhookEndpointDeleted(endpoint_id, self.clock())],
                         metadata)
            endpoints.delete(uow.conn, endpoint_id)
            uow.commit()

    def rotate_secret(self, endpoint_id: int, *,
                      metadata: dict[str, Any] | None = None) -> tuple[str, list[datetime]]:
        """The new secret, and when each older secret still signing stops doing so."""
        overlap = timedelta(hours=self.settings.webhook_secret_overlap_hours)
        with self.unit_of_work() as uow:
            now = self.clock()
            secret = endpoints.rotate_secret(uow.conn, endpoint_id, now=now, overlap=overlap,
                                             master=self.master)
            expiries = endpoints.secret_expiries(uow.conn, endpoint_id, now)
            self._record(uow, endpoint_id,
                         [WebhookSecretRotated(endpoint_id, now, now + overlap)], metadata)
            uow.commit()
        return secret, expiries

    def secret_expiries(self, endpoint_id: int) -> list[datetime]:
        with read_transaction(self.engine) as conn:
            return endpoints.secret_expiries(conn, endpoint_id, self.clock())

    def send_test(self, endpoint_id: int) -> dict[str, Any]:
        """Queue a signed `webhook.ping` through the normal pipeline; returns the delivery."""
        with write_transaction(self.engine) as conn:
            endpoint = endpoints.get(conn, endpoint_id)
            if not endpoint.enabled:
                raise EndpointDisabled(endpoint)
            delivery_id = outbox.add_ping(conn, endpoint_id, now=self.clock())
            return _with_state(outbox.get_delivery(conn, delivery_id), self.clock())

    # -- deliveries ---------------------------------------------------------------------------

    def deliveries(self, endpoint_id: int | None = None, *, status: str | None = None,
                   event_type: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, before_id: int | None = None,
                   limit: int = 50) -> list[dict[str, Any]]:
        with read_transaction(self.engine) as conn:
            if endpoint_id is not None:
                endpoints.get(conn, endpoint_id)
            rows = outbox.list_deliveries(conn, endpoint_id=endpoint_id, status=status,
                                          event_type=event_type, since=since, until=until,
                                          before_id=before_id, limit=limit)
        now = self.clock()
        return [_with_state(r, now) for r in rows]

    def delivery(self, delivery_id: int) -> dict[str, Any]:
        with read_transaction(self.engine) as conn:
            row = outbox.get_delivery(conn, delivery_id)
            attempts = outbox.attempts_of(conn, delivery_id)
        return {**_with_state(row, self.clock()), "attempts": attempts}

    def redeliver(self, delivery_id: int) -> dict[str, Any]:
        with write_transaction(self.engine) as conn:
            row = outbox.get_delivery(conn, delivery_id)
            endpoint = endpoints.get(conn, row["endpoint_id"])
            if not endpoint.enabled:
                raise EndpointDisabled(endpoint)
            outbox.request_redelivery(conn, delivery_id, now=self.clock())
            return _with_state(outbox.get_delivery(conn, delivery_id), self.clock())

    def recover(self, endpoint_id: int, *, since: datetime,
                until: datetime | None = None) -> dict[str, int]:
        """Resend what the endpoint missed in [since, until): failed deliveries are sent
        again by hand (one attempt each), and events of its types that have no delivery for
        it (they happened while it was disabled, or before it existed) are queued as new
        deliveries. At most 10,000 in all."""
        if until is not None and until <= since:
            raise InvalidEndpoint("until must be after since",
                                  {"until": ["Must be after since."]})
        with write_transaction(self.engine) as conn:
            endpoint = endpoints.get(conn, endpoint_id)
            if not endpoint.enabled:
                raise EndpointDisabled(endpoint)
            now = self.clock()
            requeued = outbox.requeue_failed(conn, endpoint_id, since=since, until=until,
                                             now=now, limit=outbox.RECOVER_LIMIT)
            added = self._backfill(conn, endpoint, since, until, now,
                                   outbox.RECOVER_LIMIT - requeued)
        return {"requeued": requeued, "backfilled": added}

    def _backfill(self, conn: sa.Connection, endpoint: Endpoint, since: datetime,
                  until: datetime | None, now: datetime, budget: int) -> int:
        types = list(endpoint.event_types or endpoints.SUBSCRIBABLE)
        codec = self.codec_for(conn)
        added, after = 0, 0
        while added < budget:
            page = self.store.read_window(conn, types=types, since=since, until=until,
                                          after=after, limit=500)
            if not page:
                break
            after = page[-1].position
            missing = outbox.missing_event_ids(conn, endpoint.id, [r.event_id for r in page])
            items = []
            for recorded in page:
                if recorded.event_id not in missing or added + len(items) >= budget:
                    continue
                document = payloads.event_payload(recorded, codec.decode(recorded))
                if document is not None:
                    items.append((recorded, payloads.serialize(document)))
            added += outbox.add_deliveries(conn, endpoint.id, endpoint.include_body, items,
                                           now=now)
        return added

    def purge(self, older_than: timedelta) -> int:
        with write_transaction(self.engine) as conn:
            return outbox.purge(conn, before=self.clock() - older_than)

    def summary(self) -> dict[tuple[int, str], int]:
        with read_transaction(self.engine) as conn:
            return outbox.status_counts(conn)

    # -- sending ------------------------------------------------------------------------------

    def transport(self) -> Transport:
        s = self.settings
        return Transport(self.policy, deadline_seconds=s.webhook_timeout_seconds,
                         connect_timeout=s.webhook_connect_timeout_seconds,
                         max_body=s.webhook_response_max_bytes, resolver=self.resolver,
                         ssl_context=self.ssl_context)

    def dispatcher(self, *, name: str | None = None,
                   wall_clock: Callable[[], float] | None = None) -> Dispatcher:
        s = self.settings
        extra: dict[str, Any] = {"wall_clock": wall_clock} if wall_clock else {}
        checkpoints = self.checkpoints
        if checkpoints is not None and checkpoints.signer is not None and (
                s.checkpoint_every or s.checkpoint_minutes):
            extra["checkpoint"] = lambda: checkpoints.sign_if_due(
                every=s.checkpoint_every, minutes=s.checkpoint_minutes)
        return Dispatcher(
            self.engine, self.transport(),
            RetryPolicy(tuple(s.webhook_retry_schedule), s.webhook_retry_jitter),
            store=self.store, codec_for=self.codec_for, unit_of_work=self.unit_of_work,
            clock=self.clock, lease=timedelta(seconds=s.webhook_lease_seconds),
            disable_after=timedelta(hours=s.webhook_disable_after_hours), name=name,
            master=self.master, housekeeping=self.housekeeping, **extra)


def _changes(before: Endpoint, after: Endpoint, now: datetime) -> list[DomainEvent]:
    """The events that describe an endpoint's change (none when nothing changed)."""
    changes: dict[str, Any] = {}
    if after.url != before.url:
        changes["url_origin"], changes["url_sha256"] = url_fingerprint(after.url)
    if after.event_types != before.event_types:
        changes["event_types"] = list(after.event_types)
    if after.description != before.description:
        changes["description"] = after.description
    if after.include_body != before.include_body:
        changes["include_body"] = after.include_body
    if after.enabled and not before.enabled:
        changes["enabled"] = True
    events: list[DomainEvent] = []
    if changes:
        events.append(WebhookEndpointUpdated(after.id, after.version, changes, now))
    if before.enabled and not after.enabled:
        events.append(WebhookEndpointDisabled(after.id, after.disabled_reason or "", now))
    return events


def _with_state(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A delivery row for display: its lease shown as `in_flight`, internals dropped."""
    out = {k: v for k, v in row.items() if k not in ("lock_token", "payload", "attempts")}
    out["attempt_count"] = row["attempts"]  # automatic attempts made; manual ones not counted
    out["in_flight"] = row["locked_until"] is not None and row["locked_until"] > now
    out["payload"] = row["payload"]
    return out

