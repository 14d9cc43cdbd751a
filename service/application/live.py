"""Live event streams: one poller per process reads each new stretch of the log once, and
every open stream is served from that, so a thousand idle streams cost one cheap query per
poll interval and hold no database connection.

A stream starts at any position: until it reaches what the poller has buffered it reads the
log itself, in pages, like the feed. Positions are gapless, so a stream that sends every
position after its start in order misses nothing; a client that reconnects with the last
position it saw (Last-Event-ID) continues exactly where it stopped.

The buffer is kept for BUFFER_SECONDS only, and emptied when an author is erased: it holds
comment text for moderators' streams, and an erasure must not live on in memory. Streams
further behind than the buffer read the log, which never shows erased data.

Claims are not in the log (they are advisory and short-lived, see claims.py), yet other
moderators' dashboards should see them as they happen. A stream opened with `claims` also
carries them: it starts with every live claim, then the poller compares the live claims
with what it saw at the last poll (one small query for all such streams, in every process,
so a claim taken through any process reaches every stream) and hands each change to them:
claimed (or extended), released, expired. Claim messages carry no log position.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

PAGE = 500
BUFFER_EVENTS = 5000
BUFFER_SECONDS = 30.0
ERASED = "author.erased"  # an author's erasure empties the buffers it may be quoted in
CLAIM_CHANGES = 1000  # kept for streams that have not taken them yet

ClaimReader = Callable[[], tuple[datetime, list[dict[str, Any]]]]  # (now, live claims)


class TooManyStreams(Exception):
    """The process already serves its maximum of open streams."""


@dataclass
class _View:
    """The buffered stretch (base, read_to] of the log as one kind of reader sees it."""

    subscribers: int = 0
    read_to: int | None = None
    events: deque = field(default_factory=deque)  # (read_at, envelope)

    @property
    def base(self) -> int | None:
        if self.read_to is None:
            return None
        return self.events[0][1]["position"] - 1 if self.events else self.read_to


@dataclass
class Heartbeat:
    """Yielded by `follow` when nothing happened for a while."""

    position: int


@dataclass
class ClaimChange:
    """Yielded by a stream opened with claims: a claim taken or extended ("claimed"), given
    back ("released") or run out ("expired")."""

    state: str
    comment_id: str
    moderator_id: str
    claimed_at: datetime
    expires_at: datetime

    def payload(self) -> dict[str, Any]:
        return {"state": self.state, "comment_id": self.comment_id,
                "moderator_id": self.moderator_id, "claimed_at": self.claimed_at.isoformat(),
                "expires_at": self.expires_at.isoformat()}


def _change(state: str, claim: dict[str, Any]) -> ClaimChange:
    return ClaimChange(state, claim["comment_id"], claim["moderator_id"], claim["claimed_at"],
                       claim["expires_at"])


class StreamHub:
    def __init__(self, feed: Callable[..., list[dict[str, Any]]], head: Callable[[], int], *,
                 poll_seconds: float, max_open: int, clock: Callable[[], float] = time.monotonic,
                 claims: ClaimReader | None = None):
        self._feed = feed
        self._head = head
        self._claims = claims
        self._claim_subscribers = 0
        self._claims_seen: dict[str, dict[str, Any]] | None = None  # at the last poll
        self._claim_changes: deque[tuple[int, ClaimChange]] = deque(maxlen=CLAIM_CHANGES)
        self._claim_seq = 0
        self._poll = poll_seconds
        self._max_open = max_open
        self._clock = clock
        self._cond = threading.Condition()
        self._views: dict[bool, _View] = {True: _View(), False: _View()}
        self._open = 0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.polls = 0

    @property
    def open_streams(self) -> int:
        return self._open

    # -- the poller -------------------------------------------------------------------

    def _ensure_thread(self) -> None:  # under the lock: one poller, however many arrive
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="event-stream-poller",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._open == 0 and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
                wanted = [personal for personal, view in self._views.items()
                          if view.subscribers > 0]
            try:
                self.poll(wanted, claims=self._claim_subscribers > 0)
            except Exception:  # noqa: BLE001 - the database may be away; streams wait
                log.warning("event stream poll failed; retrying", exc_info=True)
            time.sleep(self._poll)

    def poll(self, views: Sequence[bool] = (True, False), claims: bool = True) -> None:
        """Read what is new for each wanted view (and the claims, if asked) into the buffers
        and wake the streams."""
        self.polls += 1
        if claims and self._claims is not None:
            self._poll_claims()
        head = self._head()
        for personal in views:
            with self._cond:
                view = self._views[personal]
            start = view.read_to
            if start is None:
                start = head
            fresh: list[dict[str, Any]] = []
            after = start
            while after < head:
                page = self._feed(after=after, limit=PAGE, personal=personal)
                if not page:
                    break
                fresh += page
                after = page[-1]["position"]
            with self._cond:
                if self._views[personal] is not view or view.subscribers == 0:
                    continue  # forgotten while we read
                now = self._clock()
                view.events.extend((now, event) for event in fresh)
                view.read_to = after
                if any(event["type"] == ERASED for event in fresh):
                    view.events.clear()  # streams behind now read the log, which forgets
                self._trim(view, now)
        with self._cond:
            self._cond.notify_all()

    def _poll_claims(self) -> None:
        now, rows = self._claims()
        live = {row["comment_id"]: row for row in rows}
        with self._cond:
            seen, self._claims_seen = self._claims_seen, live
            if seen is None:
                return  # the first look: streams began with their own
            changes = [_change("claimed", claim) for comment_id, claim in live.items()
                       if (before := seen.get(comment_id)) is None
                       or (before["moderator_id"], before["expires_at"])
                       != (claim["moderator_id"], claim["expires_at"])]
            changes += [_change("expired" if claim["expires_at"] <= now else "released", claim)
                        for comment_id, claim in seen.items()
                        if comment_id not in live]
            for change in changes:
                self._claim_seq += 1
                self._claim_changes.append((self._claim_seq, change))

    def _claims_after(self, seq: int) -> list[tuple[int, ClaimChange]]:  # under the lock
        if not self._claim_changes or self._claim_changes[-1][0] <= seq:
            return []
        return [(n, change) for n, change in self._claim_changes if n > seq]

    def _trim(self, view: _View, now: float) -> None:  # under the lock
        while view.events and (len(view.events) > BUFFER_EVENTS
                               or now - view.events[0][0] > BUFFER_SECONDS):
            view.events.popleft()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    # -- the streams ------------------------------------------------------------------

    def _subscribe(self, personal: bool, claims: bool) -> None:
        with self._cond:
            if self._open >= self._max_open:
                raise TooManyStreams(self._max_open)
            self._open += 1
            self._views[personal].subscribers += 1
            self._claim_subscribers += claims
            self._ensure_thread()
            self._cond.notify_all()

    def _unsubscribe(self, personal: bool, claims: bool) -> None:
        with self._cond:
            self._open -= 1
            self._claim_subscribers -= claims
            if self._claim_subscribers == 0:
                self._claims_seen = None
                self._claim_changes.clear()
            view = self._views[personal]
            view.subscribers -= 1
            if view.subscribers == 0:  # nobody reads this view: forget it (and its text)
                self._views[personal] = _View()

    def _buffered_after(self, personal: bool, position: int) -> list[dict[str, Any]] | None:
        """Buffered events after POSITION; None when POSITION is before the buffer."""
        view = self._views[personal]
        base = view.base
        if base is None or position < base:
            return None
        if position >= view.read_to:
            return []
        return [event for _, event in view.events if event["position"] > position]

    def open(self, *, after: int, personal: bool, types: Sequence[str] | None,
             heartbeat_seconds: float, max_seconds: float, claims: bool = False,
             hidden: frozenset[str] = frozenset()) -> Stream:
        """Subscribe now (raising TooManyStreams at the cap) and return the stream; with
        `claims`, it also carries claim changes (starting with every live claim). It never
        sends an event of a `hidden` type (see visibility.py)."""
        claims = claims and self._claims is not None
        self._subscribe(personal, claims)
        return Stream(self._follow(after, personal, frozenset(types) if types else None,
                                   heartbeat_seconds, max_seconds, claims, hidden),
                      lambda: self._unsubscribe(personal, claims))

    def _follow(self, position: int, personal: bool, types: frozenset[str] | None,
                heartbeat_seconds: float, max_seconds: float, claims: bool = False,
                hidden: frozenset[str] = frozenset()
                ) -> Iterator[dict | Heartbeat | ClaimChange]:
        deadline = self._clock() + max_seconds
        beat = self._clock() + heartbeat_seconds
        claim_seq = -1  # no claim changes: this stream does not carry them
        if claims:
            with self._cond:
                claim_seq = self._claim_seq
            _, live = self._claims()  # what changes after this the poller hands over
            with self._cond:
                if self._claims_seen is None:  # the poller's next look compares with this
                    self._claims_seen = {claim["comment_id"]: claim for claim in live}
            for claim in live:
                yield _change("claimed", claim)
        while self._clock() < deadline and not self._stopped:
            with self._cond:
                batch = self._buffered_after(personal, position)
                changes = self._claims_after(claim_seq) if claims else []
                if batch == [] and not changes:
                    self._cond.wait(timeout=max(0.0, min(beat, deadline) - self._clock()))
                    batch = self._buffered_after(personal, position)
                    changes = self._claims_after(claim_seq) if claims else []
            for claim_seq, change in changes:  # noqa: B007 - the last one is kept
                yield change
                beat = self._clock() + heartbeat_seconds
            if batch is None:  # behind the buffer (or none yet): read the log itself
                batch = self._feed(after=position, limit=PAGE, personal=personal)
                if not batch:  # at the head before the poller has buffered it: wait
                    with self._cond:
                        self._cond.wait(timeout=max(0.0, min(self._poll, beat - self._clock())))
            for event in batch or ():
                if event["position"] <= position:
                    continue  # never again, never backwards
                position = event["position"]
                if (types is None or event["type"] in types) and event["type"] not in hidden:
                    yield event
                    beat = self._clock() + heartbeat_seconds
            if self._clock() >= beat:
                yield Heartbeat(position)
                beat = self._clock() + heartbeat_seconds


class Stream:
    """An open stream: iterate for events and heartbeats; close() (also called by the WSGI
    server when the client goes away, or at the end) gives its place back exactly once."""

    def __init__(self, events: Iterator[dict | Heartbeat], release: Callable[[], None]):
        self._events = events
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> dict | Heartbeat:
        try:
            return next(self._events)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            self._events.close()
            release()
