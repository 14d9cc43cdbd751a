"""The HTTP composition root: `create_app(settings)` builds one Flask app; nothing at import.

Serve it with `moderation serve` (gunicorn), or any WSGI server with
`service.app:create_app_from_env()`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from . import metrics, migrate
from .api import register_blueprints
from .api import webhooks as webhooks_api
from .api.converters import (
    ArticleIdConverter,
    AuthorIdConverter,
    article_id_schema,
    author_id_schema,
)
from .api.errors import register_error_handlers
from .api.ratelimit import RateLimiter
from .api.requests import install
from .api.runtime import Runtime
from .api.schemas import ErrorSchema
from .application.audit import AuditQueries
from .bootstrap import Services, build, configure_logging
from .config import Settings
from .dashboard import blp as dashboard_blueprint

API_DESCRIPTION = """\
Comment moderation: readers submit comments, moderators approve or reject them, auditors
review every decision. Every change is an event in an append-only log.

**Authentication.** Public endpoints need nothing. Others need `Authorization: Bearer
<token>` (tokens come from `moderation tokens create`). Roles: `moderator` (queue,
comments, decisions), `auditor` (events feed, audit log, stats), `admin` (everything).
Moderators and admins may also read what auditors read. No token: 401; wrong role: 403.

**Errors.** Every error has the same body (schema `Error`): `status`, a stable snake_case
`code`, a human `message`, field-level `errors` and the `request_id`. Every response carries
`X-Request-ID` (yours when it is a sane token, else a generated one); it is recorded as the
correlation id of the events your request causes.

**Bodies.** JSON only (`415` otherwise), valid UTF-8 (`400 invalid_utf8`), valid JSON
(`400 malformed_json`), at most the configured size (`413`). Unknown fields and wrong types
are `422 validation_failed`.

**Versions.** `GET /v1/comments/{id}` returns `ETag: "<version>"`. Decisions send it back in
`If-Match` (the one place a version is named); without it `428`, stale `409` with the
current state and the winning decision. `decision_refused` (already in that state) is 409;
`note_required` (changing a decision without a note) is 422.

**Paging.** Lists return an opaque `next_cursor` (null on the last page); a malformed cursor
is `400 invalid_cursor`. The event feed pages by log position with `after`/`next_after`.

**Times** are UTC ISO-8601; times you send must include an offset (`Z`).
"""


class JSONProvider(DefaultJSONProvider):
    """UTF-8 JSON (Arabic stays Arabic), falling back to escapes if text cannot be encoded."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(obj, default=self.default, ensure_ascii=True, sort_keys=False)
        return text


class ModerationApi(Api):
    """flask-smorest with our error format for every error, documented as `Error`."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)


def create_app(settings: Settings, services: Services | None = None) -> Flask:
    """Build the API for SETTINGS; SERVICES are built from them when not given."""
    services = services or build(settings)
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE="Comment moderation API",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": API_DESCRIPTION},
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A token from `moderation tokens create`."},
            }},
        },
    )
    if settings.trust_proxy_hops > 0:
        hops = settings.trust_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.url_map.converters["article_id"] = ArticleIdConverter
    app.url_map.converters["author_id"] = AuthorIdConverter
    api = ModerationApi(app)
    api.register_converter(ArticleIdConverter, article_id_schema)
    api.register_converter(AuthorIdConverter, author_id_schema)
    metrics.install(app, services)  # first: every request is timed; /metrics for Prometheus
    install(app)
    register_blueprints(api)
    api.register_blueprint(webhooks_api.blp)  # /v1/webhooks, in service/api/webhooks.py
    app.register_blueprint(dashboard_blueprint)  # /dashboard/, static files in service/dashboard

    # Per client address (after ProxyFix), on the public writes only. With the default
    # memory:// storage each gunicorn worker counts on its own, so the effective limit is
    # the configured one times the workers; point MODERATION_RATE_LIMIT_STORAGE_URI at a
    # shared store for an exact one. If that store fails, limiting falls back to memory
    # rather than refusing submissions.
    limiter = RateLimiter(settings.submit_rate_limit, settings.rate_limit_storage_uri)
    post = frozenset({"POST"})
    for endpoint in ("articles.ArticleComments",  # submissions
                     "reports.Reports"):  # reader reports: public too, limited the same way
        app.view_functions[endpoint] = limiter.limit(app.view_functions[endpoint],
                                                     endpoint, post)

    app.extensions["moderation"] = Runtime(
        settings=settings, services=services,
        audit=AuditQueries(services.engine, services.clock, services.store),
        limiter=limiter, schema_head=migrate.head_revision())
    return app


def create_app_from_env() -> Flask:
    """For WSGI servers: settings from the environment, as `moderation serve` does."""
    settings = Settings.from_env()
    configure_logging(settings)
    return create_app(settings)
