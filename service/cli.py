"""The `moderation` command: schema, projections, articles, and (later) serving."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from tqdm import tqdm

from . import migrate
from .application.commands import Actor, Context, RegisterArticle
from .bootstrap import build, configure_logging
from .cli_authors import authors, keys, privacy
from .cli_webhooks import webhooks
from .config import Settings
from .domain.errors import DomainError
from .eventstore import chain
from .logs import quiet

CLI_ACTOR = Actor(id="cli", role="admin")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Event-sourced comment moderation service.

    Configuration comes from environment variables; DATABASE_URL selects the database
    (default: a SQLite file, moderation.db, in the current directory).
    """
    settings = Settings.from_env()
    configure_logging(settings)
    ctx.obj = settings


@main.group()
def db() -> None:
    """Create and upgrade the database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_obj
def db_upgrade(settings: Settings, revision: str) -> None:
    """Apply migrations up to REVISION."""
    migrate.upgrade(settings, revision)
    click.echo(f"database at revision {revision}: {_safe_url(settings)}")


@db.command("downgrade")
@click.argument("revision", required=False)
@click.option("--revision", "revision_option", metavar="REVISION",
              help="The same as the argument, as `db upgrade --revision` spells it.")
@click.pass_obj
def db_downgrade(settings: Settings, revision: str | None, revision_option: str | None) -> None:
    """Revert migrations down to REVISION ('base' removes everything)."""
    if (revision is None) == (revision_option is None):
        raise click.UsageError("name the revision once: REVISION or --revision REVISION")
    revision = revision or revision_option
    migrate.downgrade(settings, revision)
    click.echo(f"database at revision {revision}")


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the schema revision of the database and of this code."""
    services = build(settings)
    try:
        current = migrate.current_revision(services.engine)
    finally:
        services.close()
    click.echo(f"database: {current or 'empty'}; code: {migrate.head_revision()}")


@main.group()
def projections() -> None:
    """Inspect, rebuild and verify the read models."""


@projections.command("status")
@click.pass_obj
def projections_status(settings: Settings) -> None:
    """Show each projection's checkpoint and the log's head position."""
    services = build(settings)
    try:
        with services.engine.connect() as conn:
            head = services.store.head(conn)
            for name, position in sorted(services.runner.status(conn).items()):
                state = "up to date" if position == head else f"{head - position} behind"
                click.echo(f"{name:20} {position:>10}  {state}")
        click.echo(f"{'event log head':20} {head:>10}")
    finally:
        services.close()


@projections.command("rebuild")
@click.option("--verify", is_flag=True,
              help="Only compare a fresh replay with the live read models; change nothing. "
                   "Exits 1 when they differ.")
@click.option("--batch-size", default=2000, show_default=True)
@click.pass_obj
def projections_rebuild(settings: Settings, verify: bool, batch_size: int) -> None:
    """Replay the whole event log into fresh read models and swap them in."""
    services = build(settings)
    try:
        with services.engine.connect() as conn:
            total = services.store.head(conn)
        with tqdm(total=total, unit="ev", desc="replaying", file=sys.stderr,
                  disable=None) as bar:
            def progress(done: int, target: int) -> None:
                bar.total = max(bar.total or 0, target)
                bar.update(done - bar.n)

            report = services.runner.rebuild(services.engine, swap=not verify,
                                             batch_size=batch_size, progress=progress)
    finally:
        services.close()
    click.echo(f"replayed {report.events} events up to position {report.position}")
    for diff in report.differences:
        click.echo(f"  {diff.table}: live {diff.live_rows} rows, rebuilt {diff.rebuilt_rows} "
                   f"rows; e.g. {', '.join(diff.mismatched_keys[:5])}")
    if verify:
        if report.identical:
            click.echo("verified: the live read models equal a replay of the log")
        else:
            click.echo("MISMATCH: the live read models differ from a replay of the log", err=True)
            sys.exit(1)
    else:
        click.echo("read models replaced" + (
            "" if report.identical else " (they had drifted from the log; now repaired)"))


