"""Fixtures for the HTTP API: the app on the shared `services` (SQLite and PostgreSQL),
a test client, tokens for each role and a registered article."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.app import create_app
from service.application.commands import Actor, Context, RegisterArticle
from service.bootstrap import Services
from service.config import Settings
from service.db import write_transaction
from service.identity import tokens as api_tokens

ARTICLE = "baghouz-2026"


@dataclass(frozen=True)
class Tokens:
    moderator: str
    moderator2: str
    auditor: str
    admin: str


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    """The test database, with a submission rate limit no ordinary test reaches."""
    return replace(settings, submit_rate_limit="100000/minute")


@pytest.fixture
def app(api_settings: Settings, services: Services) -> Flask:
    app = create_app(api_settings, services)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as client:
        yield client


@pytest.fixture
def tokens(services: Services) -> Tokens:
    made = {}
    with write_transaction(services.engine) as conn:
        for key, name, role in (("moderator", "maya", "moderator"),
                                ("moderator2", "omar", "moderator"),
                                ("auditor", "aud.it", "auditor"),
                                ("admin", "root", "admin")):
            made[key] = api_tokens.create(conn, name=name, role=role, now=services.clock())[1]
    return Tokens(**made)


@pytest.fixture
def article(services: Services) -> str:
    services.moderation.register_article(
        RegisterArticle(ARTICLE, "Life after the camp", language="ar"),
        Context(Actor("setup", "admin")))
    return ARTICLE

