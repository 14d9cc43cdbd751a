"""Domain errors: every refusal the rules can give, each with a stable code for the API."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(DomainError):
    """A command's content breaks a validation rule."""

    code = "invalid_input"


class CommentNotFound(DomainError):
    code = "comment_not_found"


class ParentNotFound(DomainError):
    code = "parent_not_found"


class DecisionRefused(DomainError):
    """The decision is not allowed from the comment's current state."""

    code = "decision_refused"


class NoteRequired(DecisionRefused):
    code = "note_required"


class UnknownReason(InvalidInput):
    code = "unknown_reason"
