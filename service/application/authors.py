"""Author sanctions and what a moderator sees about an author.

Each sanction is one transaction: the event on the author's stream (its version checked as
If-Match names it) and, for a ban with `reject_pending`, one rejection per pending comment,
each on its own comment stream and citing the ban as its cause. The pending comments are
read after the ban's append holds the log's head lock, so a racing approval either
committed before (the comment is no longer pending and is left alone) or comes after and
finds the comment already decided: exactly one decision either way.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from ..db import read_transaction
from ..domain.author import valid_author_id
from ..domain.comment import Status
from ..domain.errors import AuthorNotFound
from ..domain.events import (
    AuthorBanned,
    AuthorNoted,
    AuthorSanctionLifted,
    AuthorSuspended,
    AuthorWarned,
    author_stream,
    comment_stream,
)
from ..domain.sanctions import Standing
from ..eventstore import EventStore, WrongExpectedVersion
from ..eventstore.codec import CodecFactory
from ..projections import authors as authors_model
from .commands import BanAuthor, Context, LiftSanction, NoteAuthor, SuspendAuthor, WarnAuthor
from .errors import StaleStreamVersion
from .handlers import Moderation
from .queries import describe
from .unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthorChange:
    author_id: str
    version: int
    position: int
    type: str
    at: datetime
    rejected: tuple[str, ...] = ()


class AuthorSanctions:
    def __init__(self, moderation: Moderation):
        self.moderation = moderation
        self.clock = moderation.clock
        self.catalogue = moderation.catalogue

    def warn(self, cmd: WarnAuthor, ctx: Context) -> AuthorChange:
        return self._change(cmd.author_id, cmd.expected_version, ctx, lambda s, now: s.warn(
            ctx.actor.id, cmd.reason, cmd.note, now, self.catalogue))

    def suspend(self, cmd: SuspendAuthor, ctx: Context) -> AuthorChange:
        return self._change(cmd.author_id, cmd.expected_version, ctx, lambda s, now: s.suspend(
            ctx.actor.id, cmd.until, cmd.reason, cmd.note, now, self.catalogue))

    def ban(self, cmd: BanAuthor, ctx: Context) -> AuthorChange:
        return self._change(cmd.author_id, cmd.expected_version, ctx, lambda s, now: s.ban(
            ctx.actor.id, cmd.reason, cmd.note, cmd.reject_pending, now, self.catalogue))

    def lift(self, cmd: LiftSanction, ctx: Context) -> AuthorChange:
        return self._change(cmd.author_id, cmd.expected_version, ctx,
                            lambda s, now: s.lift(ctx.actor.id, cmd.note, now))

    def note(self, cmd: NoteAuthor, ctx: Context) -> AuthorChange:
        return self._change(cmd.author_id, cmd.expected_version, ctx,
                            lambda s, now: s.note(ctx.actor.id, cmd.text, now))

    def _change(self, author_id: object, expected: int, ctx: Context,
                decide: Callable[[Standing, datetime], Any]) -> AuthorChange:
        author_id = valid_author_id(author_id)
        stream = author_stream(author_id)
        with self.moderation.unit_of_work() as uow:
            standing = _load(uow, author_id)
            if expected != standing.version:
                raise StaleStreamVersion(f"author {author_id}", expected, standing.version)
            now = self.clock()
            event = decide(standing, now)
            event_id = str(uuid.uuid4())
            try:
                [rec] = uow.record(stream, [event], standing.version, ctx.metadata(),
                                   [event_id])
            except WrongExpectedVersion as exc:
                raise StaleStreamVersion(f"author {author_id}", standing.version,
                                         exc.actual) from None
            rejected: tuple[str, ...] = ()
            if isinstance(event, AuthorBanned) and event.reject_pending:
                rejected = self._reject_pending(uow, event, event_id, ctx, now)
            uow.commit()
        log.info("%s %s by %s at position %d%s", event.TYPE, author_id, ctx.actor.id,
                 rec.position, f" ({len(rejected)} pending rejected)" if rejected else "")
        return AuthorChange(author_id, rec.version, rec.position, event.TYPE, now, rejected)

    def _reject_pending(self, uow: UnitOfWork, ban: AuthorBanned, ban_id: str, ctx: Context,
                        now: datetime) -> tuple[str, ...]:
        """Each pending comment rejected as its own decision, caused by the ban. Runs after
        the ban's append, under the head lock: what is read here cannot change under us."""
        cause = replace(ctx, causation_id=ban_id).metadata()
        note = f"Rejected with the author's ban (event {ban_id})."
        done = []
        for comment_id in authors_model.pending_comment_ids(uow.conn, ban.author_id):
            comment = uow.load_comment(comment_id)
            if comment.status != Status.PENDING:  # pragma: no cover - the model is in step
                continue
            decision = comment.reject(ctx.actor.id, [ban.reason], note, now, self.catalogue)
            uow.record(comment_stream(comment_id), [decision], comment.version, cause)
            done.append(comment_id)
        return tuple(done)


