"""One error format for every failure, and the one place where errors become HTTP statuses.

Every error response, whatever raised it (a domain rule, marshmallow, routing, the rate
limiter, the database), has this body:

    {"status": 409, "code": "version_conflict", "message": "A human sentence.",
     "errors": {"field": ["What is wrong with it."]}, "request_id": "..."}

Domain and application errors map to statuses here and nowhere else:

    invalid_input, unknown_reason, parent_not_found      422  (the request's content)
    note_required                                        422  (add a note and retry)
    idempotency_key_reused                               422  (same key, different body)
    comment_not_found, article_not_found, author_not_found  404
    decision_refused                                     409  (already in that state)
    webhook_endpoint_disabled                            409  (Conflict)
    version_conflict (StaleVersion)                      409  + current state and winner
    version_conflict (another resource's stale If-Match) 409  + current_version and ETag
    article_exists                                       409
    article_closed                                       409  + closed_message
    author_suspended (+ until), author_banned            403  (a sanctioned author submits)
    author_not_found                                     404
    version_conflict (StaleStreamVersion)                409  + current_version (articles)
    claimed_by_other                                     409  (another moderator's claim)
    database unreachable, lock or statement timeout      503  + Retry-After
    anything unexpected                                  500  (logged, no details leak)
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from ..application.errors import (
    ArticleExists,
    ClaimedByOther,
    IdempotencyKeyReused,
    StaleStreamVersion,
    StaleVersion,
)
from ..application.proofs import ProofSubjectNotFound
from ..domain.errors import (
    ArticleIsClosed,
    AuthorIsBanned,
    AuthorIsSuspended,
    Conflict,
    DecisionRefused,
    DomainError,
    InvalidInput,
    NoteRequired,
    NotFound,
    ParentNotFound,
)
from ..projections.runner import ProjectionOutOfStep
from .ratelimit import RateLimited
from .schemas import CommentSchema, DecisionSummarySchema, decision_summary

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

# Most specific first: NoteRequired is a DecisionRefused, UnknownReason an InvalidInput.
DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (StaleVersion, 409),
    (StaleStreamVersion, 409),
    (ArticleIsClosed, 409),
    (AuthorIsSuspended, 403),
    (AuthorIsBanned, 403),
    (NoteRequired, 422),
    (DecisionRefused, 409),
    (NotFound, 404),  # comments, articles, authors, webhook endpoints and deliveries
    (ProofSubjectNotFound, 404),
    (ArticleExists, 409),
    (ClaimedByOther, 409),
    (IdempotencyKeyReused, 422),
    (ParentNotFound, 422),
    (InvalidInput, 422),
    (Conflict, 409),  # a stale webhook endpoint version, a disabled endpoint
    (DomainError, 422),
)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}

HTTP_MESSAGES = {
    404: "No such resource.",
    405: "This method is not allowed on this resource.",
    413: "The request body is larger than the limit of {limit} bytes.",
    422: "The request is not valid; see errors for each field.",
    429: "Too many requests from this address; retry after the time in Retry-After.",
    500: "Something went wrong on our side; it has been logged.",
}


class ApiError(Exception):
    """An HTTP-level refusal raised by the API layer itself (bad header, bad cursor...)."""

    def __init__(self, status: int, code: str, message: str,
                 errors: dict[str, list[str]] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


def error_response(status: int, code: str, message: str,
                   errors: dict[str, list[str]] | None = None,
                   headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body = {"status": status, "code": code, "message": message, "errors": errors or {},
            "request_id": g.get("request_id", ""), **extra}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {'author.name': [...], 'reasons.0': [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            # marshmallow's "_schema" under a field is about the field itself
            here = prefix if key == "_schema" and prefix else (
                f"{prefix}.{key}" if prefix else str(key))
            for name, texts in flatten_messages(value, here).items():
                out.setdefault(name, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, dict | list | tuple):
                for name, texts in flatten_messages(item, prefix).items():
                    out.setdefault(name, []).extend(texts)
            else:
                out.setdefault(prefix or "_request", []).append(str(item))
    else:
        out.setdefault(prefix or "_request", []).append(str(messages))
    return out


def domain_status(error: DomainError) -> int:
    for cls, status in DOMAIN_STATUS:
        if isinstance(error, cls):
            return status
    return 422


def _handle_api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.errors, error.headers)


def _handle_domain_error(error: DomainError) -> Response:
    if isinstance(error, StaleVersion):
        return _version_conflict(error)
    status = domain_status(error)
    details = error.details
    headers = {"ETag": f'"{details["current_version"]}"'} \
        if "current_version" in details else {}
    return error_response(status, error.code, _sentence(error.message), error.errors, headers,
                          **details)


def _version_conflict(error: StaleVersion) -> Response:
    current = None
    headers: dict[str, str] = {}
    if error.current is not None:
        current = CommentSchema().dump(error.current)
        headers["ETag"] = f'"{error.current["version"]}"'
    winner = None
    if error.winner is not None:
        winner = DecisionSummarySchema().dump(decision_summary(error.winner))
    return error_response(
        409, error.code,
        f"Comment {error.comment_id} is at version {error.actual}, not {error.expected}: "
        "someone else decided first. Review the current state and decide again if needed.",
        error.errors, headers, current=current, winning_decision=winner)


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers: dict[str, str] = {}
    if status == 405:
        headers.update({k: v for k, v in error.get_headers() if k.lower() == "allow"})
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
        return error_response(429, "rate_limited", HTTP_MESSAGES[429], {}, headers)
    if "messages" in data:  # webargs / marshmallow validation
        errors = flatten_messages(_strip_location(data["messages"]))
        headers.update(data.get("headers") or {})
        return error_response(status, HTTP_CODES.get(status, "validation_failed"),
                              HTTP_MESSAGES[422], errors, headers)
    if status == 413:
        message = HTTP_MESSAGES[413].format(limit=current_app.config["MAX_CONTENT_LENGTH"])
    elif status in HTTP_MESSAGES:
        message = HTTP_MESSAGES[status]
    else:
        message = _sentence(error.description or error.name)
    code = HTTP_CODES.get(status, error.name.lower().replace(" ", "_").replace("'", ""))
    return error_response(status, code, message, {}, headers)


def _handle_unavailable(error: Exception) -> Response:
    log.warning("database unavailable during %s %s: %s", request.method, request.path,
                str(error).splitlines()[0] if str(error) else type(error).__name__)
    return error_response(
        503, "service_unavailable",
        "The database is unavailable or busy; retry after the time in Retry-After.",
        {}, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _handle_dbapi_error(error: sa_exc.DBAPIError) -> Response:
    if error.connection_invalidated:
        return _handle_unavailable(error)
    return _handle_unexpected(error)


def _handle_out_of_step(error: ProjectionOutOfStep) -> Response:
    log.error("read models are out of step: %s", error)
    return error_response(
        503, "read_models_behind",
        "The read models are behind the event log and are being rebuilt; retry later.",
        {}, {"Retry-After": str(RETRY_AFTER_SECONDS * 6)})


def _handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _handle_http_exception(error)
    log.exception("unhandled error in %s %s (request %s)", request.method, request.path,
                  g.get("request_id"))
    return error_response(500, "internal_error", HTTP_MESSAGES[500])


def _strip_location(messages: Any) -> Any:
    """webargs nests messages under the location ('json', 'query'): drop that level."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "querystring",
                                                        "headers", "view_args", "path"}:
        merged: dict[str, Any] = {}
        for value in messages.values():
            if isinstance(value, dict):
                merged.update(value)
            else:
                merged.setdefault("_request", value)
        return merged
    return messages


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return "The request was refused."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(sa_exc.OperationalError, _handle_unavailable)
    app.register_error_handler(sa_exc.InterfaceError, _handle_unavailable)
    app.register_error_handler(sa_exc.TimeoutError, _handle_unavailable)
    app.register_error_handler(sa_exc.DBAPIError, _handle_dbapi_error)
    app.register_error_handler(ProjectionOutOfStep, _handle_out_of_step)
    app.register_error_handler(Exception, _handle_unexpected)


def domain_error_body(error: DomainError) -> dict[str, Any]:
    """The body a single request would get for this refusal (a bulk answer lists one per
    failed item), built by the same handler."""
    response = _handle_domain_error(error)
    return response.get_json()
