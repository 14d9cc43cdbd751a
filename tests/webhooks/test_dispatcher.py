"""Delivery end to end on both databases: real receivers, injected faults, a fake clock."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from service.db import write_transaction
from service.eventstore.personal_data import PersonalDataVault
from service.webhooks import outbox
from service.webhooks.admin import EndpointDisabled, Webhooks
from service.webhooks.dispatcher import RetryPolicy, parse_retry_after
from service.webhooks.endpoints import EndpointNotFound

from .conftest import moderate
from .receivers import Receiver, closed_port


def make(hooks: Webhooks, receiver: Receiver, **kw) -> int:
    endpoint, secret = hooks.create_endpoint(receiver.url, **kw)
    receiver.secrets.append(secret)
    return endpoint.id


def run(hooks: Webhooks) -> None:
    hooks.dispatcher().run(once=True, concurrency=4)


def only_delivery(hooks: Webhooks, endpoint_id: int, event_type: str) -> dict:
    [row] = hooks.deliveries(endpoint_id, event_type=event_type)
    return hooks.delivery(row["id"])


def test_events_arrive_signed_with_the_event_id_as_webhook_id(services, hooks, receiver):
    endpoint_id = make(hooks, receiver)
    [activity] = moderate(services)
    run(hooks)
    history = services.queries.history(activity.comment_id)
    assert sorted(receiver.ids()) == sorted(h["event_id"] for h in history)
    assert all(r.verified_with == [0] for r in receiver.received), [
        r.error for r in receiver.received]
    assert sorted(r.payload["type"] for r in receiver.received) == [
        "comment.approved", "comment.screened", "comment.submitted"]  # no ordering promise
    approved = only_delivery(hooks, endpoint_id, "comment.approved")
    assert approved["status"] == "succeeded" and approved["due_at"] is None
    [attempt] = approved["attempts"]
    assert (attempt["kind"], attempt["number"], attempt["status_code"], attempt["succeeded"]) \
        == ("auto", 1, 204, True)
    run(hooks)  # nothing more is due
    assert len(receiver.received) == 3


def test_a_500_is_retried_on_schedule_with_the_same_id(services, hooks, receiver, clock):
    answers = iter([500, 204])
    receiver.respond = lambda r: (next(answers), {}, b"oops")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    moderate(services)
    run(hooks)
    failed = only_delivery(hooks, endpoint_id, "comment.approved")
    assert failed["status"] == "pending" and failed["attempt_count"] == 1
    delay = (failed["next_attempt_at"] - clock()).total_seconds()
    assert 4 <= delay <= 6  # 5 s +-20 %
    assert failed["last_status_code"] == 500
    run(hooks)
    assert len(receiver.received) == 1  # not due yet
    clock.advance(seconds=6)
    run(hooks)
    done = only_delivery(hooks, endpoint_id, "comment.approved")
    assert done["status"] == "succeeded"
    assert [(a["number"], a["status_code"]) for a in done["attempts"]] == [(1, 500), (2, 204)]
    assert done["attempts"][0]["response_body"] == "oops"
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id
    assert first.body == second.body  # the same bytes; only timestamp and signature change


def test_after_the_last_attempt_the_delivery_fails(services, hook_settings, clock, receiver):
    settings = replace(hook_settings, webhook_retry_schedule=(0, 10, 20))
    hooks = Webhooks(services.engine, settings, clock,
                     services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
    receiver.respond = lambda r: (503, {}, b"")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    moderate(services)
    for _ in range(4):
        run(hooks)
        clock.advance(seconds=30)
    row = only_delivery(hooks, endpoint_id, "comment.approved")
    assert (row["status"], row["attempt_count"], row["due_at"]) == ("failed", 3, None)
    assert [a["next_attempt_at"] is None for a in row["attempts"]] == [False, False, True]
    assert len(receiver.received) == 3


def test_410_disables_the_endpoint_and_holds_the_rest(services, hooks, receiver, clock):
    receiver.respond = lambda r: (410, {}, b"gone")
    endpoint_id = make(hooks, receiver)
    moderate(services)
    hooks.dispatcher().run(once=True, concurrency=1)
    endpoint = hooks.endpoint(endpoint_id)
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    rows = hooks.deliveries(endpoint_id)
    assert [r["status"] for r in rows].count("failed") == 1
    assert len(receiver.received) == 1
    # Nothing new is queued for a disabled endpoint; the held ones go once it is enabled.
    moderate(services)
    assert len(hooks.deliveries(endpoint_id)) == 3
    receiver.respond = lambda r: (204, {}, b"")
    hooks.update_endpoint(endpoint_id, enabled=True)
    assert hooks.endpoint(endpoint_id).disabled_reason is None
    run(hooks)
    assert sorted(r["status"] for r in hooks.deliveries(endpoint_id)) == [
        "failed", "succeeded", "succeeded"]


def test_redirects_fail_and_are_not_followed(services, hooks, receiver):
    receiver.respond = lambda r: (302, {"Location": receiver.url + "/elsewhere"}, b"")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    moderate(services)
    run(hooks)
    row = only_delivery(hooks, endpoint_id, "comment.approved")
    assert row["status"] == "pending"
    assert "redirect (not followed)" in row["attempts"][0]["error"]
    assert [r.path for r in receiver.received] == ["/hooks"]


@pytest.mark.parametrize(("retry_after", "expected"), [("90", 90), ("3600", 120), ("1", None)])
def test_429_honours_retry_after_within_bounds(services, hooks, receiver, clock, retry_after,
                                               expected):
    receiver.respond = lambda r: (429, {"Retry-After": retry_after}, b"")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    moderate(services)
    run(hooks)
    row = only_delivery(hooks, endpoint_id, "comment.approved")
    delay = (row["next_attempt_at"] - clock()).total_seconds()
    if expected is None:  # shorter than the minute a 429 always waits: the minute wins
        assert 60 <= delay <= 72
    else:
        assert delay == pytest.approx(expected, abs=0.01)


def test_receiver_down_and_slow_receivers_are_retried(services, hook_settings, clock, receiver):
    settings = replace(hook_settings, webhook_timeout_seconds=0.5)
    hooks = Webhooks(services.engine, settings, clock,
                     services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
    down, secret = hooks.create_endpoint(f"http://127.0.0.1:{closed_port()}/",
                                         event_types=["comment.approved"])
    receiver.respond = lambda r: (time.sleep(1.0), (204, {}, b""))[1]
    slow = make(hooks, receiver, event_types=["comment.approved"])
    moderate(services)
    started = time.monotonic()
    run(hooks)
    assert time.monotonic() - started < 1.0  # both in parallel, each within its deadline
    refused = only_delivery(hooks, down.id, "comment.approved")["attempts"][0]
    assert refused["status_code"] is None and refused["error"].startswith("connect")
    late = only_delivery(hooks, slow, "comment.approved")
    assert late["attempts"][0]["error"].startswith(("deadline", "timeout"))
    assert (late["next_attempt_at"] - clock()).total_seconds() >= 60  # timeouts wait a minute


def test_an_endpoint_failing_for_five_days_is_disabled(services, hooks, receiver, clock):
    receiver.respond = lambda r: (500, {}, b"")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    for _day in range(5):
        moderate(services)
        run(hooks)
        assert hooks.endpoint(endpoint_id).enabled
        clock.advance(days=1)
    moderate(services)  # day 5: failing for 120 h
    run(hooks)
    endpoint = hooks.endpoint(endpoint_id)
    assert not endpoint.enabled
    assert "every attempt failed for 120 h" in endpoint.disabled_reason
    assert "HTTP 500" in endpoint.disabled_reason
    # recorded in the log, with the dispatcher as actor, in the attempt's transaction
    with services.engine.connect() as conn:
        [disabled] = services.store.read_all(conn, types=["webhook_endpoint.disabled"])
    assert disabled.stream_id == f"webhook-endpoint-{endpoint_id}"
    assert disabled.data["reason"] == endpoint.disabled_reason
    assert disabled.metadata["actor"]["role"] == "system"
    assert disabled.metadata["actor"]["id"].startswith("dispatcher-")
    hooks.update_endpoint(endpoint_id, enabled=True)  # and an admin can enable it again
    assert hooks.endpoint(endpoint_id).failing_since is None


def test_a_success_resets_the_failure_clock(services, hooks, receiver, clock):
    answer = {"status": 500}
    receiver.respond = lambda r: (answer["status"], {}, b"")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    for day, status in ((0, 500), (3, 204), (6, 500), (10, 500)):
        clock.now = clock.now.replace(day=1) + timedelta(days=day)
        answer["status"] = status
        moderate(services)
        run(hooks)
        if day == 6:
            failing_since = clock()
    endpoint = hooks.endpoint(endpoint_id)
    assert endpoint.enabled  # 10 days since the first failure, but only 4 since the success
    assert endpoint.failing_since == failing_since


def test_rotation_signs_with_both_secrets_during_the_overlap(services, hooks, receiver, clock):
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    new_secret, expiries = hooks.rotate_secret(endpoint_id)
    assert expiries == [clock() + timedelta(hours=24)]
    receiver.secrets.append(new_secret)
    moderate(services)
    run(hooks)
    assert receiver.received[-1].verified_with == [0, 1]
    clock.advance(hours=25)
    moderate(services)
    run(hooks)
    assert receiver.received[-1].verified_with == [1]  # the old secret no longer signs


def test_manual_redelivery_keeps_the_id_and_the_schedule(services, hooks, receiver, clock):
    receiver.respond = lambda r: (500, {}, b"")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    moderate(services)
    run(hooks)
    row = only_delivery(hooks, endpoint_id, "comment.approved")
    scheduled = row["next_attempt_at"]
    hooks.redeliver(row["id"])
    run(hooks)  # the manual attempt fails too
    row = hooks.delivery(row["id"])
    assert [(a["kind"], a["number"]) for a in row["attempts"]] == [("auto", 1), ("manual", None)]
    assert (row["status"], row["next_attempt_at"], row["due_at"]) == ("pending", scheduled,
                                                                    scheduled)
    receiver.respond = lambda r: (200, {}, b"ok")
    hooks.redeliver(row["id"])
    run(hooks)
    row = hooks.delivery(row["id"])
    assert (row["status"], row["due_at"]) == ("succeeded", None)
    assert len({r.webhook_id for r in receiver.received}) == 1
    assert len(receiver.received) == 3


def test_recover_resends_failures_and_what_was_missed(services, hook_settings, clock,
                                                      receiver):
    hooks = Webhooks(services.engine, replace(hook_settings, webhook_retry_schedule=(0,)),
                     clock, services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
    receiver.respond = lambda r: (500, {}, b"")
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    start = clock()
    moderate(services)
    run(hooks)  # one attempt only: failed
    hooks.update_endpoint(endpoint_id, enabled=False)
    moderate(services, comments=2)  # missed while disabled
    hooks.update_endpoint(endpoint_id, enabled=True)
    with pytest.raises(EndpointDisabled):
        other, _ = hooks.create_endpoint("http://127.0.0.1:9/x")
        hooks.update_endpoint(other.id, enabled=False)
        hooks.recover(other.id, since=start)
    receiver.respond = lambda r: (204, {}, b"")
    assert hooks.recover(endpoint_id, since=start) == {"requeued": 1, "backfilled": 2}
    run(hooks)
    rows = hooks.deliveries(endpoint_id)
    assert [r["status"] for r in rows] == ["succeeded"] * 3
    assert len(receiver.received) == 4
    assert all(r.verified_with == [0] for r in receiver.received)
    assert hooks.recover(endpoint_id, since=start) == {"requeued": 0, "backfilled": 0}


def test_test_ping_goes_through_the_pipeline(services, hooks, receiver):
    endpoint_id = make(hooks, receiver, event_types=["comment.rejected"])
    delivery = hooks.send_test(endpoint_id)
    assert delivery["event_type"] == "webhook.ping"
    run(hooks)
    [got] = receiver.received
    assert got.verified_with == [0]
    assert got.payload["type"] == "webhook.ping"
    assert got.payload["data"] == {"message_id": got.webhook_id, "endpoint_id": endpoint_id}
    assert hooks.delivery(delivery["id"])["status"] == "succeeded"


def test_the_comment_body_is_opt_in_and_erasable(services, hooks, receiver):
    make(hooks, receiver, event_types=["comment.submitted"])
    with_body = make(hooks, receiver, event_types=["comment.submitted"], include_body=True)
    moderate(services)
    run(hooks)
    bodies = sorted(json.dumps(r.payload["data"].get("body")) for r in receiver.received)
    assert bodies == ['"A thoughtful comment number 0"', "null"]
    assert [r.payload["data"].get("erased") for r in receiver.received
            if "body" in r.payload["data"]] == [False]
    # Erase the author: the next send of that delivery carries null, not the text.
    submitted = only_delivery(hooks, with_body, "comment.submitted")
    author = json.loads(submitted["payload"])["data"]["author_id"]
    with write_transaction(services.engine) as conn:
        PersonalDataVault(conn, services.clock).erase(author)
    hooks.redeliver(submitted["id"])
    run(hooks)
    assert receiver.received[-1].payload["data"]["body"] is None
    assert receiver.received[-1].payload["data"]["erased"] is True
    assert receiver.received[-1].verified_with == [1]


def test_a_result_after_a_lapsed_lease_is_logged_but_not_applied(services, hooks, receiver,
                                                                 clock):
    endpoint_id = make(hooks, receiver, event_types=["comment.approved"])
    moderate(services)
    slow, fast = hooks.dispatcher(name="slow"), hooks.dispatcher(name="fast")
    [held] = slow.claim(10)
    clock.advance(seconds=31)  # the slow one's lease lapses while it is "sending"
    [taken] = fast.claim(10)
    assert taken.id == held.id and taken.lock_token != held.lock_token
    receiver.respond = lambda r: (500, {}, b"")
    assert slow.process(held).succeeded is False
    row = hooks.delivery(held.id)
    assert row["status"] == "pending" and row["in_flight"]  # still the fast one's
    receiver.respond = lambda r: (204, {}, b"")
    assert fast.process(taken).succeeded
    row = hooks.delivery(held.id)
    assert row["status"] == "succeeded" and len(row["attempts"]) == 2
    assert slow.stats.lapsed == 1
    assert endpoint_id


def test_deleting_an_endpoint_removes_its_deliveries(services, hooks, receiver):
    endpoint_id = make(hooks, receiver)
    moderate(services)
    run(hooks)
    hooks.delete_endpoint(endpoint_id)
    assert hooks.deliveries() == []
    with pytest.raises(EndpointNotFound):
        hooks.endpoint(endpoint_id)


def test_retry_policy_bounds():
    import random

    policy = RetryPolicy((0, 5, 300, 1800), jitter=0.2)
    rnd = random.Random(7)
    for attempts, base in ((1, 5), (2, 300), (3, 1800)):
        delays = [policy.delay_after(attempts, rnd=rnd) for _ in range(200)]
        assert min(delays) >= base * 0.8 and max(delays) <= base * 1.2
        assert max(delays) - min(delays) > base * 0.2  # jitter spreads them
    assert policy.delay_after(4) is None
    assert policy.delay_after(1, throttled=True, rnd=rnd) >= 60
    assert policy.delay_after(2, retry_after=10_000, rnd=rnd) == 600
    assert parse_retry_after("120", 0) == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470) == 10
    assert parse_retry_after("soon", 0) is None


def test_default_schedule_is_ten_attempts_over_about_three_days(settings):
    schedule = settings.webhook_retry_schedule
    assert len(schedule) == 10
    assert 70 <= sum(schedule) / 3600 <= 80
    assert outbox.RECOVER_LIMIT == 10_000