def _load(uow: UnitOfWork, author_id: str) -> Standing:
    history = [uow.codec.decode(r, personal=False)
               for r in uow.store.read_stream(uow.conn, author_stream(author_id))]
    if not history and authors_model.get_standing(uow.conn, author_id) is None:
        raise AuthorNotFound(f"author {author_id} is not known")
    return Standing.from_history(author_id, history)


SANCTION_TYPES = {AuthorWarned: "warned", AuthorSuspended: "suspended",
                  AuthorBanned: "banned", AuthorSanctionLifted: "sanction_lifted"}


class AuthorQueries:
    def __init__(self, engine: Engine, store: EventStore, clock: Callable[[], datetime],
                 codec_for: CodecFactory):
        self.engine = engine
        self.store = store
        self.clock = clock
        self._codec = codec_for

    def profile(self, author_id: object) -> dict[str, Any]:
        """Everything a moderator needs about one author, in one read transaction."""
        author_id = valid_author_id(author_id)
        now = self.clock()
        with read_transaction(self.engine) as conn:
            row = authors_model.get_standing(conn, author_id)
            recorded = self.store.read_stream(conn, author_stream(author_id))
            if row is None and not recorded:
                raise AuthorNotFound(f"author {author_id} is not known")
            codec = self._codec(conn)
            events = codec.decode_all(recorded)
            names = authors_model.names_used(conn, author_id)
            recent = authors_model.rejected_since(conn, [author_id], now - authors_model.RECENT)
        row = row or authors_model.empty_standing(author_id)
        sanctions, notes = [], []
        for r, e in zip(recorded, events, strict=True):
            kind = SANCTION_TYPES.get(type(e))
            if kind is not None:
                sanctions.append({
                    "type": kind, "position": r.position, "moderator_id": e.moderator_id,
                    "at": r.recorded_at, "reason": getattr(e, "reason", None),
                    "until": getattr(e, "until", None), "note": e.note,
                    "reject_pending": getattr(e, "reject_pending", None),
                    "lifted": getattr(e, "lifted", None)})
            elif isinstance(e, AuthorNoted):
                notes.append({"position": r.position, "moderator_id": e.moderator_id,
                              "text": e.text, "noted_at": e.noted_at})
        return {**authors_model.summary(row, now, recent.get(author_id, 0)), "names": names,
                "first_seen_at": row["first_seen_at"], "last_seen_at": row["last_seen_at"],
                "sanction_history": sanctions, "notes": notes,
                "version": len(recorded)}

    def history(self, author_id: object) -> list[dict[str, Any]]:
        author_id = valid_author_id(author_id)
        with read_transaction(self.engine) as conn:
            recorded = self.store.read_stream(conn, author_stream(author_id))
            if not recorded and authors_model.get_standing(conn, author_id) is None:
                raise AuthorNotFound(f"author {author_id} is not known")
            codec = self._codec(conn)
            return [describe(r, e, personal=True)
                    for r, e in zip(recorded, codec.decode_all(recorded), strict=True)]

    def comments(self, author_id: object, *, before: int | None,
                 limit: int) -> list[dict[str, Any]]:
        author_id = valid_author_id(author_id)
        with read_transaction(self.engine) as conn:
            if authors_model.get_standing(conn, author_id) is None:
                raise AuthorNotFound(f"author {author_id} is not known")
            return authors_model.comments_page(conn, author_id, before=before, limit=limit)

