"""Claims: "I am handling this comment", advisory and short-lived.

A claim is coordination, not a fact: it lives in its own table with an expiry, never in the
log, and no projection reads it. It never stops anyone from deciding; the If-Match check
stays the arbiter. A claim whose time has passed counts as absent and is swept by later
claims.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ..db import UTCDateTime, metadata, read_transaction, write_transaction
from ..domain.errors import CommentNotFound
from ..projections.comments import get_comments
from .errors import ClaimedByOther

comment_claims = sa.Table(
    "comment_claims",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("moderator_id", sa.String(200), nullable=False),
    sa.Column("claimed_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)


@dataclass(frozen=True)
class Claim:
    comment_id: str
    moderator_id: str
    claimed_at: datetime
    expires_at: datetime


class Claims:
    def __init__(self, engine: Engine, clock: Callable[[], datetime], seconds: float = 300.0):
        self.engine = engine
        self.clock = clock
        self.seconds = seconds

    def claim(self, comment_id: str, moderator_id: str) -> Claim:
        """Claim (or extend one's own claim on) an existing comment."""
        for attempt in (1, 2):
            try:
                return self._claim(comment_id, moderator_id)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _claim(self, comment_id: str, moderator_id: str) -> Claim:
        now = self.clock()
        expires = now + timedelta(seconds=self.seconds)
        c = comment_claims
        with write_transaction(self.engine) as conn:
            if not get_comments(conn, [comment_id]):
                raise CommentNotFound(f"comment {comment_id} does not exist")
            conn.execute(c.delete().where(c.c.expires_at <= now))
            held = conn.execute(sa.select(c).where(c.c.comment_id == comment_id)).one_or_none()
            if held is not None and held.moderator_id != moderator_id:
                raise ClaimedByOther(comment_id, dict(held._mapping))
            if held is None:
                conn.execute(c.insert().values(comment_id=comment_id, moderator_id=moderator_id,
                                               claimed_at=now, expires_at=expires))
            else:
                conn.execute(c.update().where(c.c.comment_id == comment_id)
                             .values(expires_at=expires))
                now = held.claimed_at
        return Claim(comment_id, moderator_id, now, expires)

    def live(self) -> tuple[datetime, list[dict[str, Any]]]:
        """The time now and every claim that has not expired by then (for live streams)."""
        now = self.clock()
        c = comment_claims
        with read_transaction(self.engine) as conn:
            rows = conn.execute(sa.select(c.c.comment_id, c.c.moderator_id, c.c.claimed_at,
                                          c.c.expires_at).where(c.c.expires_at > now))
            return now, [dict(r._mapping) for r in rows]

    def release(self, comment_id: str, moderator_id: str) -> None:
        """Release one's own claim; releasing nothing is not an error."""
        now = self.clock()
        c = comment_claims
        with write_transaction(self.engine) as conn:
            held = conn.execute(sa.select(c).where(c.c.comment_id == comment_id,
                                                   c.c.expires_at > now)).one_or_none()
            if held is not None and held.moderator_id != moderator_id:
                raise ClaimedByOther(comment_id, dict(held._mapping))
            conn.execute(c.delete().where(c.c.comment_id == comment_id))


def live_claims(conn: Connection, comment_ids: list[str],
                now: datetime) -> dict[str, dict[str, Any]]:
    """The unexpired claim of each of these comments that has one."""
    if not comment_ids:
        return {}
    c = comment_claims
    rows = conn.execute(sa.select(c.c.comment_id, c.c.moderator_id, c.c.claimed_at,
                                  c.c.expires_at)
                        .where(c.c.comment_id.in_(comment_ids), c.c.expires_at > now))
    return {r.comment_id: {"moderator_id": r.moderator_id, "claimed_at": r.claimed_at,
                           "expires_at": r.expires_at} for r in rows}


def claimed_by_others(moderator_id: str, now: datetime) -> sa.Select:
    """Comment ids someone other than this moderator is handling now (for `unclaimed`)."""
    c = comment_claims
    return sa.select(c.c.comment_id).where(c.c.moderator_id != moderator_id,
                                           c.c.expires_at > now)

