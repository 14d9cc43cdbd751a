"""Entity tags for every versioned resource (comments, authors, articles, webhook
endpoints): the ETag is the version in quotes ("3"), and If-Match names the version a
change was made against. If-Match is the one way to say it (no body field beside it), so
a request cannot name two versions and the OpenAPI document can say when it is required.

If-Match uses strong comparison (RFC 9110, 13.1.1): a weak tag (W/"3") never matches, so it
is answered 412 whatever the current version. A bare version (3) is read as "3".
"""

from __future__ import annotations

import re

from flask import request

from .errors import ApiError

_VERSION = re.compile(r'"?([0-9]{1,18})"?')
_VERSION_PATTERN = r'^\s*"?[0-9]{1,18}"?\s*$'


def if_match_parameter(description: str, *, required: bool) -> dict:
    """The If-Match header as an OpenAPI parameter."""
    return {"in": "header", "name": "If-Match", "required": required,
            "schema": {"type": "string", "pattern": _VERSION_PATTERN},
            "description": description}


def etag(version: int) -> str:
    return f'"{version}"'


def if_none_match_tags() -> list[str]:
    """If-None-Match uses weak comparison: W/"3" and "3" both name version 3."""
    header = request.headers.get("If-None-Match", "")
    out = []
    for part in header.split(","):
        part = part.strip().removeprefix("W/")
        if part:
            out.append(part if part.startswith('"') else f'"{part}"')
    return out


def if_match_version(what: str) -> int | None:
    """The version If-Match names, None without the header; 412 for a weak tag."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = [part.strip() for part in header.split(",") if part.strip()]
    if any(tag.startswith("W/") for tag in tags):
        raise ApiError(412, "precondition_failed",
                       "If-Match compares strongly: a weak ETag (W/...) never matches; send "
                       f'the {what}\'s ETag as it was given, e.g. "3".',
                       {"If-Match": ["A weak ETag never matches."]})
    match = _VERSION.fullmatch(tags[0]) if len(tags) == 1 else None
    if match is None:
        raise ApiError(400, "invalid_if_match",
                       f'If-Match must be one {what} version as its ETag, e.g. "3".',
                       {"If-Match": ['Expected one version such as "3".']})
    return int(match.group(1))


def required_if_match(what: str) -> int:
    """The version a change is based on; 428 without If-Match."""
    version = if_match_version(what)
    if version is None:
        raise ApiError(428, "precondition_required",
                       f"Say which version you acted on: send If-Match with the {what}'s "
                       'ETag, e.g. "3".', {"If-Match": ["Required."]})
    return version
