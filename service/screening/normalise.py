"""Folding text so simple disguises match: case, leetspeak, repeated letters, spacing,
Arabic diacritics and letter variants, bidi and joiner marks."""

from __future__ import annotations

import re
import unicodedata

INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d"
                                   "\u202e\u2066\u2067\u2068\u2069\u2060\ufeff\u0640"))
ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed]")
LETTER_VARIANTS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي",
                                 "ك": "ک", "ۆ": "و", "ؤ": "و", "ئ": "ي"})
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                      "$": "s", "!": "i", "|": "l", "€": "e"})
# Letters written apart to dodge a filter: "s h i t", "s.h.i.t", "s-h-i-t".
SPACED = re.compile(r"(?<!\w)(?:[^\W_][ .\-_*]){2,}[^\W_](?!\w)")
TOKEN = re.compile(r"[\w@$!|*€]+")
REPEATS = re.compile(r"(.)\1+")


def fold(text: str) -> str:
    """Case, compatibility forms, Arabic marks and variants, invisible marks."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(INVISIBLE)
    return ARABIC_MARKS.sub("", text).translate(LETTER_VARIANTS)


def squeeze(word: str) -> str:
    """Collapse repeated letters ("shiiit" -> "shit"); terms are squeezed the same way."""
    return REPEATS.sub(r"\1", word)


def tokens(text: str) -> list[str]:
    """Words of folded text, with spaced-out letters joined and leetspeak decoded."""
    joined = SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), fold(text))
    out = []
    for raw in TOKEN.findall(joined):
        core = raw.strip("!|*")  # "damn!!" is not "damnii"
        if not core:
            continue
        decoded = core.translate(LEET) if any(c.isalpha() for c in core) else core
        out.append(squeeze(decoded))
    return out


def phrase_key(text: str) -> str:
    """A phrase as one space-joined, folded and squeezed string for substring matching."""
    return " " + " ".join(tokens(text)) + " "
