"""The moving windows of the rate limiter, and its way back to a shared store that failed."""

from __future__ import annotations

import time

import pytest

from service.api.ratelimit import MemoryWindows, RateLimited, RateLimiter


def test_a_window_lets_n_through_per_period_and_names_when_it_frees():
    windows = MemoryWindows(horizon=60)
    assert windows.hit("a", 2, 60, now=100.0) is None
    assert windows.hit("a", 2, 60, now=130.0) is None
    assert windows.hit("a", 2, 60, now=131.0) == 160.0  # the first hit leaves at 160
    assert windows.hit("b", 2, 60, now=131.0) is None  # another key has its own
    assert windows.hit("a", 2, 60, now=160.0) is None  # 100 has left; 130 and 160 are in
    assert windows.hit("a", 2, 60, now=161.0) == 190.0


def test_a_refused_hit_is_not_counted():
    windows = MemoryWindows(horizon=10)
    assert windows.hit("a", 1, 10, now=0.0) is None
    for t in range(1, 10):
        assert windows.hit("a", 1, 10, now=float(t)) == 10.0
    assert windows.hit("a", 1, 10, now=10.0) is None


def test_forgotten_addresses_are_swept_after_the_longest_window():
    windows = MemoryWindows(horizon=3600)
    windows.hit("old", 5, 3600, now=0.0)
    windows.hit("new", 5, 3600, now=3000.0)
    windows.hit("new", 5, 3600, now=3700.0)  # sweeps: "old"'s last hit left the hour
    assert set(windows._hits) == {"new"}


def test_every_limit_counts_and_the_full_one_refuses(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    limiter = RateLimiter("2/minute;3/hour")
    limiter.check("submit", "192.0.2.1")
    limiter.check("submit", "192.0.2.1")
    with pytest.raises(RateLimited) as minute:
        limiter.check("submit", "192.0.2.1")
    assert minute.value.retry_after == 62  # to the whole second after 1060, plus one
    now[0] += 60
    limiter.check("submit", "192.0.2.1")  # the minute frees; the hour has its third
    now[0] += 60
    with pytest.raises(RateLimited) as hour:
        limiter.check("submit", "192.0.2.1")
    assert hour.value.retry_after == 4601 - 1120 + 1
    limiter.check("report", "192.0.2.1")  # another operation counts apart


class FlakyStore:
    """A shared store that can be taken down and brought back."""

    def __init__(self) -> None:
        self.up = True
        self.hits: list[tuple] = []
        self.storage = self

    def check(self) -> bool:
        return self.up

    def hit(self, limit, *keys) -> bool:  # noqa: ANN001
        if not self.up:
            raise ConnectionError("down")
        self.hits.append(keys)
        return True


def test_a_failed_store_is_asked_again_after_a_backoff(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    limiter = RateLimiter("100/minute")
    store = limiter.shared = FlakyStore()
    limiter.check("submit", "a")
    assert len(store.hits) == 1
    store.up = False
    limiter.check("submit", "a")  # fails over to memory, not refused
    store.up = True
    now[0] += 0.5
    limiter.check("submit", "a")  # within the back-off: memory still
    assert len(store.hits) == 1
    now[0] += 1
    limiter.check("submit", "a")  # asked again, answers: back to the store
    limiter.check("submit", "a")
    assert len(store.hits) == 3