@main.group()
def articles() -> None:
    """Register the articles readers comment on."""


@articles.command("register")
@click.argument("article_id")
@click.option("--title", required=True)
@click.option("--url")
@click.option("--language")
@click.option("--published", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]))
@click.option("--summary")
@click.pass_obj
def articles_register(settings: Settings, article_id: str, title: str, url: str | None,
                      language: str | None, published: datetime | None,
                      summary: str | None) -> None:
    """Register ARTICLE_ID so readers can comment on it."""
    from datetime import UTC

    services = build(settings)
    try:
        result = services.moderation.register_article(
            RegisterArticle(article_id, title, url, language,
                            published.replace(tzinfo=published.tzinfo or UTC)
                            if published else None, summary),
            Context(CLI_ACTOR))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        services.close()
    click.echo(f"article {result.id} registered at position {result.position}")


@main.group()
def tokens() -> None:
    """Create, list and revoke API tokens (bearer tokens with a role)."""


@tokens.command("create")
@click.option("--name", required=True,
              help="Who uses the token; recorded as the actor of their decisions.")
@click.option("--role", required=True, type=click.Choice(["moderator", "auditor", "admin"]))
@click.pass_obj
def tokens_create(settings: Settings, name: str, role: str) -> None:
    """Create a token and print it once; only its hash is stored."""
    from .identity import tokens as api_tokens

    services = build(settings)
    try:
        info, token = services.access.create_token(name=name, role=role,
                                                   ctx=Context(CLI_ACTOR))
    except api_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        services.close()
    click.echo(f"token {info.id} for {info.name} ({info.role}); store it now, it is not "
               "shown again:", err=True)
    click.echo(token)


@tokens.command("list")
@click.option("--active", is_flag=True, help="Leave out revoked tokens.")
@click.pass_obj
def tokens_list(settings: Settings, active: bool) -> None:
    """List tokens (never the tokens themselves)."""
    from .db import read_transaction
    from .identity import tokens as api_tokens

    services = build(settings)
    try:
        with read_transaction(services.engine) as conn:
            rows = api_tokens.list_tokens(conn, include_revoked=not active)
    finally:
        services.close()
    click.echo(f"{'id':>4}  {'name':20} {'role':10} {'starts':9} {'created':20} "
               f"{'last used':20} status")
    for t in rows:
        click.echo(f"{t.id:>4}  {t.name:20} {t.role:10} {t.hint + '…':9} "
                   f"{_when(t.created_at):20} {_when(t.last_used_at):20} "
                   f"{'active' if t.active else 'revoked ' + _when(t.revoked_at)}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def tokens_revoke(settings: Settings, token_id: int) -> None:
    """Revoke token TOKEN_ID; requests with it are refused from now on."""
    from .identity import tokens as api_tokens

    services = build(settings)
    try:
        info = services.access.revoke_token(token_id, ctx=Context(CLI_ACTOR))
    except api_tokens.TokenError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        services.close()
    click.echo(f"token {info.id} ({info.name}, {info.role}) revoked at "
               f"{_when(info.revoked_at)}")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds before a silent worker is restarted.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int, timeout: int) -> None:
    """Serve the HTTP API with gunicorn, after applying pending migrations."""
    from .server import prepare_database, run

    prepare_database(settings)
    run(settings, host=host, port=port, workers=workers, timeout=timeout)


