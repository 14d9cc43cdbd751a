"""Domain errors: every refusal the rules can give, each with a stable code for the API."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}

    @property
    def details(self) -> dict[str, object]:
        """Extra top-level fields of the error body (e.g. a closing message); JSON-ready."""
        return {}


class NotFound(DomainError):
    """The thing a command names does not exist (an API answers 404)."""

    code = "not_found"


class Conflict(DomainError):
    """The command cannot be applied to the thing's current state (an API answers 409)."""

    code = "conflict"


class InvalidInput(DomainError):
    """A command's content breaks a validation rule."""

    code = "invalid_input"


class CommentNotFound(NotFound):
    code = "comment_not_found"


class AuthorNotFound(NotFound):
    code = "author_not_found"


class ParentNotFound(DomainError):
    code = "parent_not_found"


class DecisionRefused(DomainError):
    """The decision is not allowed from the comment's current state."""

    code = "decision_refused"


class NoteRequired(DecisionRefused):
    code = "note_required"


class UnknownReason(InvalidInput):
    code = "unknown_reason"


class ArticleIsClosed(DomainError):
    """The article takes no more comments; `closed_message` is what readers are told."""

    code = "article_closed"

    def __init__(self, article_id: str, closed_message: str | None):
        super().__init__(f"article {article_id} is closed to new comments"
                         + (f": {closed_message}" if closed_message else ""))
        self.closed_message = closed_message

    @property
    def details(self) -> dict[str, object]:
        return {"closed_message": self.closed_message}


class AuthorIsSuspended(DomainError):
    """The author may not comment until `until`."""

    code = "author_suspended"

    def __init__(self, until: datetime):
        super().__init__(f"this author is suspended until {until.isoformat()}")
        self.until = until

    @property
    def details(self) -> dict[str, object]:
        return {"until": self.until.isoformat()}


class AuthorIsBanned(DomainError):
    code = "author_banned"
