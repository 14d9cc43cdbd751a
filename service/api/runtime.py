"""What a request handler needs from the application, kept on the Flask app by create_app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_limiter import Limiter

from ..application.audit import AuditQueries
from ..bootstrap import Services
from ..config import Settings


@dataclass
class Runtime:
    settings: Settings
    services: Services
    audit: AuditQueries
    limiter: Limiter | None
    schema_head: str | None


def runtime() -> Runtime:
    return current_app.extensions["moderation"]
