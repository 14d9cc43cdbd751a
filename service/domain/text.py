"""Text rules for what readers and moderators write.

Text is normalised to NFC once, at the edge of the domain, and is otherwise kept exactly:
Arabic, Kurdish, emoji and bidirectional marks must come back byte for byte.

Required text must hold at least one visible character: a note of one zero-width space
is no note. Names are one line and carry no bidi embeddings, overrides or isolates (a name
must not turn the text around it backwards); bodies keep every mark, since RLM, ZWJ and
ZWNJ are part of how Arabic, Kurdish and emoji are written.
"""

from __future__ import annotations

import unicodedata

from .errors import InvalidInput

ALLOWED_CONTROLS = frozenset("\n\t\r")
# Format characters, separators and the letters that render as blank space. Unassigned
# code points count as visible: they may be emoji newer than this Python's Unicode tables.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u034f")
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


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
    if text and not has_visible(text):
        raise InvalidInput(f"{field} has no visible character",
                           {field: ["Text must contain a visible character."]})
    if len(text) > max_len:
        raise InvalidInput(
            f"{field} is longer than {max_len} characters",
            {field: [f"Longer than maximum length {max_len}."]},
        )
    return text


def clean_name(value: object, field: str, *, max_len: int) -> str:
    """A required one-line name: no line breaks, tabs or bidi controls."""
    text = clean_text(value, field, min_len=1, max_len=max_len)
    for ch in text:
        if ch in LINE_BREAKS or ch == "\t":
            raise InvalidInput(f"{field} must be one line",
                               {field: [f"Must be one line (found U+{ord(ch):04X})."]})
        if ch in BIDI_CONTROLS:
            raise InvalidInput(
                f"{field} contains a bidi control",
                {field: [f"Must not contain the bidi control U+{ord(ch):04X}."]})
    return text


def has_visible(text: str) -> bool:
    return any(not ch.isspace() and ch not in _BLANK_LETTERS
               and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES for ch in text)


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
