"""The individual screeners. Each returns flags; none decides anything."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from urlextract import URLExtract

from ..domain.events import Flag
from .normalise import phrase_key, tokens
from .wordlists import WordLists

PHONE_REGIONS = ("IQ", "SY", "TR", "US", "GB", "DE")


@dataclass(frozen=True)
class AuthorHistory:
    """What screening may know about the author: their own earlier comments only."""

    earlier_comments: int
    has_same_text: bool


def word_flags(text: str, lists: WordLists, words: list[str] | None = None,
               key: str | None = None) -> Iterator[Flag]:
    """`words` and `key` are `tokens(text)` and `phrase_key(text)` when already folded."""
    seen: set[str] = set()
    for token in tokens(text) if words is None else words:
        term = lists.match_word(token)
        if term and term.text not in seen:
            seen.add(term.text)
            yield Flag(term.guideline, term.guideline, f"{term.text} ({term.language})")
    key = phrase_key(text) if key is None else key
    for phrase, term in lists.phrases.items():
        if phrase in key and term.text not in seen:
            seen.add(term.text)
            yield Flag(term.guideline, term.guideline, f"{term.text} ({term.language})")


def threat_flags(text: str, lists: WordLists, key: str | None = None) -> Iterator[Flag]:
    key = phrase_key(text) if key is None else key
    for phrase, original in lists.threats:
        if phrase in key:
            yield Flag("threat_phrase", "threats", original)


@lru_cache(maxsize=1)
def _url_extractor() -> URLExtract:
    return URLExtract(extract_email=True)


# Cheap pre-checks, each a necessary condition of its detector, so most comments skip the
# costly part. Every top-level domain urlextract knows starts with a dot followed by a
# letter or digit (checked in the tests); "localhost" is its only name without one. Every
# number the phone matcher accepts in these regions has at least four digits.
MAYBE_URL = re.compile(r"\.\w|localhost", re.IGNORECASE)
PHONE_MIN_DIGITS = 4


def promotion_flags(text: str) -> Iterator[Flag]:
    if MAYBE_URL.search(text):
        for found in dict.fromkeys(_url_extractor().find_urls(text, only_unique=True)):
            if "@" in found and "/" not in found:
                yield Flag("email_address", "commercial_promotion", found)
            else:
                yield Flag("link", "commercial_promotion", found)
    if sum(c.isdigit() for c in text) < PHONE_MIN_DIGITS:
        return
    numbers: dict[str, str] = {}
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region):
            numbers.setdefault(match.raw_string.strip(), region)
    for raw in numbers:
        yield Flag("phone_number", "commercial_promotion", raw)


def shouting_flag(text: str) -> Flag | None:
    letters = [c for c in text if c.isalpha() and (c.isupper() or c.islower())]
    if len(letters) < 12:
        return None
    upper = sum(c.isupper() for c in letters) / len(letters)
    return Flag("shouting", None, f"{upper:.0%} capitals") if upper >= 0.7 else None


def history_flags(history: AuthorHistory) -> Iterator[Flag]:
    if history.has_same_text:
        yield Flag("repeated_text", "commercial_promotion",
                   "the same author posted the same text before")
    if history.earlier_comments == 0:
        yield Flag("first_comment", None, "the author's first comment")
