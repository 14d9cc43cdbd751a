"""Word lists a site edits: `<term>\\t<guideline>` per line, one file per language."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .normalise import phrase_key, squeeze, tokens

DEFAULT_DIR = Path(__file__).resolve().parent / "wordlists"
ARABIC_PREFIXES = ("وال", "بال", "کال", "فال", "لل", "ال", "و", "ف", "ب", "ل")
ARABIC_SUFFIXES = ("ەکان", "ەکە", "ات", "ون", "ين", "ها", "هم", "ان", "ة", "ه", "ە", "ن", "ي")


@dataclass(frozen=True)
class Term:
    text: str
    guideline: str
    language: str


class WordLists:
    def __init__(self, words: dict[str, Term], phrases: dict[str, Term],
                 threats: list[tuple[str, str]], fingerprint: str):
        self.words = words  # squeezed single token -> term
        self.phrases = phrases  # " folded phrase " -> term
        self.threats = threats  # (" folded phrase ", original)
        self.fingerprint = fingerprint

    @classmethod
    def load(cls, directory: Path | str = DEFAULT_DIR) -> WordLists:
        directory = Path(directory)
        if not directory.is_dir():
            raise FileNotFoundError(f"screening word lists not found in {directory}")
        words: dict[str, Term] = {}
        phrases: dict[str, Term] = {}
        threats: list[tuple[str, str]] = []
        digest = hashlib.sha256()
        for path in sorted(directory.glob("*.txt")):
            content = path.read_text(encoding="utf-8")
            digest.update(path.name.encode() + content.encode())
            for line in _lines(content):
                if path.stem == "threats":
                    threats.append((phrase_key(line), line))
                    continue
                term, _, guideline = line.partition("\t")
                entry = Term(term.strip(), guideline.strip() or "profanity", path.stem)
                parts = tokens(entry.text)
                if len(parts) == 1:
                    words.setdefault(parts[0], entry)
                elif parts:
                    phrases.setdefault(phrase_key(entry.text), entry)
        return cls(words, phrases, threats, digest.hexdigest()[:12])

    def match_word(self, token: str) -> Term | None:
        """The term a token spells, trying Arabic-script prefixes and suffixes too."""
        if token in self.words:
            return self.words[token]
        if "*" in token:  # "sh*t": a star stands for one hidden letter
            pattern = re.compile(".".join(map(re.escape, token.split("*"))))
            return next((t for w, t in self.words.items() if pattern.fullmatch(w)), None)
        if not _arabic_script(token):
            return None
        for stem in _stems(token):
            if stem in self.words:
                return self.words[stem]
        return None


def _lines(content: str) -> list[str]:
    return [ln.rstrip("\n") for ln in content.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def _arabic_script(token: str) -> bool:
    return bool(re.search("[\u0600-\u06ff]", token))


def _stems(token: str) -> list[str]:
    stems = []
    for prefix in ("", *ARABIC_PREFIXES):
        if prefix and not token.startswith(prefix):
            continue
        base = token[len(prefix):]
        for suffix in ("", *ARABIC_SUFFIXES):
            if suffix and not base.endswith(suffix):
                continue
            stem = base[: len(base) - len(suffix)] if suffix else base
            if len(stem) >= 2:
                stems.append(squeeze(stem))
    return stems
