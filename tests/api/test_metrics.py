"""/metrics: Prometheus text format, request counts and latencies, and the figures read
from the database at scrape time (queue depth and age, projection lag, webhook backlog)."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from .helpers import approve, submitted_id


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_and_read_the_queue_from_the_database(client, article, tokens):
    before = scrape(client)
    route = "/v1/articles/<article_id:article_id>/comments"
    first = submitted_id(client, article)
    submitted_id(client, article)
    client.post(f"/v1/articles/{article}/comments", json={"body": ""})
    after = scrape(client)
    submits = value(after, "moderation_http_requests_total", method="POST", endpoint=route,
                    status="202") - value(before, "moderation_http_requests_total",
                                          method="POST", endpoint=route, status="202")
    assert submits == 2
    assert value(after, "moderation_http_requests_total", method="POST", endpoint=route,
                 status="422") >= 1
    assert value(after, "moderation_http_request_duration_seconds_count", method="POST",
                 endpoint=route) >= 3
    assert value(after, "moderation_queue_depth") == 2
    assert value(after, "moderation_queue_oldest_pending_seconds") >= 0
    assert value(after, "moderation_write_transaction_seconds_count", outcome="commit") >= 2
    head = value(after, "moderation_event_log_head")
    assert head >= 4
    lags = {dict(k[1])["projection"]: v for k, v in after.items()
            if k[0] == "moderation_projection_lag_events"}
    assert lags and set(lags.values()) == {0}

    assert approve(client, tokens.moderator, first).status_code == 200
    assert value(scrape(client), "moderation_queue_depth") == 1


def test_metrics_hold_no_personal_data(client, article):
    client.post(f"/v1/articles/{article}/comments",
                json={"author": {"name": "Marker Person", "email": "marker@example.org"},
                      "body": "marker body text"})
    text = client.get("/metrics").get_data(as_text=True)
    assert not re.search("marker|Marker", text)
