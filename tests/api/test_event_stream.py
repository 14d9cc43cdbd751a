"""GET /v1/events/stream: the log live as server-sent events, resumable, missing nothing."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import pytest

from service.app import create_app
from service.application.live import StreamHub

from .helpers import approve, assert_error, bearer, submitted_id


@pytest.fixture
def live(api_settings, services):
    """An app whose streams poll fast, beat often, end soon and cap at three per process."""
    services.streams = StreamHub(services.queries.feed, services.queries.head,
                                 poll_seconds=0.05, max_open=3, claims=services.claims.live)
    app = create_app(replace(api_settings, stream_heartbeat_seconds=0.3,
                             stream_max_seconds=4.0), services)
    app.config["TESTING"] = True
    with app.test_client() as client:
        yield client
    services.streams.stop()


class Reader:
    """Reads SSE messages off a streamed test response, one chunk at a time."""

    def __init__(self, response):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/event-stream"
        self.response = response
        self.chunks = iter(response.response)
        self.heartbeats = 0
        self.retry = None
        self.claims: list[dict] = []  # `event: claim` messages, in order
        self.got: list[dict] = []

    def _read(self) -> None:
        text = next(self.chunks).decode()
        for block in text.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines()
                          if ": " in line and not line.startswith(":"))
            if block.startswith(": heartbeat"):
                self.heartbeats += 1
            if "retry" in fields:
                self.retry = int(fields["retry"])
            if fields.get("event") == "claim":
                assert "id" not in fields  # not in the log: resuming is unaffected
                self.claims.append(json.loads(fields["data"]))
            elif "data" in fields:
                event = json.loads(fields["data"])
                assert int(fields["id"]) == event["position"]
                self.got.append(event)

    def events(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.got) < count:
            assert time.monotonic() < deadline, f"only {len(self.got)} of {count} events"
            self._read()
        got, self.got = self.got[:count], self.got[count:]
        return got

    def claims_until(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.claims) < count:
            assert time.monotonic() < deadline, f"only {self.claims} of {count} claims"
            self._read()
        return self.claims

    def close(self) -> None:
        self.response.close()


def stream(client, token, headers=None, **query) -> Reader:
    return Reader(client.get("/v1/events/stream", query_string=query, buffered=False,
                             headers=bearer(token, **(headers or {}))))


def feed(client, token, **query) -> list[dict]:
    response = client.get("/v1/events", query_string={"limit": 1000, **query},
                          headers=bearer(token))
    return response.get_json()["items"]


def test_stream_replays_then_follows_live_with_the_feeds_payloads(live, article, tokens,
                                                                   services):
    first = submitted_id(live, article, body="Before the stream", name="Nour",
                         email="nour@example.org")
    moderator = stream(live, tokens.moderator)
    auditor = stream(live, tokens.auditor)
    head = services.queries.head()
    assert moderator.events(head) == feed(live, tokens.moderator)
    assert auditor.events(head) == feed(live, tokens.auditor)
    assert moderator.retry == 2000

    # live: a submission and a decision made while both streams are open
    second = submitted_id(live, article, body="During the stream")
    assert approve(live, tokens.moderator, first).status_code == 200
    new = services.queries.head() - head
    assert new == 3  # submitted, screened, approved
    seen = moderator.events(new)
    assert [e["position"] for e in seen] == list(range(head + 1, head + new + 1))
    assert seen == feed(live, tokens.moderator, after=head)
    assert any(e["data"].get("body") == "During the stream" for e in seen)
    assert seen[-1]["type"] == "comment.approved"
    hidden = auditor.events(new)
    assert hidden == feed(live, tokens.auditor, after=head)
    assert "During the stream" not in json.dumps(hidden) and second in json.dumps(hidden)
    moderator.close()
    auditor.close()
    time.sleep(0.05)
    assert services.streams.open_streams == 0


def test_stream_resumes_from_last_event_id_or_after_and_filters_types(live, article, tokens,
                                                                      services):
    for n in range(3):
        submitted_id(live, article, body=f"Comment {n}")
    everything = feed(live, tokens.auditor)
    resumed = stream(live, tokens.auditor, headers={"Last-Event-ID": "3"}, after=1)
    assert resumed.events(len(everything) - 3) == everything[3:]
    resumed.close()
    after = stream(live, tokens.auditor, after=5)
    assert after.events(len(everything) - 5) == everything[5:]
    after.close()
    typed = stream(live, tokens.auditor, type="comment.submitted")
    submitted = [e for e in everything if e["type"] == "comment.submitted"]
    assert typed.events(len(submitted)) == submitted
    typed.close()

    assert_error(live.get("/v1/events/stream", headers=bearer(tokens.auditor,
                 **{"Last-Event-ID": "x1"})), 400, "invalid_last_event_id")
    assert_error(live.get("/v1/events/stream?after=-1", headers=bearer(tokens.auditor)),
                 422, "validation_failed")
    assert_error(live.get("/v1/events/stream?type=comment.nope",
                          headers=bearer(tokens.auditor)), 422, "validation_failed")
    assert_error(live.get("/v1/events/stream"), 401, "unauthenticated")


def test_idle_streams_beat_end_on_time_and_are_capped_per_process(live, article, tokens,
                                                                  services):
    submitted_id(live, article)
    head = services.queries.head()
    readers = [stream(live, tokens.auditor, after=head) for _ in range(3)]
    body = assert_error(live.get("/v1/events/stream", headers=bearer(tokens.auditor)),
                        503, "too_many_streams")
    assert body and "Retry-After" in live.get(
        "/v1/events/stream", headers=bearer(tokens.auditor)).headers
    started = time.monotonic()
    chunks = list(readers[0].chunks)  # idle to the end: heartbeats only, then it ends
    assert 3.5 < time.monotonic() - started < 6
    assert all(c.startswith(b": heartbeat") for c in chunks[1:]) and len(chunks) >= 5
    for reader in readers:
        reader.close()
    assert services.streams.open_streams == 0
    again = stream(live, tokens.auditor, after=head)
    submitted_id(live, article)
    assert [e["position"] for e in again.events(2)] == [head + 1, head + 2]
    again.close()


def test_many_concurrent_streams_each_receive_every_event_in_order(services, article):
    hub = StreamHub(services.queries.feed, services.queries.head, poll_seconds=0.02,
                    max_open=50)
    from service.application.commands import Context, SubmitComment

    start = services.queries.head()
    total = 40
    received: list[list[int]] = [[] for _ in range(20)]

    def follow(index: int) -> None:
        events = hub.open(after=start, personal=index % 2 == 0, types=None,
                          heartbeat_seconds=5, max_seconds=30)
        try:
            for event in events:
                received[index].append(event["position"])
                if event["position"] >= start + total * 2:
                    return
        finally:
            events.close()

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for n in range(total):
        services.moderation.submit_comment(SubmitComment(
            article_id=article, author_name="Reader", body=f"Live comment {n}"), Context())
        if n % 10 == 0:
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    hub.stop()
    expected = list(range(start + 1, start + total * 2 + 1))  # submitted + screened each
    assert all(r == expected for r in received), [len(r) for r in received]
    assert hub.open_streams == 0


def test_an_erasure_empties_the_buffer_so_a_late_stream_never_sees_the_text(
        live, article, tokens, services):
    start = services.queries.head()
    first = stream(live, tokens.moderator, after=start)  # keeps the personal view buffered
    comment = submitted_id(live, article, body="Secret words", name="Nour",
                           email="nour@example.org")
    seen = first.events(2)
    assert seen[0]["data"]["body"] == "Secret words"
    author = services.queries.comment(comment)["author_id"]
    response = live.post(f"/v1/authors/{author}/erasure", json={"note": "ticket 7"},
                         headers=bearer(tokens.admin))
    assert response.status_code == 200, response.get_json()
    assert first.events(1, timeout=5)[0]["type"] == "author.erased"
    late = stream(live, tokens.moderator, after=start)  # replays what the buffer held
    replay = late.events(3)
    assert [e["type"] for e in replay] == ["comment.submitted", "comment.screened",
                                           "author.erased"]
    assert "Secret words" not in json.dumps(replay) and "nour@" not in json.dumps(replay)
    first.close()
    late.close()


def test_stopping_the_hub_ends_its_open_streams_at_once(services):
    hub = StreamHub(services.queries.feed, services.queries.head, poll_seconds=0.05,
                    max_open=5)
    stream = hub.open(after=services.queries.head(), personal=False, types=None,
                      heartbeat_seconds=60, max_seconds=60)
    done = threading.Event()
    threading.Thread(target=lambda: (list(stream), done.set()), daemon=True).start()
    time.sleep(0.2)
    started = time.monotonic()
    hub.stop()
    assert done.wait(5) and time.monotonic() - started < 1
    assert hub.open_streams == 0


def test_claims_reach_open_streams_as_they_are_taken_released_and_expire(
        live, article, tokens, services, clock):
    """claims=true: the live claims first, then each claim, release and expiry, as
    `event: claim` messages without ids; only moderators and admins, only when asked."""
    first, second = submitted_id(live, article), submitted_id(live, article)
    taken = live.post(f"/v1/comments/{first}/claim", headers=bearer(tokens.moderator2))
    assert taken.status_code == 200, taken.get_json()
    watcher = stream(live, tokens.moderator, claims="true",
                     after=services.queries.head())
    [start] = watcher.claims_until(1)
    assert start == {"state": "claimed", "comment_id": first, "moderator_id": "omar",
                     "claimed_at": taken.get_json()["claimed_at"],
                     "expires_at": taken.get_json()["expires_at"]}
    plain = stream(live, tokens.admin, after=services.queries.head())
    auditor = stream(live, tokens.auditor, after=services.queries.head())

    assert live.post(f"/v1/comments/{second}/claim",
                     headers=bearer(tokens.moderator)).status_code == 200
    assert watcher.claims_until(2)[1]["state"] == "claimed"
    assert watcher.claims[1]["comment_id"] == second
    assert watcher.claims[1]["moderator_id"] == "maya"
    assert live.delete(f"/v1/comments/{first}/claim",
                       headers=bearer(tokens.moderator2)).status_code == 204
    assert watcher.claims_until(3)[2]["state"] == "released"
    assert watcher.claims[2]["comment_id"] == first
    clock.advance(seconds=services.settings.claim_seconds + 1)
    assert watcher.claims_until(4)[3]["state"] == "expired"
    assert watcher.claims[3]["comment_id"] == second
    assert len(watcher.claims) == 4  # nothing twice

    # the log still streams beside them, and the others saw no claim
    third = submitted_id(live, article)
    assert third in json.dumps(watcher.events(2))
    assert third in json.dumps(plain.events(2)) and plain.claims == []
    assert third in json.dumps(auditor.events(2)) and auditor.claims == []
    for reader in (watcher, plain, auditor):
        reader.close()


def administration(services) -> None:
    """One of each kind of admin work, through the commands that do it."""
    from service.application.commands import Actor, Context
    from service.webhooks.admin import Webhooks

    admin = Context(Actor("root", "admin"))
    info, _ = services.access.create_token(name="lena", role="auditor", ctx=admin)
    services.access.revoke_token(info.id, ctx=admin)
    hooks = Webhooks(services.engine, replace(services.settings, webhook_allow_loopback=True),
                     services.clock, services.store, services.codec_for,
                     unit_of_work=services.moderation.unit_of_work)
    hooks.create_endpoint("http://127.0.0.1:9/hook", metadata=admin.metadata())
    author = services.privacy.lookup("nour@example.org", admin)["author_id"]
    services.privacy.export(author, admin)


ADMIN_WORK = {"token.created", "token.revoked", "webhook_endpoint.created",
              "author.looked_up", "author.exported"}


def test_moderators_never_receive_the_services_administration(live, article, tokens,
                                                               services):
    """Who holds tokens, where webhooks point and an admin's look-ups of a data subject are
    for admins and auditors: a moderator's feed and stream leave them out, in order."""
    submitted_id(live, article, name="Nour", email="nour@example.org")
    administration(services)
    submitted_id(live, article, body="After the administration")
    everything = feed(live, tokens.admin)
    assert {e["type"] for e in everything} >= ADMIN_WORK
    assert {e["type"] for e in feed(live, tokens.auditor)} == {e["type"] for e in everything}
    visible = [e for e in everything if e["type"] not in ADMIN_WORK]
    assert feed(live, tokens.moderator) == visible
    # a page counts what the moderator receives: the next one starts after its last event
    first = live.get("/v1/events", query_string={"limit": 3},
                     headers=bearer(tokens.moderator)).get_json()
    assert first["items"] == visible[:3] and first["next_after"] == visible[2]["position"]
    assert feed(live, tokens.moderator, type="token.created") == []

    moderator = stream(live, tokens.moderator)
    assert moderator.events(len(visible)) == visible
    moderator.close()
    admin = stream(live, tokens.admin)
    assert admin.events(len(everything)) == everything
    admin.close()
    auditor = stream(live, tokens.auditor, type="token.created")
    assert [e["type"] for e in auditor.events(1)] == ["token.created"]
    auditor.close()


def test_an_auditor_asking_for_claims_is_refused_in_the_one_error_format(live, tokens):
    """Claims are for moderators and admins (the parameter's documentation): an auditor
    asking for them is told so, instead of a stream silently without them; a feed page
    cannot carry claims at all (they are not in the log), so it takes no such parameter."""
    refused = live.get("/v1/events/stream?claims=true", headers=bearer(tokens.auditor))
    body = assert_error(refused, 403, "forbidden")
    assert body["errors"] == {"claims": ["Moderators and admins only."]}
    stream(live, tokens.auditor, claims="false").close()  # not asking is no refusal
    for token in (tokens.auditor, tokens.moderator):
        page = live.get("/v1/events?claims=true", headers=bearer(token))
        body = assert_error(page, 422, "validation_failed")
        assert body["errors"] == {"claims": ["Unknown field."]}
