"""Bearer tokens and roles: who is calling, and may they call this endpoint.

`Authorization: Bearer <token>`; the token's name becomes the actor recorded in event
metadata (never anything from the request body). Roles nest: an admin may do everything,
a moderator may also read what auditors read.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from copy import deepcopy
from typing import Any

from flask import g, request
from flask_smorest.utils import deepupdate

from ..application.commands import READER, Actor, Context
from ..identity import tokens
from .errors import ApiError
from .runtime import runtime

log = logging.getLogger(__name__)

MODERATORS = ("moderator", "admin")
AUDITORS = ("auditor", "moderator", "admin")
ADMINS = ("admin",)
SECURITY_SCHEME = "bearerAuth"


def _authenticate() -> tokens.TokenInfo:
    header = request.headers.get("Authorization")
    if not header:
        raise ApiError(401, "unauthenticated", "This endpoint needs a bearer token.",
                       headers={"WWW-Authenticate": 'Bearer realm="moderation"'})
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "invalid_token", "Use 'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": 'Bearer realm="moderation", '
                                                    'error="invalid_request"'})
    access = runtime().services.access
    assert access is not None
    info = access.authenticate(token.strip())
    if info is None:
        raise ApiError(401, "invalid_token", "The token is unknown or has been revoked.",
                       headers={"WWW-Authenticate": 'Bearer realm="moderation", '
                                                    'error="invalid_token"'})
    return info


def requires(*roles: str) -> Callable:
    """Decorator: the caller must present a valid token whose role is one of ROLES."""
    allowed = frozenset(roles)

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            info = _authenticate()
            if info.role not in allowed:
                raise ApiError(403, "forbidden",
                               f"The role '{info.role}' may not do this; it needs one of: "
                               f"{', '.join(sorted(allowed))}.")
            g.actor = Actor(id=info.name, role=info.role)
            return func(*args, **kwargs)

        doc = deepcopy(getattr(func, "_apidoc", {}))
        responses = doc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        responses.setdefault(403, []).append("FORBIDDEN")
        doc["manual_doc"] = deepupdate(doc.get("manual_doc", {}), {
            "security": [{SECURITY_SCHEME: []}],
            "description": f"Needs a bearer token with the role {' or '.join(roles)}.",
        })
        wrapper._apidoc = doc  # type: ignore[attr-defined]
        return wrapper

    return decorator


def actor() -> Actor:
    return g.get("actor", READER)


def role() -> str:
    return actor().role


def context() -> Context:
    """The application Context for this request: the caller and the request id."""
    return Context(actor=actor(), correlation_id=g.get("request_id"))
