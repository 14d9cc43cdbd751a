"""Failures the application layer adds to the domain's own."""

from __future__ import annotations

from typing import Any

from ..domain.errors import DomainError, NotFound


class StaleVersion(DomainError):
    """Someone decided first. Carries what the caller needs to see who won."""

    code = "version_conflict"

    def __init__(self, comment_id: str, expected: int, actual: int, winner: Any = None,
                 current: dict[str, Any] | None = None):
        super().__init__(
            f"comment {comment_id} is at version {actual}, not {expected}",
            {"expected_version": [f"Current version is {actual}."]},
        )
        self.comment_id = comment_id
        self.expected = expected
        self.actual = actual
        self.winner = winner
        self.current = current  # the comment's read-model state when the refusal was made


class IdempotencyKeyReused(DomainError):
    """The same idempotency key came back with a different request."""

    code = "idempotency_key_reused"


class ArticleNotFound(NotFound):
    code = "article_not_found"


class ArticleExists(DomainError):
    code = "article_exists"


class ClaimedByOther(DomainError):
    """Another moderator holds a live claim on the comment (claims are advisory: deciding
    is still allowed; only claiming or releasing it is refused)."""

    code = "claimed_by_other"

    def __init__(self, comment_id: str, claim: dict[str, Any]):
        super().__init__(
            f"comment {comment_id} is being handled by {claim['moderator_id']} until "
            f"{claim['expires_at'].isoformat()}",
            {"comment_id": [f"Claimed by {claim['moderator_id']}."]})
        self.claim = claim


class StaleStreamVersion(DomainError):
    """A command on an article or author named a version that is no longer current."""

    code = "version_conflict"

    def __init__(self, what: str, expected: int, actual: int):
        super().__init__(
            f"{what} is at version {actual}, not {expected}: someone else changed it first",
            {"expected_version": [f"Current version is {actual}."]})
        self.expected = expected
        self.actual = actual

    @property
    def details(self) -> dict[str, object]:
        return {"current_version": self.actual}
