"""The OpenAPI text patterns say exactly what the domain's text rules take: a string
matches a pattern if and only if the domain accepts it (over the Basic Multilingual Plane,
where the patterns can be written portably)."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.api import text_patterns
from service.domain.author import valid_email
from service.domain.comment import _email
from service.domain.errors import InvalidInput
from service.domain.text import clean_name, clean_text, has_visible, optional_text

BMP = [chr(cp) for cp in range(0x10000) if not 0xD800 <= cp <= 0xDFFF]


def _ranges(points: list[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for cp in points:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return tuple((a, b) for a, b in out)


def test_the_invisible_set_is_the_domains():
    invisible = _ranges([ord(ch) for ch in BMP if not has_visible(ch)])
    assert invisible == text_patterns.INVISIBLE_BMP, unicodedata.unidata_version


def test_the_trimmed_set_is_what_strip_removes_and_the_control_rule_lets_through():
    assert _ranges(
        [ord(ch) for ch in BMP if ch.isspace() and ch.strip() == ""
         and (unicodedata.category(ch) != "Cc" or ch in "\t\n\r")]) == text_patterns.TRIMMED


def accepts(rule, value: str) -> bool:  # noqa: ANN001
    try:
        rule(value)
    except InvalidInput:
        return False
    return True


RULES = {
    "required": (text_patterns.REQUIRED_TEXT,
                 lambda v: clean_text(v, "body", min_len=1, max_len=sys.maxsize)),
    "optional": (text_patterns.OPTIONAL_TEXT,
                 lambda v: optional_text(v, "note", max_len=sys.maxsize)),
    "name": (text_patterns.NAME, lambda v: clean_name(v, "name", max_len=sys.maxsize)),
    "email": (text_patterns.EMAIL, valid_email),
    "optional email": (text_patterns.OPTIONAL_EMAIL, _email),
}
# the characters the rules turn on, so short random strings meet each of them often
SPECIAL = "".join(chr(cp) for a, b in (*text_patterns.INVISIBLE_BMP, *text_patterns.TRIMMED,
                                      *text_patterns.NOT_IN_NAMES)
                  for cp in range(a, b + 1))
texts = st.text(alphabet=st.one_of(st.sampled_from(SPECIAL), st.sampled_from("aب€ه😀@@.."),
                                   st.characters(max_codepoint=0xFFFF,
                                                 exclude_categories=("Cs",))),
                max_size=8)


@pytest.mark.parametrize("rule", RULES)
@settings(max_examples=3000, deadline=None)
@given(value=texts)
def test_a_pattern_matches_exactly_what_the_domain_takes(rule, value):
    pattern, domain = RULES[rule]
    assert bool(re.fullmatch(pattern, value)) == accepts(domain, value), ascii(value)


@pytest.mark.parametrize(("rule", "value", "taken"), [
    ("required", "\u200b", False), ("required", " \u0627\u200f ", True),
    ("required", "a\x00", False), ("name", "Hêvî\n", True), ("name", "A\nB", False),
    ("name", "\u202eevil", False), ("optional", "", True), ("optional", "\x1b", False),
    ("email", " hevi@example.org ", True), ("email", "a@b", False),
    ("optional email", "", True), ("optional email", "a@@b.c", False),
])
def test_the_edges_named_in_the_rules(rule, value, taken):
    pattern, domain = RULES[rule]
    assert accepts(domain, value) is taken
    assert bool(re.fullmatch(pattern, value)) is taken
