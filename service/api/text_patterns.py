"""The domain's text rules (domain/text.py) as OpenAPI patterns, so a client or a fuzzer
reading the document knows which strings are refused before sending them.

The domain stays the one enforcer (its messages name the character that is wrong); these
patterns only describe it, and tests/api/test_text_patterns.py holds them to it: a string
matches a pattern exactly when the domain takes it. Patterns use \\uXXXX escapes, which
ECMA-262 and Python read alike; invisible characters outside the Basic Multilingual Plane
(tag characters, a few format controls) cannot be written that way portably and are left
to the domain.
"""

from __future__ import annotations

# Code points the domain does not count as visible (whitespace, controls, format
# characters, separators, blank letters), in the BMP, as inclusive ranges.
INVISIBLE_BMP = (
    (0x0000, 0x0020), (0x007F, 0x00A0), (0x00AD, 0x00AD), (0x034F, 0x034F),
    (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x115F, 0x1160), (0x1680, 0x1680),
    (0x180E, 0x180E), (0x2000, 0x200F), (0x2028, 0x202F), (0x205F, 0x2064),
    (0x2066, 0x206F), (0x2800, 0x2800), (0x3000, 0x3000), (0x3164, 0x3164),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB),
)
# Control characters refused everywhere (tab, line feed and carriage return are allowed).
CONTROLS = ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F))
# What a name may not hold besides those: tabs, line breaks and bidi controls...
NOT_IN_NAMES = ((0x09, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029), (0x202A, 0x202E),
                (0x2066, 0x2069))
# ...except at either end, where whitespace is trimmed before the name is checked.
TRIMMED = ((0x09, 0x0A), (0x0D, 0x0D), (0x20, 0x20), (0xA0, 0xA0), (0x1680, 0x1680),
           (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
           (0x3000, 0x3000))


def _ranges(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


_TEXT_CHAR = f"[^{_ranges(CONTROLS)}]"
_NAME_CHAR = f"[^{_ranges(CONTROLS + NOT_IN_NAMES)}]"
_VISIBLE = f"[^{_ranges(INVISIBLE_BMP)}]"
_TRIMMED = f"[{_ranges(TRIMMED)}]"

REQUIRED_TEXT = f"^{_TEXT_CHAR}*{_VISIBLE}{_TEXT_CHAR}*$"
# blank (taken as no text at all) or text with something to see
OPTIONAL_TEXT = f"^(?:{_TRIMMED}*|{_TEXT_CHAR}*{_VISIBLE}{_TEXT_CHAR}*)$"
NAME = f"^{_TRIMMED}*{_NAME_CHAR}*{_VISIBLE}{_NAME_CHAR}*{_TRIMMED}*$"

_EMAIL_CHAR = f"[^@{_ranges(TRIMMED + CONTROLS)}]"
_ADDRESS = f"{_TRIMMED}*{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\\.{_EMAIL_CHAR}+{_TRIMMED}*"
EMAIL = f"^{_ADDRESS}$"
OPTIONAL_EMAIL = f"^(?:{_TRIMMED}*|{_ADDRESS})$"


def described(pattern: str, **metadata: object) -> dict[str, object]:
    """Field metadata carrying a pattern for OpenAPI only (marshmallow does not apply it)."""
    return {"pattern": pattern, **metadata}
