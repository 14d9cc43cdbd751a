"""A small closed-loop HTTP load generator: client processes on keep-alive connections.

Each client sends requests back to back for a fixed count and records each latency; the
parent gathers them. Loopback only.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import time
import urllib.parse
from dataclasses import dataclass


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _client(args: tuple) -> tuple[list[float], dict[int, int], int]:  # noqa: ANN001
    base, requests, start_at = args
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    while time.time() < start_at:
        time.sleep(0.001)
    latencies, statuses, errors = [], {}, 0
    for method, path, body, headers in requests:
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        t = time.perf_counter()
        try:
            conn.request(method, path, body=data, headers={
                **({"Content-Type": "application/json"} if data else {}), **headers})
            response = conn.getresponse()
            response.read()
            statuses[response.status] = statuses.get(response.status, 0) + 1
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        latencies.append((time.perf_counter() - t) * 1000)
    conn.close()
    return latencies, statuses, errors


def run_load(base: str, plans: list[list[tuple]]) -> LoadResult:
    """One plan (a list of (method, path, body, headers)) per client process."""
    start_at = time.time() + 1.0
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(len(plans)) as pool:
        results = pool.map(_client, [(base, plan, start_at) for plan in plans])
        seconds = time.time() - start_at
    latencies = [lat for r in results for lat in r[0]]
    statuses: dict[int, int] = {}
    for r in results:
        for code, n in r[1].items():
            statuses[code] = statuses.get(code, 0) + n
    errors = sum(r[2] for r in results) + sum(
        n for code, n in statuses.items() if code >= 500)
    return LoadResult(len(latencies), errors, seconds, latencies, statuses)
