"""`moderation webhooks ...`: run the dispatcher and administer endpoints from a shell.

Registered on the main command in service/cli.py. Everything goes through
service.webhooks.admin.Webhooks, as the HTTP API does.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from .application.commands import Actor, Context
from .bootstrap import Services, build
from .config import Settings
from .domain.errors import DomainError
from .webhooks.admin import Webhooks
from .webhooks.endpoints import SUBSCRIBABLE, Endpoint
from .webhooks.outbox import STATUSES

log = logging.getLogger("service.webhooks")
# The actor recorded for endpoint changes made from a shell (as `moderation tokens` uses).
CLI_METADATA = Context(Actor(id="cli", role="admin")).metadata()


class _Hooks:
    """Services for one command, closed afterwards; errors become click errors."""

    def __init__(self, settings: Settings):
        self.services: Services = build(settings)

    def __enter__(self) -> Webhooks:
        assert self.services.webhooks is not None
        return self.services.webhooks

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        self.services.close()
        if isinstance(exc, DomainError):  # the refusals the API answers with 404/409/422
            raise click.ClickException(exc.message) from None


@click.group()
def webhooks() -> None:
    """Deliver events to webhook endpoints, and manage those endpoints."""


@webhooks.command("work")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Deliveries sent at the same time by this process "
                   "[default: MODERATION_WEBHOOK_CONCURRENCY or 4].")
@click.option("--name", default=None, help="A name for this dispatcher in the logs.")
@click.pass_obj
def work(settings: Settings, once: bool, concurrency: int | None, name: str | None) -> None:
    """Run the dispatcher: claim due deliveries, send them, record the outcome, retry.

    Several dispatchers may run at once (on PostgreSQL each claims its own rows; on SQLite
    they take turns at the single writer). SIGTERM or SIGINT stops claiming; sends already
    under way finish (each within its deadline) and are recorded before it exits.
    """
    concurrency = concurrency or settings.webhook_concurrency
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise SystemExit(1)  # a second signal: leave now; leases return the work
        log.info("received %s: finishing sends under way, then stopping",
                 signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with _Hooks(settings) as hooks:
            dispatcher = hooks.dispatcher(name=name)
            log.info("webhook dispatcher %s started (concurrency %d%s)", dispatcher.name,
                     concurrency, ", once" if once else "")
            stats = dispatcher.run(concurrency=concurrency, once=once, stop=stop,
                                   poll_seconds=settings.webhook_poll_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    counts = stats.as_dict()
    click.echo(f"{dispatcher.name}: claimed {counts['claimed']}, succeeded "
               f"{counts['succeeded']}, retrying {counts['retrying']}, failed "
               f"{counts['failed']}, lapsed {counts['lapsed']}, errors {counts['errors']}, "
               f"endpoints disabled {counts['endpoints_disabled']}")


@webhooks.group()
def endpoints() -> None:
    """Register, list, change and test webhook endpoints."""


@endpoints.command("list")
@click.pass_obj
def endpoints_list(settings: Settings) -> None:
    """Every endpoint with its state and delivery counts."""
    with _Hooks(settings) as hooks:
        items, counts = hooks.endpoints(), hooks.summary()
    if not items:
        click.echo("no webhook endpoints")
    for e in items:
        per = ", ".join(f"{s} {counts.get((e.id, s), 0)}" for s in STATUSES)
        state = "enabled" if e.enabled else f"DISABLED ({e.disabled_reason})"
        click.echo(f"{e.id:>4}  {e.url}  [{', '.join(e.event_types) or 'all events'}]  "
                   f"{state}  {per}")


@endpoints.command("add")
@click.argument("url")
@click.option("--event-type", "event_types", multiple=True, type=click.Choice(SUBSCRIBABLE),
              help="Subscribe to this type (repeat for several; none means all).")
@click.option("--description", default="")
@click.option("--include-body", is_flag=True, help="Put the comment text in comment.submitted.")
@click.pass_obj
def endpoints_add(settings: Settings, url: str, event_types: tuple[str, ...], description: str,
                  include_body: bool) -> None:
    """Register URL. Prints the signing secret, which is shown only this once."""
    with _Hooks(settings) as hooks:
        endpoint, secret = hooks.create_endpoint(url, event_types=list(event_types),
                                                 description=description,
                                                 include_body=include_body,
                                                 metadata=CLI_METADATA)
    click.echo(f"endpoint {endpoint.id} registered for {endpoint.url}")
    click.echo(f"signing secret (shown once): {secret}")


@endpoints.command("show")
@click.argument("endpoint_id", type=int)
@click.pass_obj
def endpoints_show(settings: Settings, endpoint_id: int) -> None:
    """One endpoint as JSON."""
    with _Hooks(settings) as hooks:
        endpoint = hooks.endpoint(endpoint_id)
        expiries = hooks.secret_expiries(endpoint_id)
    click.echo(_json({**_endpoint(endpoint), "old_secrets_expire_at": expiries}))


@endpoints.command("enable")
@click.argument("endpoint_id", type=int)
@click.pass_obj
def endpoints_enable(settings: Settings, endpoint_id: int) -> None:
    """Enable an endpoint again; deliveries held while it was disabled go out."""
    with _Hooks(settings) as hooks:
        hooks.update_endpoint(endpoint_id, enabled=True, metadata=CLI_METADATA)
    click.echo(f"endpoint {endpoint_id} enabled")


@endpoints.command("disable")
@click.argument("endpoint_id", type=int)
@click.pass_obj
def endpoints_disable(settings: Settings, endpoint_id: int) -> None:
    """Stop sending to an endpoint (its pending deliveries wait)."""
    with _Hooks(settings) as hooks:
        hooks.update_endpoint(endpoint_id, enabled=False, metadata=CLI_METADATA)
    click.echo(f"endpoint {endpoint_id} disabled")


@endpoints.command("delete")
@click.argument("endpoint_id", type=int)
@click.confirmation_option(prompt="Delete the endpoint with its delivery history?")
@click.pass_obj
def endpoints_delete(settings: Settings, endpoint_id: int) -> None:
    """Delete an endpoint with its secrets, deliveries and attempts."""
    with _Hooks(settings) as hooks:
        hooks.delete_endpoint(endpoint_id, metadata=CLI_METADATA)
    click.echo(f"endpoint {endpoint_id} deleted")


@endpoints.command("rotate-secret")
@click.argument("endpoint_id", type=int)
@click.pass_obj
def endpoints_rotate(settings: Settings, endpoint_id: int) -> None:
    """Make a new signing secret; the old one keeps signing during the overlap."""
    with _Hooks(settings) as hooks:
        secret, expiries = hooks.rotate_secret(endpoint_id, metadata=CLI_METADATA)
    click.echo(f"new signing secret (shown once): {secret}")
    for moment in expiries:
        click.echo(f"an older secret signs too until {moment.isoformat()}")


@endpoints.command("test")
@click.argument("endpoint_id", type=int)
@click.pass_obj
def endpoints_test(settings: Settings, endpoint_id: int) -> None:
    """Queue a signed webhook.ping for the endpoint (sent by `webhooks work`)."""
    with _Hooks(settings) as hooks:
        delivery = hooks.send_test(endpoint_id)
    click.echo(f"ping queued as delivery {delivery['id']}")


@endpoints.command("recover")
@click.argument("endpoint_id", type=int)
@click.option("--since", required=True, type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="UTC.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), help="UTC.")
@click.pass_obj
def endpoints_recover(settings: Settings, endpoint_id: int, since: datetime,
                      until: datetime | None) -> None:
    """Resend failed deliveries and missed events of [SINCE, UNTIL)."""
    with _Hooks(settings) as hooks:
        result = hooks.recover(endpoint_id, since=since.replace(tzinfo=UTC),
                               until=until.replace(tzinfo=UTC) if until else None)
    click.echo(f"requeued {result['requeued']} failed deliveries, queued "
               f"{result['backfilled']} missed events")


@webhooks.command("deliveries")
@click.option("--endpoint", "endpoint_id", type=int)
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def deliveries(settings: Settings, endpoint_id: int | None, status: str | None,
               limit: int) -> None:
    """Recent deliveries, newest first."""
    with _Hooks(settings) as hooks:
        rows = hooks.deliveries(endpoint_id, status=status, limit=limit)
    for r in rows:
        last = r["last_status_code"] or r["last_error"] or "-"
        click.echo(f"{r['id']:>6}  endpoint {r['endpoint_id']:<4} {r['event_type']:<18} "
                   f"{r['status']:<9} attempts {r['attempt_count']:<2} last {last}")


@webhooks.command("delivery")
@click.argument("delivery_id", type=int)
@click.pass_obj
def delivery(settings: Settings, delivery_id: int) -> None:
    """One delivery with every attempt, as JSON."""
    with _Hooks(settings) as hooks:
        click.echo(_json(hooks.delivery(delivery_id)))


@webhooks.command("redeliver")
@click.argument("delivery_id", type=int)
@click.pass_obj
def redeliver(settings: Settings, delivery_id: int) -> None:
    """Send a delivery again by hand (same webhook-id, fresh signature)."""
    with _Hooks(settings) as hooks:
        hooks.redeliver(delivery_id)
    click.echo(f"delivery {delivery_id} queued for redelivery")


@webhooks.command("purge")
@click.option("--older-than-days", default=30, show_default=True, type=click.IntRange(1))
@click.pass_obj
def purge(settings: Settings, older_than_days: int) -> None:
    """Delete finished deliveries (and their attempts) older than the given age."""
    with _Hooks(settings) as hooks:
        n = hooks.purge(timedelta(days=older_than_days))
    click.echo(f"deleted {n} finished deliveries")


def _endpoint(e: Endpoint) -> dict[str, Any]:
    return e.as_dict()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, default=lambda v: v.isoformat()
                      if isinstance(v, datetime) else str(v))
