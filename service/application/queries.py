"""Reads: current state from the projections, the past from the log itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import migrate
from ..db import read_transaction
from ..domain.comment import Comment
from ..domain.errors import CommentNotFound
from ..domain.events import (
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
    DomainEvent,
    article_stream,
    comment_stream,
)
from ..eventstore import EventStore, RecordedEvent
from ..eventstore.codec import (
    CURRENT_SCHEMA,
    PERSONAL_FIELDS,
    PRIVATE_KEYS,
    CodecFactory,
    EventCodec,
)
from ..eventstore.store import FeedRow
from ..projections import articles, authors, comments, public_threads, queue, reports, search
from ..projections.runner import ProjectionRunner
from ..screening.backtest import PastComment
from .claims import claimed_by_others, live_claims


def event_payload(event: DomainEvent, *, personal: bool) -> dict[str, Any]:
    """A domain event as JSON-ready data; personal fields only when the reader may see them.

    Shallow on purpose: `dataclasses.asdict` deep-copies every value and was half the cost
    of reading the feed."""
    data = {}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = [_plain(v) for v in value]
        data[f.name] = value
    if isinstance(event, CommentSubmitted) and not personal:
        for name in PERSONAL_FIELDS:
            del data[name]
    if isinstance(event, CommentScreened) and not personal:  # evidence quotes the text
        data["flags"] = [{"code": f["code"], "guideline": f["guideline"]} for f in data["flags"]]
    return data


def _plain(value: Any) -> Any:
    if is_dataclass(value):  # a screening Flag
        return {f.name: getattr(value, f.name) for f in fields(value)}
    return value


def describe(recorded: RecordedEvent, event: DomainEvent, *, personal: bool) -> dict[str, Any]:
    return _envelope(recorded, event_payload(event, personal=personal))


def _envelope(recorded: RecordedEvent, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "position": recorded.position,
        "event_id": recorded.event_id,
        "stream_id": recorded.stream_id,
        "version": recorded.version,
        "type": recorded.type,
        "schema_version": recorded.schema_version,
        "recorded_at": recorded.recorded_at.isoformat(),
        "metadata": recorded.metadata,
        "data": payload,
    }


def _mark_erased(codec: Any, items: list[tuple[RecordedEvent, dict[str, Any]]]
                 ) -> list[dict[str, Any]]:
    """Feed entries without personal data, each submission saying whether its author has
    been erased (one key query per page, nothing decrypted)."""
    subjects = {r.data["personal"]["subject"] for r, _ in items
                if r.type == CommentSubmitted.TYPE and "personal" in r.data}
    held = codec.vault.holding(subjects) if subjects else set()
    out = []
    for recorded, payload in items:
        if recorded.type == CommentSubmitted.TYPE and "personal" in recorded.data:
            payload["erased"] = recorded.data["personal"]["subject"] not in held
        out.append(_envelope(recorded, payload))
    return out


_PRIVATE = tuple(PRIVATE_KEYS)


def _public_page(codec: EventCodec, rows: list[FeedRow]) -> list[dict[str, Any]]:
    """Feed entries without personal data, straight from the stored JSON: what
    `_mark_erased` over `codec.public_payload` gives, at a fraction of the cost (one parse
    per document, the private keys dropped in place, no RecordedEvent). A payload stored
    under an older schema goes through the codec's upcasters."""
    loads, current, private, submitted = orjson.loads, CURRENT_SCHEMA, _PRIVATE, \
        CommentSubmitted.TYPE
    out = []
    for position, event_id, stream, version, type_, schema, at, metadata, data, held in rows:
        payload = loads(data)
        if current.get(type_) != schema:
            payload = codec.public_payload(RecordedEvent(
                position, event_id, stream, version, type_, schema, payload, {}, None))
        else:
            for key in private:
                if key in payload:
                    del payload[key]
        if held is not None and type_ == submitted:
            payload["erased"] = not held
        out.append({"position": position, "event_id": event_id, "stream_id": stream,
                    "version": version, "type": type_, "schema_version": schema,
                    "recorded_at": at, "metadata": loads(metadata), "data": payload})
    return out


