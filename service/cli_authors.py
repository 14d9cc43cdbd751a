"""`moderation authors ...`: a data subject's rights from a shell (look up, export, erase);
`moderation privacy sweep`: make network addresses past their retention unreadable.

Registered on the main command in service/cli.py. Everything goes through
service.application.privacy.Privacy, as the HTTP API does; the actor recorded is `cli`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from .application.commands import Actor, Context
from .bootstrap import build
from .config import Settings
from .domain.errors import DomainError

CLI_ACTOR = Actor(id="cli", role="admin")


@click.group()
def authors() -> None:
    """Personal data: find an author by e-mail, export what is held, erase it."""


def _run(settings: Settings, call: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    services = build(settings)
    try:
        assert services.privacy is not None
        return call(services.privacy)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()


@authors.command("lookup")
@click.argument("email")
@click.pass_obj
def lookup(settings: Settings, email: str) -> None:
    """Print the author id of whoever wrote with EMAIL."""
    found = _run(settings, lambda p: p.lookup(email, Context(CLI_ACTOR)))
    click.echo(found["author_id"])
    if found["erased"]:
        click.echo("(this author has been erased)", err=True)


@authors.command("export")
@click.argument("author_id")
@click.pass_obj
def export(settings: Settings, author_id: str) -> None:
    """Print everything held about AUTHOR_ID as one JSON document."""
    document = _run(settings, lambda p: p.export(author_id, Context(CLI_ACTOR)))
    click.echo(_json(document))


@authors.command("erase")
@click.argument("author_id")
@click.option("--note", required=True, help="Why (the request's ticket, say); recorded.")
@click.pass_obj
def erase(settings: Settings, author_id: str, note: str) -> None:
    """Erase AUTHOR_ID's personal data everywhere (destroys their key; cannot be undone)."""
    done = _run(settings, lambda p: p.erase(author_id, note, Context(CLI_ACTOR)))
    if done["replayed"]:
        click.echo(f"{author_id} was already erased at {done['erased_at'].isoformat()} by "
                   f"{done['erased_by']} (position {done['position']}); nothing changed")
    else:
        click.echo(f"{author_id} erased: {len(done['comment_ids'])} comments, "
                   f"position {done['position']}")


@click.group()
def privacy() -> None:
    """Retention of personal data."""


@privacy.command("sweep")
@click.pass_obj
def sweep(settings: Settings) -> None:
    """Destroy the keys of network addresses older than MODERATION_ADDRESS_RETENTION_DAYS
    (run it daily, e.g. from cron)."""
    done = _run(settings, lambda p: p.sweep_addresses(Context(CLI_ACTOR)))
    if done["days"]:
        click.echo(f"network addresses of {len(done['days'])} day(s) are now unreadable: "
                   f"{done['days'][0]} to {done['days'][-1]}")
    else:
        click.echo(f"nothing to sweep: addresses from {done['kept_from']} on are kept "
                   f"({done['retention_days']} days)")


@click.group()
def keys() -> None:
    """Master keys wrapping the subject keys and webhook secrets stored in the database."""


@keys.command("new-master")
def new_master() -> None:
    """Print a new master key (base64 of 32 random bytes) for MODERATION_MASTER_KEY."""
    from .eventstore.master_key import new_key_text

    click.echo(new_key_text())


@keys.command("rotate-master")
@click.option("--generate", is_flag=True,
              help="With a key file: put a new master key in it first, and afterwards "
                   "keep only that one.")
@click.pass_obj
def rotate_master(settings: Settings, generate: bool) -> None:
    """Rewrap every subject key and webhook secret with the current (first) master key.

    With MODERATION_MASTER_KEY: configure "NEW,OLD" on every process, run this, then
    configure "NEW" alone. With a key file, --generate does all of it. The service keeps
    running: rows are rewrapped in small transactions, and readers accept either key."""
    from pathlib import Path

    from .eventstore import master_key
    from .eventstore.personal_data import rewrap_subject_keys
    from .webhooks.endpoints import rewrap_secrets

    path = None
    if generate:
        if settings.master_key:
            raise click.ClickException("--generate works with a key file; with "
                                       "MODERATION_MASTER_KEY, put the new key first there")
        path = (Path(settings.master_key_file) if settings.master_key_file
                else master_key.demo_key_path(settings.database_url))
        if path is None:
            raise click.ClickException("no key file: set MODERATION_MASTER_KEY_FILE")
        if path.exists():
            master_key.rotate_key_file(path)
        else:
            master_key.ensure_key_file(path)
    services = build(settings)
    try:
        master = services.master
        if master is None or not master.enabled:
            raise click.ClickException("no master key is configured "
                                       "(MODERATION_MASTER_KEY or a key file)")
        counts = [0, 0]
        for _ in range(2):  # the second pass catches rows written by a process mid-change
            counts[0] += rewrap_subject_keys(services.engine, master)
            counts[1] += rewrap_secrets(services.engine, master)
    finally:
        services.close()
    if path is not None:
        master_key.keep_only_current(path)
    click.echo(f"rewrapped {counts[0]} subject keys and {counts[1]} webhook secrets with "
               f"master key {master.current_id.hex()}")  # type: ignore[union-attr]


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False,
                      default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
