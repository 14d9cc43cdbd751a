"""The composition root: builds every part from Settings, once, for the API and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from . import logs
from .application.access import Access
from .application.authors import AuthorQueries, AuthorSanctions
from .application.bulk import BulkDecisions
from .application.checkpoints import Checkpoints
from .application.claims import Claims
from .application.commands import Actor, Context
from .application.exports import AuditExport
from .application.handlers import Moderation
from .application.live import StreamHub
from .application.privacy import Privacy
from .application.proofs import Proofs
from .application.queries import ModerationQueries
from .application.reports import ReaderReports
from .audit.signing import SigningKeyError, load_signer
from .config import Settings
from .db import make_engine
from .domain.comment import SubmissionRules
from .eventstore import EventStore
from .eventstore.codec import CodecFactory, codec_factory
from .eventstore.master_key import MasterKeyError, MasterKeys, load_master_keys
from .eventstore.store import utc_now
from .projections.runner import ProjectionRunner
from .screening.screener import Screener
from .webhooks.admin import Webhooks
from .webhooks.outbox import WebhookOutbox

DISPATCHER = Actor(id="dispatcher", role="system")  # the actor of its housekeeping


@dataclass
class Services:
    settings: Settings
    engine: Engine
    store: EventStore
    runner: ProjectionRunner
    moderation: Moderation
    queries: ModerationQueries
    clock: Callable[[], datetime]
    codec_for: CodecFactory
    webhooks: Webhooks | None = None
    claims: Claims | None = None
    access: Access | None = None
    checkpoints: Checkpoints | None = None
    privacy: Privacy | None = None
    master: MasterKeys | None = None
    streams: StreamHub | None = None
    proofs: Proofs | None = None
    exports: AuditExport | None = None
    sanctions: AuthorSanctions | None = None
    authors: AuthorQueries | None = None
    reports: ReaderReports | None = None
    bulk: BulkDecisions | None = None

    def close(self) -> None:
        if self.streams is not None:
            self.streams.stop()
        self.engine.dispose()


def configure_logging(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)


def build(settings: Settings, *, clock: Callable[[], datetime] = utc_now,
          engine: Engine | None = None) -> Services:
    engine = engine or make_engine(settings)
    store = EventStore(clock)
    try:
        master = load_master_keys(settings.master_key, settings.master_key_file,
                                  settings.database_url)
    except MasterKeyError as exc:
        raise SystemExit(f"configuration error: MODERATION_MASTER_KEY: {exc}") from None
    codec_for = codec_factory(clock, master)

    runner = ProjectionRunner(store, codec_for)
    screener = Screener.from_directory(settings.screening_wordlists or None)
    moderation = Moderation(engine, store, runner, clock,
                            SubmissionRules(body_max=settings.body_max_chars),
                            screener=screener, followers=[WebhookOutbox(clock)],
                            auto_close_days=settings.auto_close_days)
    queries = ModerationQueries(engine, store, clock, codec_for)
    try:
        signer = load_signer(settings.signing_key, settings.database_url)
    except SigningKeyError as exc:
        raise SystemExit(f"configuration error: MODERATION_SIGNING_KEY: {exc}") from None
    checkpoints = Checkpoints(engine, store, moderation.unit_of_work, clock, signer)
    privacy = Privacy(engine, store, runner, clock, moderation.followers,
                      settings.address_retention_days)
    claims = Claims(engine, clock, settings.claim_seconds)
    return Services(settings, engine, store, runner, moderation, queries, clock, codec_for,
                    webhooks=Webhooks(engine, settings, clock, store, codec_for,
                                      unit_of_work=moderation.unit_of_work,
                                      checkpoints=checkpoints, master=master,
                                      housekeeping=lambda: privacy.sweep_addresses(
                                          Context(DISPATCHER))),
                    claims=claims,
                    access=Access(moderation.unit_of_work, clock, engine),
                    checkpoints=checkpoints, proofs=Proofs(engine, store),
                    exports=AuditExport(engine, store, codec_for, checkpoints),
                    privacy=privacy,
                    master=master,
                    streams=StreamHub(queries.feed, queries.head,
                                      poll_seconds=settings.stream_poll_seconds,
                                      max_open=settings.stream_max_open, claims=claims.live),
                    sanctions=AuthorSanctions(moderation),
                    authors=AuthorQueries(engine, store, clock, codec_for),
                    reports=ReaderReports(moderation, settings.reports_withhold_at),
                    bulk=BulkDecisions(moderation))
