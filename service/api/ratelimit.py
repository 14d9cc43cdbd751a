"""Per client address limits on the public writes (submissions, reader reports).

A moving window per limit ("30/minute;500/hour"): a request is let through when fewer
than N of this address's requests to this operation fall in the last period, and refused
with 429 and Retry-After (the seconds until the oldest of them leaves the window, rounded
up to the whole second after it) otherwise. Only the decorated operations pay for it: an
app-wide check on every request, which Flask-Limiter makes, cost a submission more than
its whole JSON handling.

`memory://` counts in this process (each gunicorn worker on its own); any other URI is a
`limits` storage (`redis://...`) shared by every worker. When the shared store fails,
counting falls back to this process's memory rather than refusing submissions, and the
store is asked again after a back-off (1 s doubling to 64 s).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from flask import request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 64


class RateLimited(TooManyRequests):
    """Raised by a limited operation: answered 429 with RETRY_AFTER seconds."""

    def __init__(self, retry_after: int = 60):
        super().__init__()
        self.retry_after = retry_after


class MemoryWindows:
    """Moving windows in this process: per key, the times of its hits, oldest first."""

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon  # the longest period: older hits count for nothing
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = 0.0

    def hit(self, key: str, amount: int, period: float, now: float) -> float | None:
        """Record a hit and return None, or return when the window frees (no hit recorded)."""
        with self._lock:
            if now >= self._sweep_at:
                self._sweep(now)
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - period:
                hits.popleft()
            if len(hits) >= amount:
                return hits[-amount] + period
            hits.append(now)
            return None

    def _sweep(self, now: float, every: float = 60.0) -> None:
        """Forget the addresses whose every hit has left the longest window."""
        self._hits = {key: hits for key, hits in self._hits.items()
                      if hits and hits[-1] > now - self.horizon}
        self._sweep_at = now + every


class RateLimiter:
    """The configured limits, counted per operation and client address."""

    def __init__(self, spec: str, storage_uri: str = "memory://", prefix: str = "moderation"):
        self.limits: list[RateLimitItem] = sorted(parse_many(spec))
        self.prefix = prefix
        self.memory = MemoryWindows(max((item.get_expiry() for item in self.limits),
                                        default=0))
        self.shared = (None if storage_uri.startswith("memory://")
                       else MovingWindowRateLimiter(storage_from_string(storage_uri)))
        self._failed_at: float | None = None
        self._backoff = 1.0

    def check(self, scope: str, client: str) -> None:
        """Count one request of CLIENT to SCOPE; raise RateLimited when a limit is full."""
        now = time.time()
        if self.shared is not None and not self._shared_is_down(now):
            try:
                self._check_shared(scope, client)
                return
            except RateLimited:
                raise
            except Exception as exc:  # noqa: BLE001 - any storage failure: count locally
                self._failed(now, exc)
        for limit in self.limits:
            frees_at = self.memory.hit(limit.key_for(self.prefix, scope, client),
                                       limit.amount, limit.get_expiry(), now)
            if frees_at is not None:
                raise RateLimited(_retry_after(frees_at, now))

    def limit(self, view: Callable, scope: str, methods: frozenset[str]) -> Callable:
        """VIEW, counted under SCOPE for the given METHODS."""

        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if request.method in methods:
                self.check(scope, request.remote_addr or "127.0.0.1")
            return view(*args, **kwargs)

        return limited

    def _check_shared(self, scope: str, client: str) -> None:
        assert self.shared is not None
        for limit in self.limits:
            if not self.shared.hit(limit, self.prefix, scope, client):
                reset, _ = self.shared.get_window_stats(limit, self.prefix, scope, client)
                raise RateLimited(_retry_after(reset, time.time()))

    def _shared_is_down(self, now: float) -> bool:
        if self._failed_at is None:
            return False
        if now - self._failed_at < self._backoff:
            return True
        self._failed_at = now  # one request tries the store again; others stay local
        try:
            assert self.shared is not None
            alive = self.shared.storage.check()
        except Exception:  # noqa: BLE001
            alive = False
        if not alive:
            self._backoff = min(self._backoff * 2, MAX_BACKOFF_SECONDS)
            return True
        log.info("rate limit storage answers again; counting there")
        self._failed_at, self._backoff = None, 1.0
        return False

    def _failed(self, now: float, exc: Exception) -> None:
        log.warning("rate limit storage unreachable (%s); counting in this process until "
                    "it answers", type(exc).__name__)
        self._failed_at, self._backoff = now, 1.0


def _retry_after(frees_at: float, now: float) -> int:
    """Seconds to the whole second after the window frees, so a client is never early."""
    return max(1, int(int(frees_at + 1) - now) + 1)
