"""The site's community guidelines, as versioned data.

A rejection cites codes from one catalogue version and records that version, so an audit
years later can tell which wording the moderator was applying.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UnknownReason


@dataclass(frozen=True)
class Guideline:
    code: str
    title: str
    description: str
    group: str
    note_required: bool = False


@dataclass(frozen=True)
class GuidelineCatalogue:
    version: str
    guidelines: tuple[Guideline, ...]
    _by_code: dict[str, Guideline] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {g.code: g for g in self.guidelines})

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Guideline:
        return self._by_code[code]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def check_reasons(self, reasons: object) -> tuple[str, ...]:
        """Validate a rejection's reason codes: at least one, all known, no repeats."""
        if not isinstance(reasons, list | tuple) or not reasons:
            raise UnknownReason(
                "a rejection needs at least one guideline reason",
                {"reasons": ["At least one reason code is required."]},
            )
        unknown = [r for r in reasons if not isinstance(r, str) or r not in self._by_code]
        if unknown:
            raise UnknownReason(
                f"unknown reason code(s): {', '.join(map(str, unknown))}",
                {"reasons": [f"Unknown reason code {r!r}." for r in unknown]},
            )
        return tuple(dict.fromkeys(reasons))

    def note_required_for(self, reasons: tuple[str, ...]) -> bool:
        return any(self._by_code[r].note_required for r in reasons)


CATALOGUE = GuidelineCatalogue(
    version="2026-11-01",
    guidelines=(
        Guideline("profanity", "Profanity",
                  "Swearing and obscene words, including disguised spellings.", "profanity"),
        Guideline("threats", "Threats",
                  "Threatening, inciting or celebrating violence against anyone.", "threats"),
        Guideline("personal_attack", "Personal attacks",
                  "Insulting other readers, the author or people in the story instead of "
                  "engaging with what they said.", "personal_attack"),
        Guideline("vulgarity", "Vulgarity",
                  "Crude sexual or scatological language or imagery.", "vulgarity"),
        Guideline("abuse_sexism", "Abuse: sexism",
                  "Demeaning people because of their sex or gender.", "abuse"),
        Guideline("abuse_racism", "Abuse: racism",
                  "Demeaning people because of their race, ethnicity or origin.", "abuse"),
        Guideline("abuse_homophobia", "Abuse: homophobia",
                  "Demeaning people because of their sexual orientation or gender identity.",
                  "abuse"),
        Guideline("abuse_xenophobia", "Abuse: xenophobia",
                  "Demeaning people because of their nationality, religion or being "
                  "refugees or migrants.", "abuse"),
        Guideline("commercial_promotion", "Commercial promotion",
                  "Advertising products, services or links for profit.", "promotion"),
        Guideline("personal_promotion", "Personal promotion",
                  "Promoting your own channel, blog, page or cause unrelated to the "
                  "discussion.", "promotion"),
        Guideline("off_topic", "Off topic",
                  "Not relevant to the article being discussed.", "relevance"),
        Guideline("other", "Other",
                  "Breaks the guidelines in a way not listed above; the moderator must "
                  "explain in a note.", "other", note_required=True),
    ),
)
