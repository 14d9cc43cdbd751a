"""The comment aggregate: the moderation rules, decided from the comment's own history.

A comment is never edited. It is pending until a moderator approves or rejects it; a later
change of mind is allowed only with a note, and every earlier decision stays in the history.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .errors import CommentNotFound, DecisionRefused, InvalidInput, NoteRequired
from .events import (
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
    DomainEvent,
    Flag,
)
from .guidelines import GuidelineCatalogue
from .text import clean_name, clean_text, optional_text

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
NOTE_MAX = 2000


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SubmissionRules:
    body_max: int = 5000
    name_max: int = 80


DEFAULT_RULES = SubmissionRules()


@dataclass
class Comment:
    id: str
    article_id: str = ""
    parent_id: str | None = None
    author_id: str = ""
    status: Status = Status.PENDING
    version: int = 0
    submitted_at: datetime | None = None
    reasons: tuple[str, ...] = ()
    guideline_version: str | None = None
    note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    flags: tuple[Flag, ...] = ()
    risk: float | None = None
    history: list[DomainEvent] = field(default_factory=list)

    @classmethod
    def from_history(cls, comment_id: str, events: list[DomainEvent]) -> Comment:
        if not events:
            raise CommentNotFound(f"comment {comment_id} does not exist")
        comment = cls(id=comment_id)
        for event in events:
            comment.apply(event)
        return comment

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        self.history.append(event)
        match event:
            case CommentSubmitted():
                self.article_id = event.article_id
                self.parent_id = event.parent_id
                self.author_id = event.author_id
                self.submitted_at = event.submitted_at
            case CommentScreened():
                self.flags = event.flags
                self.risk = event.risk
            case CommentApproved():
                self._decided(Status.APPROVED, event.moderator_id, event.decided_at, event.note)
                self.reasons = ()
                self.guideline_version = None
            case CommentRejected():
                self._decided(Status.REJECTED, event.moderator_id, event.decided_at, event.note)
                self.reasons = event.reasons
                self.guideline_version = event.guideline_version

    def _decided(self, status: Status, moderator: str, at: datetime, note: str | None) -> None:
        self.status = status
        self.decided_by = moderator
        self.decided_at = at
        self.note = note

    @property
    def last_decision(self) -> CommentApproved | CommentRejected | None:
        for event in reversed(self.history):
            if isinstance(event, CommentApproved | CommentRejected):
                return event
        return None

    def approve(self, moderator_id: str, note: object, now: datetime) -> CommentApproved:
        clean_note = self._check_decision(Status.APPROVED, note)
        return CommentApproved(
            self.id, self.article_id, self.status.value, moderator_id, clean_note, now
        )

    def reject(
        self,
        moderator_id: str,
        reasons: object,
        note: object,
        now: datetime,
        catalogue: GuidelineCatalogue,
    ) -> CommentRejected:
        codes = catalogue.check_reasons(reasons)
        clean_note = self._check_decision(Status.REJECTED, note)
        if clean_note is None and catalogue.note_required_for(codes):
            raise NoteRequired(
                "the reason 'other' needs a note explaining it",
                {"note": ["A note is required for this reason."]},
            )
        return CommentRejected(
            self.id, self.article_id, self.status.value, moderator_id, codes, catalogue.version,
            clean_note, now,
        )

    def _check_decision(self, target: Status, note: object) -> str | None:
        clean_note = optional_text(note, "note", max_len=NOTE_MAX)
        if self.status == target:
            raise DecisionRefused(f"comment {self.id} is already {target}")
        if self.status != Status.PENDING and clean_note is None:
            raise NoteRequired(
                f"changing a decision from {self.status} to {target} needs a note",
                {"note": ["A note is required to change an earlier decision."]},
            )
        return clean_note


def new_comment_id() -> str:
    return str(uuid.uuid4())


def submit_comment(
    *,
    comment_id: str,
    article_id: str,
    parent: Comment | None,
    author_id: str,
    author_name: object,
    author_email: object,
    network_address: object,
    body: object,
    now: datetime,
    rules: SubmissionRules,
) -> CommentSubmitted:
    """Validate a reader's submission and return the event that records it."""
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    checks = {
        "body": lambda: clean_text(body, "body", min_len=1, max_len=rules.body_max),
        "author.name": lambda: clean_name(author_name, "author.name", max_len=rules.name_max),
        "author.email": lambda: _email(author_email),
        "network_address": lambda: _address(network_address),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except InvalidInput as exc:
            errors.update(exc.errors or {name: [exc.message]})
    if parent is not None:
        if parent.article_id != article_id:
            errors["parent_id"] = ["The parent comment belongs to another article."]
        elif parent.status == Status.REJECTED:
            errors["parent_id"] = ["Replies to a rejected comment are not accepted."]
    if errors:
        raise InvalidInput("the comment is not valid", errors)
    return CommentSubmitted(
        comment_id=comment_id,
        article_id=article_id,
        parent_id=parent.id if parent else None,
        author_id=author_id,
        author_name=values["author.name"],  # type: ignore[arg-type]
        author_email=values["author.email"],  # type: ignore[arg-type]
        network_address=values["network_address"],  # type: ignore[arg-type]
        body=values["body"],  # type: ignore[arg-type]
        submitted_at=now,
    )


def _email(value: object) -> str | None:
    email = optional_text(value, "author.email", max_len=254)
    if email is not None and not EMAIL.fullmatch(email):
        raise InvalidInput("invalid e-mail", {"author.email": ["Not a valid e-mail address."]})
    return email


def _address(value: object) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise InvalidInput(
            "invalid network address", {"network_address": ["Not an IP address."]}
        ) from None
