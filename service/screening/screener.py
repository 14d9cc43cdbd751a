"""Combines the screeners into flags and one risk score between 0 and 1."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..domain.events import Flag
from .normalise import tokens
from .rules import (
    AuthorHistory,
    history_flags,
    promotion_flags,
    shouting_flag,
    threat_flags,
    word_flags,
)
from .wordlists import DEFAULT_DIR, WordLists

# How much each kind of flag raises the risk; combined as independent chances.
WEIGHTS = {
    "threat_phrase": 0.7, "threats": 0.7, "abuse_racism": 0.6, "abuse_sexism": 0.6,
    "abuse_homophobia": 0.6, "abuse_xenophobia": 0.6, "vulgarity": 0.5, "profanity": 0.45,
    "link": 0.35, "email_address": 0.3, "phone_number": 0.35, "repeated_text": 0.4,
    "shouting": 0.15, "first_comment": 0.05,
}


@dataclass(frozen=True)
class Screening:
    flags: tuple[Flag, ...]
    risk: float


class Screener:
    def __init__(self, lists: WordLists):
        self.lists = lists
        self.name = f"screener-1/wordlists-{lists.fingerprint}"

    @classmethod
    def from_directory(cls, directory: Path | str | None = None) -> Screener:
        return cls(WordLists.load(directory or DEFAULT_DIR))

    def screen(self, text: str | None, history: AuthorHistory,
               text_flags: Sequence[Flag] | None = None) -> Screening:
        """`text_flags`: what `screen_text(text)` found, if the caller screened the text
        already (before taking a lock, say); the author's history is added here."""
        flags = list(self.screen_text(text) if text_flags is None else text_flags)
        flags += history_flags(history)
        safe = 1.0
        for flag in flags:
            safe *= 1.0 - WEIGHTS.get(flag.code, 0.2)
        return Screening(tuple(flags), round(1.0 - safe, 4))

    def screen_text(self, text: str | None) -> list[Flag]:
        """The flags the text alone raises (no database: words, threats, promotion,
        shouting); most of a screening's work."""
        flags: list[Flag] = []
        if text:
            words = tokens(text)  # folded once for words, phrases and threats
            key = " " + " ".join(words) + " "
            flags += word_flags(text, self.lists, words, key)
            flags += threat_flags(text, self.lists, key)
            flags += promotion_flags(text)
            if shout := shouting_flag(text):
                flags.append(shout)
        return flags
