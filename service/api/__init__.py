"""The HTTP API: flask-smorest blueprints, one module per resource, assembled by service.app.

Only service.app imports this package. Blueprints translate HTTP into application commands
and queries and back; every error becomes one JSON shape in `errors`.
"""

from __future__ import annotations

from flask_smorest import Api

from . import (
    articles,
    audit,
    authors,
    comments,
    decisions,
    events,
    guidelines,
    health,
    privacy,
    queue,
    reports,
    search,
    stats,
    stream,
)

BLUEPRINTS = (
    health.blp, guidelines.blp, articles.blp, comments.blp, queue.blp, events.blp,
    audit.blp, stats.blp, privacy.blp, stream.blp, authors.blp,
    reports.blp, decisions.blp, search.blp,
)


def register_blueprints(api: Api) -> None:
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