@main.command("seed")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="Seed file (default: the demo data in seeds/demo.json).")
@click.pass_obj
def seed_command(settings: Settings, path: str | None) -> None:
    """Load the demo article, comments and decisions (running it twice adds nothing)."""
    from .seeding import DEFAULT_SEED, load_seed, seed

    data = load_seed(path or DEFAULT_SEED)
    services = build(settings)
    try:
        with tqdm(total=len(data["comments"]), unit="comment", desc="seeding",
                  file=sys.stderr, disable=None) as bar:
            report = seed(services, data, progress=bar.update)
    finally:
        services.close()
    click.echo(f"seeded: {report.comments_created} comments added, "
               f"{report.comments_present} already present, "
               f"{report.decisions_made} decisions made")


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.pass_obj
def demo(settings: Settings, host: str, port: int, workers: int) -> None:
    """Migrate, seed when empty, print demo tokens, and serve the API."""
    from .db import read_transaction
    from .identity import tokens as api_tokens
    from .seeding import DEFAULT_SEED, load_seed, seed
    from .server import prepare_database, run

    prepare_database(settings)
    if not settings.master_key and not settings.master_key_file:
        from .eventstore.master_key import demo_key_path, ensure_key_file

        master_file = demo_key_path(settings.database_url)
        if master_file is not None and ensure_key_file(master_file):
            click.echo(f"keys at rest are wrapped with the master key in {master_file}",
                       err=True)
    if not settings.signing_key:
        from .audit.signing import ensure_demo_key

        key_file = ensure_demo_key(settings.database_url)
        if key_file is not None:
            click.echo(f"checkpoints are signed with the key in {key_file}", err=True)
    services = build(settings)
    try:
        if services.queries.head() == 0:
            click.echo("empty database: loading the demo data…", err=True)
            with quiet("service.application"):  # one line per seeded comment otherwise
                report = seed(services, load_seed(DEFAULT_SEED))
            click.echo(f"seeded {report.comments_created} comments and "
                       f"{report.decisions_made} decisions", err=True)
        made, ctx = [], Context(Actor(id="demo", role="admin"))
        with read_transaction(services.engine) as conn:
            old = api_tokens.list_tokens(conn, include_revoked=False)
        with quiet("service.application"):  # the tokens are printed below
            for info in old:
                if info.name.startswith("demo-"):
                    services.access.revoke_token(info.id, ctx=ctx)
            for role in ("moderator", "auditor", "admin"):
                _, token = services.access.create_token(name=f"demo-{role}", role=role,
                                                        ctx=ctx)
                made.append((role, token))
            if services.checkpoints.signer is not None:
                services.checkpoints.sign(ctx)
    finally:
        services.close()
    click.echo(f"demo tokens (new ones each start) for http://{host}:{port}:")
    for role, token in made:
        click.echo(f"  {role:9} {token}")
    click.echo(f"try: curl -H 'Authorization: Bearer {made[0][1]}' "
               f"'http://{host}:{port}/v1/queue?sort=risk'")
    click.echo(f"moderate in the browser: http://{host}:{port}/dashboard/ "
               "(sign in with a token above)")
    run(settings, host=host, port=port, workers=workers, timeout=30)


@main.group()
def screening() -> None:
    """Advisory screening tools."""


@screening.command("backtest")
@click.option("--wordlists", type=click.Path(exists=True, file_okay=False),
              help="Directory of word lists to try (default: the ones in use).")
@click.pass_obj
def screening_backtest(settings: Settings, wordlists: str | None) -> None:
    """Compare the flags a word list would raise with what moderators decided."""
    from .screening.backtest import backtest
    from .screening.screener import Screener

    services = build(settings)
    try:
        result = backtest(services.queries.screening_corpus(),
                          Screener.from_directory(wordlists))
    finally:
        services.close()
    for line in result.table():
        click.echo(line)


def _safe_url(settings: Settings) -> str:
    from sqlalchemy import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


main.add_command(webhooks)  # `moderation webhooks ...`, defined in cli_webhooks.py
main.add_command(authors)  # `moderation authors ...`, defined in cli_authors.py
main.add_command(privacy)  # `moderation privacy sweep`, defined in cli_authors.py
main.add_command(keys)  # `moderation keys ...`, defined in cli_authors.py


if __name__ == "__main__":
    main()


@main.group()
def audit() -> None:
    """Prove the log was never rewritten: its hash chain, signed checkpoints and proofs."""


