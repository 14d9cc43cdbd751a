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
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

PAGE = 500
BUFFER_EVENTS = 5000
BUFFER_SECONDS = 30.0
ERASED = "author.erased"  # an author's erasure empties the buffers it may be quoted in


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


class StreamHub:
    def __init__(self, feed: Callable[..., list[dict[str, Any]]], head: Callable[[], int], *,
                 poll_seconds: float, max_open: int, clock: Callable[[], float] = time.monotonic):
        self._feed = feed
        self._head = head
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
                self.poll(wanted)
            except Exception:  # noqa: BLE001 - the database may be away; streams wait
                log.warning("event stream poll failed; retrying", exc_info=True)
            time.sleep(self._poll)

    def poll(self, views: Sequence[bool] = (True, False)) -> None:
        """Read what is new for each wanted view into its buffer and wake the streams."""
        self.polls += 1
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

    def _trim(self, view: _View, now: float) -> None:  # under the lock
        while view.events and (len(view.events) > BUFFER_EVENTS
                               or now - view.events[0][0] > BUFFER_SECONDS):
            view.events.popleft()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    # -- the streams ------------------------------------------------------------------

    def _subscribe(self, personal: bool) -> None:
        with self._cond:
            if self._open >= self._max_open:
                raise TooManyStreams(self._max_open)
            self._open += 1
            self._views[personal].subscribers += 1
            self._ensure_thread()
            self._cond.notify_all()

    def _unsubscribe(self, personal: bool) -> None:
        with self._cond:
            self._open -= 1
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
             heartbeat_seconds: float, max_seconds: float) -> Stream:
        """Subscribe now (raising TooManyStreams at the cap) and return the stream."""
        self._subscribe(personal)
        return Stream(self._follow(after, personal, frozenset(types) if types else None,
                                   heartbeat_seconds, max_seconds),
                      lambda: self._unsubscribe(personal))

    def _follow(self, position: int, personal: bool, types: frozenset[str] | None,
                heartbeat_seconds: float, max_seconds: float) -> Iterator[dict | Heartbeat]:
        deadline = self._clock() + max_seconds
        beat = self._clock() + heartbeat_seconds
        while self._clock() < deadline and not self._stopped:
            with self._cond:
                batch = self._buffered_after(personal, position)
                if batch == []:
                    self._cond.wait(timeout=max(0.0, min(beat, deadline) - self._clock()))
                    batch = self._buffered_after(personal, position)
            if batch is None:  # behind the buffer (or none yet): read the log itself
                batch = self._feed(after=position, limit=PAGE, personal=personal)
                if not batch:  # at the head before the poller has buffered it: wait
                    with self._cond:
                        self._cond.wait(timeout=max(0.0, min(self._poll, beat - self._clock())))
            for event in batch or ():
                if event["position"] <= position:
                    continue  # never again, never backwards
                position = event["position"]
                if types is None or event["type"] in types:
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
