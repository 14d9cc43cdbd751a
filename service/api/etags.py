"""Entity tags for every versioned resource (comments, webhook endpoints): the ETag is the
version in quotes ("3"), and If-Match names the version a change was made against.

If-Match uses strong comparison (RFC 9110, 13.1.1): a weak tag (W/"3") never matches, so it
is answered 412 whatever the current version. A bare version (3) is read as "3".
"""

from __future__ import annotations

import re

from flask import request

from .errors import ApiError

_VERSION = re.compile(r'"?([0-9]{1,18})"?')


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


def expected_version(body: dict, what: str, *, required: bool) -> int | None:
    """The version a write is based on, from If-Match or the body's expected_version;
    None when neither is given and it is optional (428 when it is required)."""
    from_header = if_match_version(what)
    from_body = body.get("expected_version")
    if from_header is None and from_body is None:
        if not required:
            return None
        raise ApiError(428, "precondition_required",
                       f"Say which version you acted on: send If-Match with the {what}'s "
                       "ETag, or expected_version in the body.",
                       {"If-Match": ["Required (or expected_version in the body)."]})
    if from_header is not None and from_body is not None and from_header != from_body:
        raise ApiError(400, "version_mismatch",
                       "If-Match and expected_version name different versions.",
                       {"expected_version": [f"If-Match says {from_header}."]})
    return from_header if from_header is not None else from_body
