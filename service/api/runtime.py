"""What a request handler needs from the application, kept on the Flask app by create_app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from ..application.audit import AuditQueries
from ..config import Settings
from .ratelimit import RateLimiter

if TYPE_CHECKING:  # built by the composition root, which the API never imports
    from ..bootstrap import Services


@dataclass
class Runtime:
    settings: Settings
    services: Services
    audit: AuditQueries
    limiter: RateLimiter | None
    schema_head: str | None


def runtime() -> Runtime:
    return current_app.extensions["moderation"]
