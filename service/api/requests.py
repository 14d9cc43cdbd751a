"""Request plumbing shared by every endpoint: request ids, strict JSON bodies, arguments.

Bodies are read once, before routing reaches a view: only JSON is accepted (415 otherwise),
it must be valid UTF-8 (400) and valid JSON without NaN/Infinity (400), and no larger than
MAX_CONTENT_LENGTH (413). Arguments are then validated by marshmallow with unknown fields
refused (422), in the body and in the query string alike.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, g, request
from flask_smorest import Blueprint as SmorestBlueprint
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .errors import ApiError

_SURROGATE = re.compile("[\ud800-\udfff]")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class StrictParser(FlaskParser):
    """webargs parser reading the body parsed by `parse_body`; unknown fields are refused."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "json": ma.RAISE,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
        "headers": ma.EXCLUDE,
        "cookies": ma.EXCLUDE,
    }

    def _raw_load_json(self, req: Any) -> Any:
        return g.get("json_body", core.missing)

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        """One instance per schema class, not one per request: building a schema deep-copies
        its fields (and a nested schema's), which cost more than loading the body. Loading
        keeps no state on the instance, so requests can share it."""
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            return _schema_instance(argmap)
        return super()._get_schema(argmap, req)


@functools.cache
def _schema_instance(schema_class: type[ma.Schema]) -> ma.Schema:
    return schema_class()


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()


def assign_request_id() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


def parse_body() -> None:
    """Read and check the JSON body of a request that may carry one."""
    g.json_body = core.missing
    if request.method not in BODY_METHODS:
        return
    try:
        raw = request.get_data(cache=True)  # 413 here when Content-Length is over the limit
        _refuse_cut_stream(raw)
    except HTTPException:
        raise
    except Exception:  # the server's stream failed: bad chunk framing, a cut connection
        raise ApiError(400, "unreadable_body",
                       "The request body could not be read: its chunked framing is "
                       "malformed or the connection was cut.") from None
    if not raw:
        return
    mimetype = request.mimetype
    if not (mimetype == "application/json"
            or (mimetype.startswith("application/") and mimetype.endswith("+json"))):
        raise ApiError(415, "unsupported_media_type",
                       "Send the body as JSON with Content-Type: application/json.")
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ApiError(415, "unsupported_media_type", "JSON bodies must be UTF-8.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_utf8",
                       f"The body is not valid UTF-8 (bad byte at offset {exc.start}).") \
            from None
    try:
        body = json.loads(text, parse_constant=_reject_constant,
                          object_pairs_hook=_refuse_duplicate_keys)
    except (ValueError, RecursionError) as exc:
        detail = f" ({exc.msg} at line {exc.lineno} column {exc.colno})" \
            if isinstance(exc, json.JSONDecodeError) else \
            f" ({exc})" if str(exc).startswith("duplicate key") else ""
        raise ApiError(400, "malformed_json", f"The body is not valid JSON{detail}.") from None
    unpaired = _unpaired_surrogates(body)
    if unpaired:
        raise ApiError(400, "invalid_utf8",
                       "The body escapes an unpaired UTF-16 surrogate (\\ud800-\\udfff), "
                       "which is not text and cannot be stored.",
                       {path: ["Contains an unpaired surrogate."] for path in unpaired})
    g.json_body = body


def refuse_undeclared_query() -> None:
    """A documented operation that takes no query arguments refuses any (422), as those
    that take some refuse unknown ones: `?foo=1` never passes unnoticed."""
    if not request.args or request.endpoint is None:
        return
    view = current_app.view_functions.get(request.endpoint)
    view_class = getattr(view, "view_class", None)
    method = getattr(view_class, request.method.lower(), None) if view_class else view
    doc = getattr(method, "_apidoc", None)
    if doc is None:  # not an API operation (static files of the dashboard)
        return
    parameters = doc.get("arguments", {}).get("parameters", [])
    if any(parameter.get("in") == "query" for parameter in parameters):
        return
    raise ApiError(422, "validation_failed", "This operation takes no query parameters.",
                   {name: ["Unknown field."] for name in request.args})


def _refuse_cut_stream(raw: bytes) -> None:
    """A body without Content-Length (chunked) is read only up to the limit; werkzeug stops
    there without saying whether more followed. One more byte from the server's stream
    tells: a body over the limit is refused whole, never processed cut."""
    limit = request.max_content_length
    if limit is None or request.content_length is not None or len(raw) < limit:
        return
    if request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def _unpaired_surrogates(value: Any, path: str = "") -> list[str]:
    """Paths ('author.name', 'reasons.0') of strings that JSON escapes made invalid."""
    if isinstance(value, str):
        return [path or "_body"] if _SURROGATE.search(value) else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if _SURROGATE.search(key):
                found.append(path or "_body")
            found += _unpaired_surrogates(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _unpaired_surrogates(item, f"{path}.{index}" if path else str(index))
    return found


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """RFC 8259 leaves duplicate names undefined; two readers could act on different ones."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:60]!r}")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def finish_response(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
    if request.headers.get("Authorization"):
        response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def install(app: Flask) -> None:
    app.before_request(assign_request_id)
    app.before_request(parse_body)
    app.before_request(refuse_undeclared_query)
    app.after_request(finish_response)
