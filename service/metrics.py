"""`GET /metrics` in the Prometheus text format, and the request counters behind it.

Counters and histograms come from every worker (service/telemetry.py). Figures that live
in the database are read when Prometheus scrapes, in one read-only transaction: the log
head, each projection's position and lag, the queue's depth and oldest pending age, and
per webhook endpoint the deliveries by status, the oldest one waiting and when the
dispatcher last attempted one. Only counts and ages: no ids, names or text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import sqlalchemy as sa
from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from .bootstrap import Services
from .config import shared_metrics_directory
from .db import read_transaction
from .projections.queue import moderation_queue
from .telemetry import metrics
from .webhooks.outbox import PENDING
from .webhooks.tables import webhook_deliveries as deliveries

log = logging.getLogger(__name__)


class DatabaseCollector:
    """Gauges read from the database at scrape time."""

    def __init__(self, services: Services):
        self.services = services

    def collect(self) -> Iterator[Metric]:
        services = self.services
        now = services.clock()
        with read_transaction(services.engine) as conn:
            head = services.store.head(conn)
            positions = services.runner.status(conn)
            depth, oldest = conn.execute(sa.select(
                sa.func.count(), sa.func.min(moderation_queue.c.submitted_at))).one()
            by_status = conn.execute(
                sa.select(deliveries.c.endpoint_id, deliveries.c.status, sa.func.count())
                .group_by(deliveries.c.endpoint_id, deliveries.c.status)).all()
            waiting = conn.execute(
                sa.select(deliveries.c.endpoint_id, sa.func.min(deliveries.c.created_at))
                .where(deliveries.c.status == PENDING)
                .group_by(deliveries.c.endpoint_id)).all()
            last_attempt = conn.execute(sa.select(sa.func.max(
                deliveries.c.last_attempt_at))).scalar()
        yield _gauge("moderation_event_log_head", "Position of the newest event.", head)
        position = GaugeMetricFamily("moderation_projection_position",
                                     "Last event each read model applied.",
                                     labels=["projection"])
        lag = GaugeMetricFamily("moderation_projection_lag_events",
                                "Events of the log a read model has not applied yet.",
                                labels=["projection"])
        for name in services.runner.names:
            position.add_metric([name], positions.get(name, 0))
            lag.add_metric([name], head - positions.get(name, 0))
        yield position
        yield lag
        yield _gauge("moderation_queue_depth", "Comments waiting for a decision.", depth)
        yield _gauge("moderation_queue_oldest_pending_seconds",
                     "Age of the oldest comment waiting for a decision (0 when none waits).",
                     (now - oldest).total_seconds() if oldest is not None else 0)
        counts = GaugeMetricFamily("moderation_webhook_deliveries",
                                   "Webhook deliveries by endpoint and status.",
                                   labels=["endpoint", "status"])
        for endpoint_id, status, count in by_status:
            counts.add_metric([str(endpoint_id), status], count)
        yield counts
        oldest_waiting = GaugeMetricFamily(
            "moderation_webhook_oldest_pending_seconds",
            "Age of the oldest delivery not yet delivered, per endpoint (the endpoint's lag).",
            labels=["endpoint"])
        for endpoint_id, created in waiting:
            oldest_waiting.add_metric([str(endpoint_id)], (now - created).total_seconds())
        yield oldest_waiting
        yield _gauge("moderation_webhook_last_attempt_age_seconds",
                     "Time since the dispatcher last attempted a delivery (-1 if never): "
                     "rising while deliveries wait means the dispatcher is down.",
                     (now - last_attempt).total_seconds() if last_attempt else -1)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def install(app: Flask, services: Services) -> None:
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(services))

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is None:
            return response
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        try:
            m = metrics()
            m.requests.labels(request.method, endpoint, str(response.status_code)).inc()
            m.request_seconds.labels(request.method, endpoint).observe(
                time.perf_counter() - started)
        except Exception:  # counting must never cost anyone their answer
            log.exception("could not count a request in the metrics")
        return response

    @app.get("/metrics")
    def prometheus_metrics() -> Response:
        own = metrics().registry  # the families exist (at zero) before anything is counted
        if shared_metrics_directory():
            workers = CollectorRegistry()
            MultiProcessCollector(workers)
            text = generate_latest(workers)
        else:
            text = generate_latest(own)
        return Response(text + generate_latest(database), mimetype=CONTENT_TYPE_LATEST)
