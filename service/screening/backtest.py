"""Replays screening over old comments to see what a new word list would have done.

Nothing is written: the output compares the flags each list raises with the decisions
moderators actually made, so a site can tune its lists before switching to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .rules import AuthorHistory
from .screener import Screener

HISTORY_FLAGS = {"first_comment", "repeated_text"}
NEUTRAL_HISTORY = AuthorHistory(earlier_comments=1, has_same_text=False)


@dataclass(frozen=True)
class PastComment:
    body: str | None
    status: str
    reasons: tuple[str, ...]
    recorded_codes: frozenset[str]
    recorded_guidelines: frozenset[str]


@dataclass
class Tally:
    total: int = 0
    flagged_now: int = 0
    flagged_candidate: int = 0


@dataclass
class BacktestResult:
    screener: str
    by_status: dict[str, Tally] = field(default_factory=dict)
    by_reason: dict[str, Tally] = field(default_factory=dict)
    erased: int = 0

    def table(self) -> list[str]:
        lines = [f"backtest of {self.screener}",
                 f"{'comments':28} {'count':>6} {'flagged now':>12} {'with new list':>14}"]
        labels = {"rejected": "rejected (should flag)", "approved": "approved (false alarms)",
                  "pending": "pending"}
        for status in ("rejected", "approved", "pending"):
            t = self.by_status.get(status, Tally())
            lines.append(f"{labels[status]:28} {t.total:>6} {t.flagged_now:>12} "
                         f"{t.flagged_candidate:>14}")
        lines.append("rejections by reason, flagged for that guideline:")
        for reason, t in sorted(self.by_reason.items()):
            lines.append(f"  {reason:26} {t.total:>6} {t.flagged_now:>12} "
                         f"{t.flagged_candidate:>14}")
        if self.erased:
            lines.append(f"({self.erased} comments skipped: their text was erased)")
        return lines


def backtest(comments: Iterable[PastComment], candidate: Screener) -> BacktestResult:
    result = BacktestResult(candidate.name)
    for comment in comments:
        if comment.body is None:
            result.erased += 1
            continue
        screening = candidate.screen(comment.body, NEUTRAL_HISTORY)
        new = {f.code for f in screening.flags} - HISTORY_FLAGS
        new_guidelines = {f.guideline for f in screening.flags if f.code not in HISTORY_FLAGS}
        old = comment.recorded_codes - HISTORY_FLAGS
        tally = result.by_status.setdefault(comment.status, Tally())
        tally.total += 1
        tally.flagged_now += bool(old)
        tally.flagged_candidate += bool(new)
        for reason in comment.reasons if comment.status == "rejected" else ():
            r = result.by_reason.setdefault(reason, Tally())
            r.total += 1
            r.flagged_now += reason in comment.recorded_guidelines
            r.flagged_candidate += reason in new_guidelines
    return result
