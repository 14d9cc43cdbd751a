"""The author aggregate: what has been done about one (pseudonymous) author, from their stream.

An author is known by a keyed pseudonym of their e-mail (`author-<hex>`), never by the
address itself. Their stream records what admins did about them: look-ups, exports and the
erasure of their personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from .comment import NOTE_MAX, _email
from .errors import AuthorNotFound, InvalidInput, NoteRequired
from .events import AuthorErased, DomainEvent
from .text import clean_text

AUTHOR_ID = re.compile(r"^author-[0-9a-f]{32}$")


@dataclass
class Author:
    id: str
    version: int = 0
    erasure: AuthorErased | None = None
    history: list[DomainEvent] = field(default_factory=list)

    @classmethod
    def from_history(cls, author_id: str, events: list[DomainEvent]) -> Author:
        author = cls(id=author_id)
        for event in events:
            author.apply(event)
        return author

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        self.history.append(event)
        if isinstance(event, AuthorErased):
            self.erasure = event

    def erase(self, comment_ids: list[str], note: object, now: datetime, *,
              holds_data: bool) -> AuthorErased | None:
        """The erasure to record, or None when an earlier one already covers everything
        held (erasing twice changes nothing). A note saying why is required."""
        clean_note = valid_note(note)
        if self.erasure is not None and not holds_data \
                and set(comment_ids) <= set(self.erasure.comment_ids):
            return None
        return AuthorErased(self.id, tuple(comment_ids), clean_note, now)


def valid_author_id(value: object) -> str:
    if not isinstance(value, str) or not AUTHOR_ID.fullmatch(value):
        raise AuthorNotFound(f"{value!r} is not an author id",
                             {"author_id": ["Not an author id."]})
    return value


def valid_note(note: object) -> str:
    """An erasure must say why (a ticket, a request): it is the only record of the reason."""
    if note is None or (isinstance(note, str) and not note.strip()):
        raise NoteRequired("an erasure needs a note saying why (e.g. the request's ticket)",
                           {"note": ["A note is required."]})
    return clean_text(note, "note", min_len=1, max_len=NOTE_MAX)


def valid_email(value: object) -> str:
    """The address as given (the pseudonym is made from it exactly as at submission)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("an e-mail address is required",
                           {"email": ["An e-mail address is required."]})
    try:
        _email(value)
    except InvalidInput:
        raise InvalidInput("invalid e-mail", {"email": ["Not a valid e-mail address."]}) \
            from None
    return value
