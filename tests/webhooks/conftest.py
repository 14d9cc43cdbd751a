"""Webhook fixtures: loopback receivers and a Webhooks facade allowed to send to loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from service.application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    RejectComment,
    SubmitComment,
)
from service.bootstrap import Services
from service.config import Settings
from service.webhooks.admin import Webhooks

from .receivers import DripServer, Receiver

ADMIN = Context(Actor("admin", "admin"))
MODERATOR = Context(Actor("mod-1", "moderator"))


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return replace(settings, webhook_allow_loopback=True, webhook_timeout_seconds=2.0,
                   webhook_connect_timeout_seconds=1.0, webhook_lease_seconds=30.0)


@pytest.fixture
def hooks(services: Services, hook_settings: Settings, clock) -> Webhooks:  # noqa: ANN001
    return Webhooks(services.engine, hook_settings, clock,
                     services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def drip() -> Iterator[DripServer]:
    server = DripServer(interval=0.2)
    yield server
    server.close()


@dataclass
class Activity:
    article_id: str
    comment_id: str


def moderate(services: Services, *, article: str = "a-1", comments: int = 1,
             approve: bool = True) -> list[Activity]:
    """Register ARTICLE (once), submit COMMENTS comments and approve (or reject) each."""
    if services.queries.article(article) is None:
        services.moderation.register_article(RegisterArticle(article, "An article"), ADMIN)
    done = []
    for i in range(comments):
        rec = services.moderation.submit_comment(
            SubmitComment(article, "Reader", f"A thoughtful comment number {i}"), Context())
        version = services.queries.comment(rec.id)["version"]
        if approve:
            services.moderation.approve(ApproveComment(rec.id, version), MODERATOR)
        else:
            services.moderation.reject(RejectComment(rec.id, version, ["off_topic"]),
                                       MODERATOR)
        done.append(Activity(article, rec.id))
    return done