@dataclass(frozen=True)
class Readiness:
    schema_revision: str | None
    log_head: int  # 0 when the revision is not the expected one
    behind: tuple[str, ...]  # read models not at the log's head


class ModerationQueries:
    def __init__(self, engine: Engine, store: EventStore, clock: Callable[[], datetime],
                 codec_for: CodecFactory):
        self.engine = engine
        self.store = store
        self.clock = clock
        self._codec = codec_for

    def comment(self, comment_id: str) -> dict[str, Any]:
        with read_transaction(self.engine) as conn:
            row = comments.get_comment(conn, comment_id)
        if row is None:
            raise CommentNotFound(f"comment {comment_id} does not exist")
        return row

    def article(self, article_id: str) -> dict[str, Any] | None:
        with read_transaction(self.engine) as conn:
            return articles.get_article(conn, article_id)

    def history(self, comment_id: str, *, personal: bool = True) -> list[dict[str, Any]]:
        with read_transaction(self.engine) as conn:
            recorded = self.store.read_stream(conn, comment_stream(comment_id))
            codec = self._codec(conn)
            described = [describe(r, codec.decode(r), personal=personal) for r in recorded]
        if not described:
            raise CommentNotFound(f"comment {comment_id} does not exist")
        return described

    def article_history(self, article_id: str) -> list[dict[str, Any]] | None:
        """Every event of an article's stream, oldest first; None if there is no article."""
        with read_transaction(self.engine) as conn:
            recorded = self.store.read_stream(conn, article_stream(article_id))
            codec = self._codec(conn)
            described = [describe(r, codec.decode(r), personal=False) for r in recorded]
        return described or None

    def comment_as_of(self, comment_id: str, *, position: int | None = None,
                      at: datetime | None = None) -> tuple[Comment, int]:
        """The comment as it stood at a past log position or moment, folded from its events."""
        with read_transaction(self.engine) as conn:
            if at is not None:
                position = self.store.position_at(conn, at)
            recorded = self.store.read_stream(conn, comment_stream(comment_id),
                                              to_position=position)
            codec = self._codec(conn)
            domain = [codec.decode(r) for r in recorded]
        if not domain:
            raise CommentNotFound(f"comment {comment_id} did not exist at that point")
        return Comment.from_history(comment_id, domain), recorded[-1].position

    def pending_as_of(self, *, position: int | None = None, at: datetime | None = None,
                      after: int = 0, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
        """Comments that were waiting for a decision at a past position, oldest first."""
        with read_transaction(self.engine) as conn:
            if at is not None:
                position = self.store.position_at(conn, at)
            if position is None:
                position = self.store.head(conn)
            opened = self.store.open_as_of(
                conn, opened_by=CommentSubmitted.TYPE,
                closed_by=[CommentApproved.TYPE, CommentRejected.TYPE],
                position=position, after=after, limit=limit)
            items = [
                {"comment_id": r.data["comment_id"], "article_id": r.data["article_id"],
                 "submitted_at": r.data["submitted_at"], "submitted_position": r.position}
                for r in opened
            ]
        return items, position

    def queue(self, *, sort: str = "oldest", article_id: str | None = None,
              flag: str | None = None, after: int | None = None,
              after_risk: float | None = None, limit: int = 50,
              viewer: str | None = None,
              unclaimed: bool = False) -> tuple[list[dict[str, Any]], int]:
        """A page of the queue, each with its live claim, and the number of comments
        waiting (under the filters, claimed or not). With `unclaimed`, comments that
        someone other than `viewer` is handling are left out."""
        items, total, _ = self.queue_at(sort=sort, article_id=article_id, flag=flag,
                                        after=after, after_risk=after_risk, limit=limit,
                                        viewer=viewer, unclaimed=unclaimed)
        return items, total

    def queue_at(self, *, sort: str = "oldest", article_id: str | None = None,
                 flag: str | None = None, after: int | None = None,
                 after_risk: float | None = None, limit: int = 50,
                 viewer: str | None = None,
                 unclaimed: bool = False) -> tuple[list[dict[str, Any]], int, int]:
        """`queue`, and the log position the page shows (read in the same snapshot): a
        client that follows the log after it misses no change to what it was shown."""
        now = self.clock()
        hidden = claimed_by_others(viewer or "", now) if unclaimed else None
        with read_transaction(self.engine) as conn:
            position = self.store.head(conn)
            page = queue.queue_page(conn, sort=sort, article_id=article_id, flag=flag,
                                    after=after, after_risk=after_risk, limit=limit,
                                    hidden=hidden)
            ids = [r["comment_id"] for r in page]
            details = comments.get_comments(conn, ids)
            held = live_claims(conn, ids, now)
            standing = authors.summaries(
                conn, [d["author_id"] for d in details.values()], now)
            if flag is None:
                total = articles.pending_total(conn, article_id)
            else:
                total = queue.count_pending(conn, article_id=article_id, flag=flag)
        return [{**details[r["comment_id"]], **r, "claim": held.get(r["comment_id"]),
                 "author": standing.get(details[r["comment_id"]]["author_id"])}
                for r in page], total, position

    def search(self, **filters: Any) -> list[dict[str, Any]]:
        """Comments matching text and filters, newest first (see projections.search)."""
        with read_transaction(self.engine) as conn:
            return search.search(conn, **filters)

    def reported(self, *, article_id: str | None = None,
                 after: tuple[int, float, datetime, str] | None = None,
                 limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """Published comments with open reader reports, most reports first (then riskiest,
        then oldest), each with its open reports per reason, its author's record and its
        `order_key`, the keyset to ask for the page after it."""
        now = self.clock()
        with read_transaction(self.engine) as conn:
            items, total = reports.reported_page(conn, article_id=article_id, after=after,
                                                 limit=limit)
            ids = [i["comment_id"] for i in items]
            held = live_claims(conn, ids, now)
            standing = authors.summaries(conn, [i["author_id"] for i in items], now)
        return [{**i, "claim": held.get(i["comment_id"]),
                 "author": standing.get(i["author_id"])} for i in items], total

    def public_thread(self, article_id: str, *, after: int | None = None,
                      limit: int = 50) -> list[dict[str, Any]]:
        with read_transaction(self.engine) as conn:
            return public_threads.public_thread(conn, article_id, after=after, limit=limit)

    def feed(self, *, after: int = 0, limit: int = 100, types: Sequence[str] | None = None,
             stream_prefix: str | None = None, personal: bool = False,
             hidden: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """Events after a position; `hidden` types are left out (see visibility.py)."""
        with read_transaction(self.engine) as conn:
            if not personal and not stream_prefix:
                return _public_page(self._codec(conn), self.store.read_feed(
                    conn, after=after, limit=limit, types=types, exclude_types=hidden))
            recorded = self.store.read_all(conn, after=after, limit=limit, types=types,
                                           stream_prefix=stream_prefix, exclude_types=hidden)
            codec = self._codec(conn)
            if not personal:
                return _mark_erased(codec, [(r, codec.public_payload(r)) for r in recorded])
            decoded = codec.decode_all(recorded)
            return [describe(r, e, personal=True) for r, e in zip(recorded, decoded, strict=True)]

    def screening_corpus(self) -> Iterator[PastComment]:
        """Every comment with its text, final status and the flags it was given."""
        t = comments.comment_state
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                sa.select(t.c.body, t.c.status, t.c.reasons, t.c.flags)
                .order_by(t.c.last_position).execution_options(yield_per=1000))
            for row in rows:
                yield PastComment(
                    row.body, row.status, tuple(row.reasons),
                    frozenset(f["code"] for f in row.flags),
                    frozenset(f["guideline"] for f in row.flags if f["guideline"]))

    def head(self) -> int:
        with read_transaction(self.engine) as conn:
            return self.store.head(conn)

    def readiness(self, runner: ProjectionRunner, expected_revision: str | None) -> Readiness:
        """What a readiness probe checks: the schema revision, then each read model's place
        (not looked at under another revision, whose tables may differ)."""
        revision = migrate.current_revision(self.engine)
        if revision != expected_revision:
            return Readiness(revision, 0, ())
        with read_transaction(self.engine) as conn:
            head = self.store.head(conn)
            positions = runner.status(conn)
        behind = tuple(sorted(n for n in runner.names if positions.get(n) != head))
        return Readiness(revision, head, behind)
