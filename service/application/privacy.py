"""A data subject's rights: find an author by e-mail, export what is held, erase it.

Each is an admin's action, recorded on the author's stream with its actor. Erasure is one
transaction: the author's key is destroyed (the sealed personal data in the log can no
longer be opened), `author.erased` is appended, and the projections purge every plaintext
copy from the read models as they apply it (so a rebuild reproduces the erased state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from ..domain.author import (
    Author,
    valid_author_id,
    valid_email,
    valid_note,
)
from ..domain.comment import Comment
from ..domain.errors import AuthorNotFound
from ..domain.events import (
    RETENTION_STREAM,
    AddressesSwept,
    AuthorErased,
    AuthorExported,
    AuthorLookedUp,
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
    author_stream,
    comment_stream,
)
from ..eventstore import ANY, EventStore, RecordedEvent, WrongExpectedVersion
from ..eventstore.personal_data import ADDRESS_PREFIX
from ..projections import comments
from ..projections.runner import ProjectionRunner
from .commands import Context
from .handlers import email_author_id
from .unit_of_work import Follower, UnitOfWork

log = logging.getLogger(__name__)


class Privacy:
    def __init__(self, engine: Engine, store: EventStore, runner: ProjectionRunner,
                 clock: Callable[[], datetime], followers: Sequence[Follower] = (),
                 address_retention_days: int = 30):
        self.address_retention_days = address_retention_days
        self.engine = engine
        self.store = store
        self.runner = runner
        self.clock = clock
        self.followers = list(followers)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.store, self.runner, self.clock,
                          self.runner.codec_for, self.followers)

    def lookup(self, email: object, ctx: Context) -> dict[str, Any]:
        """The author id of whoever wrote with this e-mail (recomputed as a keyed
        pseudonym: the address itself is never stored)."""
        email = valid_email(email)
        with self.unit_of_work() as uow:
            author_id = email_author_id(uow.vault, email)
            author, comment_ids = self._existing(uow, author_id)
            uow.record(author_stream(author_id), [AuthorLookedUp(author_id, self.clock())],
                       ANY, ctx.metadata())
            uow.commit()
        return {"author_id": author_id, "erased": author.erasure is not None,
                "comments": len(comment_ids)}

    def erase(self, author_id: object, note: object, ctx: Context) -> dict[str, Any]:
        """Erase an author; erasing again answers with the original erasure."""
        author_id = valid_author_id(author_id)
        valid_note(note)
        for attempt in (1, 2):
            try:
                return self._erase(author_id, note, ctx)
            except WrongExpectedVersion:  # another erasure or look-up came first
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _erase(self, author_id: str, note: object, ctx: Context) -> dict[str, Any]:
        with self.unit_of_work() as uow:
            # the append lock first: no comment by this author can commit in between, so
            # the list of comments below is complete
            uow.store.lock_head(uow.conn)
            author, comment_ids = self._existing(uow, author_id)
            event = author.erase(comment_ids, note, self.clock(),
                                 holds_data=uow.vault.holds(author_id))
            if event is None:
                original = self._last_erasure(uow, author_id)
                return {**original, "replayed": True}
            uow.vault.erase(author_id)
            [recorded] = uow.record(author_stream(author_id), [event], author.version,
                                    ctx.metadata())
            uow.commit()
        log.info("author %s erased (%d comments) at position %d", author_id,
                 len(comment_ids), recorded.position)
        return {**erasure_document(recorded, event), "replayed": False}

    def export(self, author_id: object, ctx: Context) -> dict[str, Any]:
        """Everything held about an author, as one document (and the export recorded)."""
        author_id = valid_author_id(author_id)
        with self.unit_of_work() as uow:
            now = self.clock()
            author, comment_ids = self._existing(uow, author_id)
            items = [self._comment(uow, cid) for cid in comment_ids]
            uow.record(author_stream(author_id), [AuthorExported(author_id, now)], ANY,
                       ctx.metadata())
            history = self.store.read_stream(uow.conn, author_stream(author_id))
            activity = [_activity(r) for r in history]
            uow.commit()
        return {
            "author_id": author_id,
            "exported_at": now,
            "erased": author.erasure is not None and all(c["erased"] for c in items),
            "names": _distinct(c["author_name"] for c in items),
            "emails": _distinct(c["author_email"] for c in items),
            "network_addresses": _distinct(c["network_address"] for c in items),
            "comments": items,
            "activity": activity,
        }

    def sweep_addresses(self, ctx: Context) -> dict[str, Any]:
        """Destroy the keys of network addresses older than the retention period: every
        address submitted on those days becomes unreadable, with no event touched."""
        now = self.clock()
        cutoff = (now - timedelta(days=self.address_retention_days)).astimezone(UTC).date()
        with self.unit_of_work() as uow:
            subjects = uow.vault.address_days(before=cutoff)
            for subject in subjects:
                uow.vault.erase(subject)
            days = tuple(s[len(ADDRESS_PREFIX):] for s in subjects)
            if days:
                uow.record(RETENTION_STREAM,
                           [AddressesSwept(days, self.address_retention_days, now)], ANY,
                           ctx.metadata())
            uow.commit()
        if days:
            log.info("network addresses of %d day(s) swept: %s .. %s", len(days), days[0],
                     days[-1])
        return {"days": list(days), "kept_from": cutoff.isoformat(),
                "retention_days": self.address_retention_days}

    def _existing(self, uow: UnitOfWork, author_id: str) -> tuple[Author, list[str]]:
        recorded = self.store.read_stream(uow.conn, author_stream(author_id))
        author = Author.from_history(author_id, [uow.codec.decode(r) for r in recorded])
        comment_ids = comments.author_comment_ids(uow.conn, author_id)
        if not comment_ids and not recorded:
            raise AuthorNotFound(f"no author {author_id} is known")
        return author, comment_ids

    def _last_erasure(self, uow: UnitOfWork, author_id: str) -> dict[str, Any]:
        recorded = [r for r in self.store.read_stream(uow.conn, author_stream(author_id))
                    if r.type == AuthorErased.TYPE][-1]
        return erasure_document(recorded, uow.codec.decode(recorded))

    def _comment(self, uow: UnitOfWork, comment_id: str) -> dict[str, Any]:
        recorded = self.store.read_stream(uow.conn, comment_stream(comment_id))
        events = uow.codec.decode_all(recorded)
        comment = Comment.from_history(comment_id, events)
        submitted = next(e for e in events if isinstance(e, CommentSubmitted))
        screened = [e for e in events if isinstance(e, CommentScreened)]
        return {
            "comment_id": comment_id,
            "article_id": comment.article_id,
            "parent_id": comment.parent_id,
            "submitted_at": comment.submitted_at,
            "status": comment.status.value,
            "erased": submitted.erased,
            "author_name": submitted.author_name,
            "author_email": submitted.author_email,
            "network_address": submitted.network_address,
            "body": submitted.body,
            "flags": [{"code": f.code, "guideline": f.guideline,
                       "evidence": None if submitted.erased else f.evidence}
                      for f in (screened[-1].flags if screened else ())],
            "decisions": [
                {"position": r.position, "decision": "approved"
                 if isinstance(e, CommentApproved) else "rejected",
                 "previous_status": e.previous_status, "moderator_id": e.moderator_id,
                 "reasons": list(getattr(e, "reasons", ())),
                 "guideline_version": getattr(e, "guideline_version", None),
                 "note": e.note, "decided_at": e.decided_at}
                for r, e in zip(recorded, events, strict=True)
                if isinstance(e, CommentApproved | CommentRejected)
            ],
        }


def erasure_document(recorded: RecordedEvent, event: AuthorErased) -> dict[str, Any]:
    actor = (recorded.metadata or {}).get("actor") or {}
    return {"author_id": event.author_id, "event_id": recorded.event_id,
            "position": recorded.position, "erased_at": event.erased_at,
            "erased_by": actor.get("id"), "note": event.note,
            "comment_ids": list(event.comment_ids)}


def _activity(recorded: RecordedEvent) -> dict[str, Any]:
    actor = (recorded.metadata or {}).get("actor") or {}
    return {"type": recorded.type, "position": recorded.position,
            "recorded_at": recorded.recorded_at, "actor": actor.get("id")}


def _distinct(values: Any) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value is not None and value not in seen:
            seen.append(value)
    return seen
