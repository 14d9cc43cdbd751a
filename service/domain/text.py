"""Text rules for what readers and moderators write.

Text is normalised to NFC once, at the edge of the domain, and is otherwise kept exactly:
Arabic, Kurdish, emoji and bidirectional marks must come back byte for byte.
"""

from __future__ import annotations

import unicodedata

from .errors import InvalidInput

ALLOWED_CONTROLS = frozenset("\n\t\r")


def clean_text(value: object, field: str, *, min_len: int, max_len: int) -> str:
    """Return `value` NFC-normalised and trimmed, or raise InvalidInput naming `field`."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", {field: ["Must be a string."]})
    problem = _first_problem(value)
    if problem:
        raise InvalidInput(f"{field} {problem}", {field: [f"Text {problem}."]})
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) < min_len:
        msg = "must not be empty" if min_len == 1 else f"must be at least {min_len} characters"
        raise InvalidInput(f"{field} {msg}", {field: [f"Text {msg}."]})
    if len(text) > max_len:
        raise InvalidInput(
            f"{field} is longer than {max_len} characters",
            {field: [f"Longer than maximum length {max_len}."]},
        )
    return text


def optional_text(value: object, field: str, *, max_len: int) -> str | None:
    if value is None:
        return None
    text = clean_text(value, field, min_len=0, max_len=max_len)
    return text or None


def _first_problem(value: str) -> str | None:
    for ch in value:
        cat = unicodedata.category(ch)
        if cat == "Cs":
            return "contains an unpaired surrogate (invalid UTF-8)"
        if cat == "Cc" and ch not in ALLOWED_CONTROLS:
            return f"contains a control character U+{ord(ch):04X}"
    return None