@audit.command("verify")
@click.option("--from", "start", default=1, show_default=True, type=click.IntRange(min=1),
              help="Recompute from this position, trusting the stored hash before it.")
@click.pass_obj
def audit_verify(settings: Settings, start: int) -> None:
    """Recompute the hash chain; exit 1 naming the first position that does not match."""
    services = build(settings)
    try:
        with services.engine.connect() as conn, tqdm(unit=" events", disable=None) as bar:
            result = chain.verify(conn, start=start, progress=bar.update)
    finally:
        services.close()
    if result.broken is not None:
        click.echo(f"chain broken at {result.broken}", err=True)
        sys.exit(1)
    click.echo(f"chain intact: {result.checked} events checked, head {result.head} "
               f"hash {result.head_hash.hex()}")


@audit.command("checkpoint")
@click.pass_obj
def audit_checkpoint(settings: Settings) -> None:
    """Sign the log's head position and hash (Ed25519) and record it as audit.checkpoint."""
    from .application.checkpoints import NoSigningKey

    services = build(settings)
    try:
        made = services.checkpoints.sign(Context(CLI_ACTOR))
    except NoSigningKey as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        services.close()
    click.echo(f"checkpoint at position {made['position']}: head {made['head_position']} "
               f"hash {made['head_hash']}")
    click.echo(f"signed {made['signed_at']} by key {made['key_id']} ({made['public_key']})")
    click.echo(f"signature {made['signature']}")


@audit.command("keygen")
def audit_keygen() -> None:
    """Make an Ed25519 signing key for MODERATION_SIGNING_KEY (printed once, to stdout)."""
    from .audit.signing import Signer

    signer = Signer.generate()
    click.echo(f"public key {signer.public_key} (key id {signer.key_id}); give it to "
               "auditors. MODERATION_SIGNING_KEY:", err=True)
    click.echo(signer.private_text())


@audit.command("check-proof")
@click.argument("file", type=click.File("rb"))
@click.option("--public-key", required=True,
              help="The signer's base64 Ed25519 public key, as you obtained and pinned it "
                   "(not one taken from the proof).")
def audit_check_proof(file, public_key: str) -> None:  # noqa: ANN001
    """Check an inclusion or consistency proof offline (FILE, or - for stdin): exit 0 when
    it holds, 1 naming what fails. Needs no database, only the public key."""
    import json

    from .audit.proofs import verify

    try:
        proof = json.loads(file.read())
    except ValueError as exc:
        click.echo(f"not a proof: {exc}", err=True)
        sys.exit(1)
    verdict = verify(proof, public_key.strip())
    if not verdict.ok:
        click.echo(f"proof does NOT hold: {verdict.reason}", err=True)
        sys.exit(1)
    click.echo(f"proof holds: {verdict.reason}")


@audit.command("export")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]),
              help="Recorded at or after (UTC when no offset is given).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]),
              help="Recorded before.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              required=True, help="File to write ('-' for standard output).")
@click.pass_obj
def audit_export(settings: Settings, since: datetime | None, until: datetime | None,
                 fmt: str, output: str) -> None:
    """Export every decision and administrative action (with positions and hashes, closed
    by the latest checkpoint) to a file, with a progress bar."""
    from datetime import UTC

    since, until = (m.replace(tzinfo=m.tzinfo or UTC) if m else None for m in (since, until))
    if since and until and since >= until:
        raise click.BadParameter("must be later than --since", param_hint="--until")
    services = build(settings)
    try:
        window = services.exports.window(since, until)
        with click.open_file(output, "wb") as out, tqdm(
                total=window.size, unit=" ev", desc="exporting", file=sys.stderr,
                disable=None) as bar:
            written = 0
            for chunk in services.exports.stream(fmt, window, progress=bar.update):
                out.write(chunk)
                written += len(chunk)
    finally:
        services.close()
    click.echo(f"exported positions {window.after + 1}..{window.last} "
               f"({written} bytes) to {output}", err=True)
