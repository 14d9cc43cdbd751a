"""Audit exports: every decision and administrative action in a time window, as JSON lines
or CSV, streamed page by page (memory stays flat at millions of rows), each row with its log
position and chain hash, closed by the latest signed checkpoint.

Decisions are what GET /v1/audit/decisions lists: approvals, rejections and report
dismissals. Each decision row says whether the comment's author has since been erased
(`erased`, as the decision log says it); other rows have `erased: null`.

Rows come from the log itself, not a read model: what an auditor exports is what the chain
covers, and any row can be matched with GET /v1/audit/proof?position=N. The window is a
range of positions (recording times never decrease along the log), fixed when the export
starts, so rows appended meanwhile do not slip in and every page reads immutable rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from ..db import read_transaction
from ..domain.events import (
    ADMIN_ACTION_TYPES,
    CommentApproved,
    CommentRejected,
    CommentReportsDismissed,
)
from ..eventstore import EventStore
from ..eventstore.codec import CodecFactory
from ..projections import decision_log
from .checkpoints import Checkpoints

DECISION_TYPES = frozenset({CommentApproved.TYPE, CommentRejected.TYPE,
                            CommentReportsDismissed.TYPE})
EXPORTED_TYPES = (CommentApproved.TYPE, CommentRejected.TYPE, CommentReportsDismissed.TYPE,
                  *ADMIN_ACTION_TYPES)
FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("position", "hash", "recorded_at", "type", "stream_id", "event_id",
               "actor_id", "actor_role", "erased", "data")
PAGE = 1000
SPAN = 4 * PAGE


@dataclass(frozen=True)
class Window:
    after: int  # positions in (after, last]
    last: int

    @property
    def size(self) -> int:
        return max(self.last - self.after, 0)


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class AuditExport:
    def __init__(self, engine: Engine, store: EventStore, codec_for: CodecFactory,
                 checkpoints: Checkpoints):
        self.engine = engine
        self.store = store
        self.codec_for = codec_for
        self.checkpoints = checkpoints

    def window(self, since: datetime | None, until: datetime | None) -> Window:
        with read_transaction(self.engine) as conn:
            after = self.store.position_before(conn, since) if since else 0
            last = self.store.position_before(conn, until) if until else self.store.head(conn)
        return Window(after, last)

    def rows(self, window: Window, progress: Callable[[int], None] | None = None
             ) -> Iterator[dict[str, Any]]:
        """The window's decisions and actions in log order, one short read per page."""
        after = window.after
        while after < window.last:
            # a bounded span of positions per page: SQLite reads the (type, position) index
            # and sorts what it finds, so an open-ended range would sort the whole rest
            upper = min(after + SPAN, window.last)
            with read_transaction(self.engine) as conn:
                page = self.store.read_chained(conn, types=EXPORTED_TYPES, after=after,
                                               to_position=upper, limit=PAGE)
                codec = self.codec_for(conn)
                erased = decision_log.erased_positions(
                    conn, [r.position for r, _ in page if r.type in DECISION_TYPES])
                documents = [self._row(codec, recorded, hash_, erased)
                             for recorded, hash_ in page]
            reached = page[-1][0].position if len(page) == PAGE else upper
            yield from documents
            if progress is not None:
                progress(reached - after)
            after = reached

    @staticmethod
    def _row(codec: Any, recorded: Any, hash_: bytes, erased: set[int]) -> dict[str, Any]:
        actor = (recorded.metadata or {}).get("actor") or {}
        return {
            "position": recorded.position, "hash": hash_.hex(), "type": recorded.type,
            "recorded_at": _iso(recorded.recorded_at), "stream_id": recorded.stream_id,
            "event_id": recorded.event_id,
            "actor": {"id": actor.get("id"), "role": actor.get("role")},
            "erased": (recorded.position in erased) if recorded.type in DECISION_TYPES
            else None,
            "data": codec.public_payload(recorded),
        }

    def closing(self, window: Window, rows: int) -> dict[str, Any]:
        """The last line: the latest checkpoint, and how far it covers the export."""
        latest = self.checkpoints.latest()
        covered = latest["head_position"] if latest else 0
        return {"type": "export.closed", "exported_through": window.last, "rows": rows,
                "checkpoint": latest, "all_rows_under_checkpoint": covered >= window.last,
                "exported_at": _iso(self.checkpoints.clock())}

    def jsonl(self, window: Window, progress: Callable[[int], None] | None = None
              ) -> Iterator[bytes]:
        count = 0
        for row in self.rows(window, progress):
            count += 1
            yield orjson.dumps(row) + b"\n"
        yield orjson.dumps(self.closing(window, count)) + b"\n"

    def csv(self, window: Window, progress: Callable[[int], None] | None = None
            ) -> Iterator[bytes]:
        """One row per decision or action; `data` is the event's JSON. The last row has the
        type export.closed and the closing document (with the checkpoint) as its data."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")

        def line(values: list[Any]) -> bytes:
            writer.writerow(values)
            text = buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            return text.encode()

        yield line(list(CSV_COLUMNS))
        count = 0
        for row in self.rows(window, progress):
            count += 1
            yield line([row["position"], row["hash"], row["recorded_at"], row["type"],
                        row["stream_id"], row["event_id"], row["actor"]["id"],
                        row["actor"]["role"], _flag(row["erased"]),
                        orjson.dumps(row["data"]).decode()])
        closing = self.closing(window, count)
        checkpoint = closing["checkpoint"] or {}
        yield line([checkpoint.get("position", ""), checkpoint.get("head_hash", ""),
                    closing["exported_at"], "export.closed", "", "", "", "", "",
                    orjson.dumps(closing).decode()])

    def stream(self, fmt: str, window: Window,
               progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}")
        return self.jsonl(window, progress) if fmt == "jsonl" else self.csv(window, progress)
