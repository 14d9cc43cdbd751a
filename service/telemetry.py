"""Prometheus metrics of this process: requests, write transactions, the SQLite writer lock.

The metric objects are made on first use, not at import: under `moderation serve` each
gunicorn worker counts into files shared through PROMETHEUS_MULTIPROC_DIR, and the worker
only knows that after it has forked (see service/server.py), so nothing may be counted
before then. Figures that live in the database (queue depth, projection lag, webhook
backlog) are read at scrape time instead, by service/metrics.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry  # this process's own; workers' files are read instead
    requests: Counter
    request_seconds: Histogram
    write_seconds: Histogram
    writer_lock_wait_seconds: Histogram


@cache
def metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter("moderation_http_requests", "HTTP requests answered.",
                         ["method", "endpoint", "status"], registry=registry),
        request_seconds=Histogram(
            "moderation_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "endpoint"], buckets=LATENCY_BUCKETS, registry=registry),
        write_seconds=Histogram(
            "moderation_write_transaction_seconds",
            "One command's write transaction, BEGIN to COMMIT or rollback: the append, its "
            "inline projections and outbox rows.", ["outcome"], buckets=LATENCY_BUCKETS,
            registry=registry),
        writer_lock_wait_seconds=Histogram(
            "moderation_writer_lock_wait_seconds",
            "Time a write waited for the SQLite writer lock before BEGIN (0 on PostgreSQL, "
            "where row locks order writers).", buckets=LATENCY_BUCKETS, registry=registry),
    )
