"""Bulk-load a realistic event log through the same tables, fast.

A million HTTP calls would take hours; this writes the same events the application
would (submitted, screened, approved/rejected; encoded and sealed by the real codec) in
large batches, moves the head row, and applies the real projections to each batch in the
same transaction, as an append does: the read models and their checkpoints end at the
log's head, so a bulk-loaded database serves at once (`moderation serve` replays only a
database whose read models are behind, and a replay of millions of events takes many
minutes).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from service.db import write_transaction
from service.domain.events import (
    ArticleRegistered,
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
    Flag,
    article_stream,
    comment_stream,
)
from service.eventstore import chain
from service.eventstore.codec import EventCodec, codec_factory
from service.eventstore.store import EventStore, RecordedEvent
from service.eventstore.tables import event_store_head, events
from service.projections.runner import ProjectionRunner

BODIES = ["A fair point about the camps at al-Hol.", "هذا رأي محترم عن المخيم",
          "ئەم هەواڵە زۆر گرنگە", "Ev nûçe gelek girîng e.", "What sh1t reporting"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def bulk_load(engine: Engine, comments: int, *, articles: int = 50, decided: float = 0.8,
              authors: int = 5000, batch: int = 5000, seed: int = 7,
              progress=None, runner: ProjectionRunner | None = None,
              project: bool = True) -> int:  # noqa: ANN001
    """Append `comments` comments (about 2.8 events each) with their read models; returns
    the new head position. The read models must be at the head before (a fresh or a
    bulk-loaded database): otherwise the runner refuses, as it does for any append.
    `project=False` writes the events only (several times faster for millions of events):
    the read models are then left behind, for a rebuild to make."""
    rnd = random.Random(seed)
    with write_transaction(engine) as conn:
        position = conn.execute(sa.select(event_store_head.c.last_position)).scalar_one()
        previous = chain.stored_hash(conn, position)
    clock = START + timedelta(seconds=position)
    rows: list[dict] = []
    version: dict[str, int] = {}
    codec_for = codec_factory(lambda: clock)
    runner = runner or ProjectionRunner(EventStore(lambda: clock), codec_for)
    changes: list[tuple[RecordedEvent, object]] = []

    def add(conn, stream: str, event, codec: EventCodec) -> None:  # noqa: ANN001
        nonlocal position, clock, previous
        position += 1
        clock += timedelta(milliseconds=50)
        version[stream] = version.get(stream, 0) + 1
        type_, schema, data = codec.encode(event)
        rows.append({"position": position, "event_id": str(uuid.uuid4()), "stream_id": stream,
                     "version": version[stream], "type": type_, "schema_version": schema,
                     "data": data, "metadata": {"actor": {"id": "bench", "role": "system"}},
                     "recorded_at": clock})
        rows[-1]["hash"] = previous = chain.link_row(previous, rows[-1])
        row = rows[-1]
        changes.append((RecordedEvent(position, row["event_id"], stream, row["version"], type_,
                                      schema, data, row["metadata"], clock), event))

    def flush(conn) -> None:  # noqa: ANN001
        if rows:
            conn.execute(events.insert(), rows)
            conn.execute(event_store_head.update().values(last_position=position,
                                                          last_recorded_at=clock))
            if project:
                runner.apply(conn, changes)
            rows.clear()
            changes.clear()

    with write_transaction(engine) as conn:
        codec = codec_for(conn)
        for a in range(articles if position == 0 else 0):
            add(conn, article_stream(f"bench-{a}"), ArticleRegistered(
                f"bench-{a}", f"Article {a}", None, "en", None, None, clock), codec)
        flush(conn)
    done = 0
    while done < comments:
        with write_transaction(engine) as conn:
            codec = codec_for(conn)
            # every author's key in one query, not one query per author per batch
            codec.vault.preload({f"author-bench{a}" for a in range(authors)})
            for _ in range(min(batch, comments - done)):
                cid = str(uuid.uuid4())
                stream = comment_stream(cid)
                article = f"bench-{rnd.randrange(articles)}"
                author = f"author-bench{rnd.randrange(authors)}"
                body = rnd.choice(BODIES)
                add(conn, stream, CommentSubmitted(cid, article, None, author, "Reader", None,
                                                   None, body, clock), codec)
                flags = (Flag("profanity", "profanity", "shit (en)"),) if "sh1t" in body else ()
                add(conn, stream, CommentScreened(cid, flags, 0.45 if flags else 0.0,
                                                  "bench", clock, author), codec)
                if rnd.random() < decided:
                    if rnd.random() < 0.7:
                        ev = CommentApproved(cid, article, "pending", f"mod-{rnd.randrange(8)}",
                                             None, clock)
                    else:
                        ev = CommentRejected(cid, article, "pending", f"mod-{rnd.randrange(8)}",
                                             ("off_topic",), "2026-11-01", None, clock)
                    add(conn, stream, ev, codec)
                done += 1
            flush(conn)
        if progress:
            progress(done)
    return position
