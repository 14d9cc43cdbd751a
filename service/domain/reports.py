"""Reader reports on published comments, decided from the comment's own history.

Only an approved comment can be reported. A reporter counts once per comment (a second
report of theirs is recorded, uncounted). A moderator resolves the open reports by
dismissing them (the comment stays published) or by rejecting the comment; reports that
come after a resolution open it again. With a withholding threshold, the report that
brings the open count to it withholds the comment from the public thread until resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .comment import NOTE_MAX, Comment, Status
from .errors import DecisionRefused, InvalidInput
from .events import (
    CommentApproved,
    CommentRejected,
    CommentReported,
    CommentReportsDismissed,
    DomainEvent,
)
from .guidelines import GuidelineCatalogue
from .text import optional_text


class NotReportable(DecisionRefused):
    code = "not_reportable"


@dataclass(frozen=True)
class Reports:
    open: int
    withheld: bool


def report_state(history: list[DomainEvent]) -> Reports:
    open_, withheld = 0, False
    for event in history:
        if isinstance(event, CommentReported):
            open_ += 1 if event.counted else 0
            withheld = withheld or event.withheld
        elif isinstance(event, CommentReportsDismissed | CommentRejected | CommentApproved):
            open_, withheld = 0, False
    return Reports(open_, withheld)


def report_comment(comment: Comment, *, reason: object, note: object, report_subject: str,
                   reporter: str | None, already_counted: bool, withhold_at: int,
                   now: datetime, catalogue: GuidelineCatalogue) -> CommentReported:
    if not isinstance(reason, str) or reason not in catalogue:
        raise InvalidInput("the reason must be a guideline code",
                           {"reason": ["A guideline code from GET /v1/guidelines."]})
    clean = optional_text(note, "note", max_len=NOTE_MAX)
    if comment.status != Status.APPROVED:
        raise NotReportable(f"comment {comment.id} is not published; only published "
                            "comments can be reported")
    state = report_state(comment.history)
    counted = not already_counted
    open_after = state.open + (1 if counted else 0)
    withheld = state.withheld or (withhold_at > 0 and open_after >= withhold_at)
    return CommentReported(comment.id, comment.article_id, reason, report_subject, reporter,
                           clean, counted, withheld, now)


def dismiss_reports(comment: Comment, moderator_id: str, note: object,
                    now: datetime) -> CommentReportsDismissed:
    clean = optional_text(note, "note", max_len=NOTE_MAX)
    state = report_state(comment.history)
    if state.open == 0:
        raise DecisionRefused(f"comment {comment.id} has no open reports to dismiss")
    return CommentReportsDismissed(comment.id, comment.article_id, moderator_id, state.open,
                                   clean, now)
