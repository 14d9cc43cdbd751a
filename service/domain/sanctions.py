"""An author's standing with the moderators: warnings, suspensions, bans and notes.

Folded from the author's own stream (`author-<pseudonym>`), which other concerns (a data
subject's requests) also write to: every event counts towards the version a moderator's
If-Match names, whatever its kind. A suspension ends by itself at `until`; a ban lasts until
it is lifted. Only a live sanction can be lifted; a ban replaces a suspension, a suspension
does not soften a ban.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .comment import NOTE_MAX
from .errors import (
    AuthorIsBanned,
    AuthorIsSuspended,
    DecisionRefused,
    InvalidInput,
    NoteRequired,
)
from .events import (
    AuthorBanned,
    AuthorNoted,
    AuthorSanctionLifted,
    AuthorSuspended,
    AuthorWarned,
    DomainEvent,
)
from .guidelines import GuidelineCatalogue
from .text import clean_text, optional_text

TEXT_MAX = 2000
SUSPENDED, BANNED = "suspended", "banned"


@dataclass
class Standing:
    author_id: str
    version: int = 0
    sanction: str | None = None  # SUSPENDED or BANNED (a suspension may have run out)
    until: datetime | None = None
    history: list[DomainEvent] = field(default_factory=list)

    @classmethod
    def from_history(cls, author_id: str, events: list[DomainEvent]) -> Standing:
        standing = cls(author_id)
        for event in events:
            standing.apply(event)
        return standing

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        self.history.append(event)
        match event:
            case AuthorSuspended():
                self.sanction, self.until = SUSPENDED, event.until
            case AuthorBanned():
                self.sanction, self.until = BANNED, None
            case AuthorSanctionLifted():
                self.sanction, self.until = None, None

    def live_sanction(self, now: datetime) -> str | None:
        return current_sanction(self.sanction, self.until, now)

    def warn(self, moderator: str, reason: object, note: object, now: datetime,
             catalogue: GuidelineCatalogue) -> AuthorWarned:
        code, clean = _reason_and_note(reason, note, catalogue)
        return AuthorWarned(self.author_id, moderator, code, clean, now)

    def suspend(self, moderator: str, until: datetime | None, reason: object, note: object,
                now: datetime, catalogue: GuidelineCatalogue) -> AuthorSuspended:
        code, clean = _reason_and_note(reason, note, catalogue)
        if until is None or until.tzinfo is None:
            raise InvalidInput("a suspension needs an end", {"until": ["Required."]})
        if until <= now:
            raise InvalidInput("a suspension must end in the future",
                               {"until": ["Must be later than now."]})
        if self.live_sanction(now) == BANNED:
            raise DecisionRefused(
                f"author {self.author_id} is banned; lift the ban before suspending")
        return AuthorSuspended(self.author_id, moderator, until, code, clean, now)

    def ban(self, moderator: str, reason: object, note: object, reject_pending: bool,
            now: datetime, catalogue: GuidelineCatalogue) -> AuthorBanned:
        code, clean = _reason_and_note(reason, note, catalogue)
        if self.live_sanction(now) == BANNED:
            raise DecisionRefused(f"author {self.author_id} is already banned")
        return AuthorBanned(self.author_id, moderator, code, clean, bool(reject_pending), now)

    def lift(self, moderator: str, note: object, now: datetime) -> AuthorSanctionLifted:
        clean = optional_text(note, "note", max_len=NOTE_MAX)
        live = self.live_sanction(now)
        if live is None:
            raise DecisionRefused(f"author {self.author_id} has no sanction to lift")
        return AuthorSanctionLifted(self.author_id, moderator, live, clean, now)

    def note(self, moderator: str, text: object, now: datetime) -> AuthorNoted:
        return AuthorNoted(self.author_id, moderator,
                           clean_text(text, "text", min_len=1, max_len=TEXT_MAX), now)


def current_sanction(sanction: str | None, until: datetime | None,
                     now: datetime) -> str | None:
    """A stored sanction as it stands now: a suspension past its end is no sanction."""
    if sanction == SUSPENDED and (until is None or until <= now):
        return None
    return sanction


def check_may_comment(sanction: str | None, until: datetime | None, now: datetime) -> None:
    live = current_sanction(sanction, until, now)
    if live == BANNED:
        raise AuthorIsBanned("this author is banned from commenting")
    if live == SUSPENDED:
        raise AuthorIsSuspended(until)  # type: ignore[arg-type]


def _reason_and_note(reason: object, note: object,
                     catalogue: GuidelineCatalogue) -> tuple[str, str | None]:
    errors: dict[str, list[str]] = {}
    if not isinstance(reason, str) or not reason:
        raise InvalidInput("a reason is required",
                           {"reason": ["A guideline code from GET /v1/guidelines."]})
    try:
        [code] = catalogue.check_reasons([reason])
    except InvalidInput as exc:
        raise type(exc)(exc.message, {"reason": exc.errors.get("reasons", [exc.message])}) \
            from None
    clean = optional_text(note, "note", max_len=NOTE_MAX)
    if clean is None and catalogue.note_required_for((code,)):
        errors["note"] = ["A note is required for this reason."]
        raise NoteRequired("the reason 'other' needs a note explaining it", errors)
    return code, clean
