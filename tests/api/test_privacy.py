"""A data subject's rights over HTTP: look up by e-mail, export, erase (admins only)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from service.application.commands import Actor, Context
from service.domain.events import AuthorErased, AuthorExported, AuthorLookedUp

from .helpers import approve, assert_error, bearer, head, reject, submitted_id

NAME, EMAIL, ADDRESS = "Zhilwan Mark7Q", "zhilwan.mark7q@example.org", "198.51.100.77"
BODY = "The convoy left at dawn, mark7q-body, write to leak.mark7q@example.net"
MARKERS = ("mark7q", "Mark7Q", "198.51.100.77")


def _submit(client, article, body=BODY, email=EMAIL, name=NAME):  # noqa: ANN001
    response = client.post(f"/v1/articles/{article}/comments",
                           json={"author": {"name": name, "email": email}, "body": body},
                           environ_base={"REMOTE_ADDR": ADDRESS})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def person(client, tokens, article, clock):  # noqa: ANN001
    """Three comments by one person (one approved, one rejected, one pending), one by
    someone else; returns the person's comment ids, oldest first."""
    ids = []
    for body in (BODY, "Second thought mark7q", "Third, still pending"):
        ids.append(_submit(client, article, body=body))
        clock.advance(seconds=1)
    assert approve(client, tokens.moderator, ids[0]).status_code == 200
    assert reject(client, tokens.moderator, ids[1], ["off_topic"],
                  note="Not about the article").status_code == 200
    other = submitted_id(client, article, body="Someone else entirely", name="Other",
                         email="other@example.org")
    assert approve(client, tokens.moderator, other).status_code == 200
    return ids


def _lookup(client, token, email=EMAIL):  # noqa: ANN001
    return client.post("/v1/authors/lookup", json={"email": email}, headers=bearer(token))


def _author(client, tokens) -> str:  # noqa: ANN001
    response = _lookup(client, tokens.admin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["author_id"]


def _erase(client, token, author_id, note="ticket 4411"):  # noqa: ANN001
    body = {} if note is None else {"note": note}
    return client.post(f"/v1/authors/{author_id}/erasure", json=body, headers=bearer(token))


def _events_of(services, author_id):  # noqa: ANN001
    return [e for e in services.queries.feed(after=0, limit=1000, personal=True)
            if e["stream_id"] == author_id]


def test_lookup_finds_the_author_of_an_email_and_is_recorded(client, tokens, person,
                                                            services):
    author_id = _author(client, tokens)
    assert author_id.startswith("author-")
    state = client.get(f"/v1/comments/{person[0]}", headers=bearer(tokens.moderator))
    assert state.get_json()["author_id"] == author_id
    # same address in another case and with spaces: same person
    again = _lookup(client, tokens.admin, f"  {EMAIL.upper()} ")
    assert again.get_json() == {"author_id": author_id, "erased": False, "comments": 3}
    [first, second] = _events_of(services, author_id)
    assert first["type"] == AuthorLookedUp.TYPE
    assert first["metadata"]["actor"] == {"id": "root", "role": "admin"}
    assert EMAIL not in json.dumps(first)


def test_lookup_refuses_unknown_malformed_and_non_admins(client, tokens, person, services):
    before = head(services)
    assert_error(_lookup(client, tokens.admin, "nobody@example.org"), 404, "author_not_found")
    assert_error(_lookup(client, tokens.admin, "not-an-address"), 422, "invalid_input")
    assert_error(_lookup(client, tokens.admin, ""), 422, "invalid_input")
    bad = client.post("/v1/authors/lookup", json={"mail": EMAIL}, headers=bearer(tokens.admin))
    assert bad.status_code == 422
    for token in (tokens.moderator, tokens.auditor):
        assert_error(_lookup(client, token), 403, "forbidden")
    assert _lookup(client, None).status_code == 401  # type: ignore[arg-type]
    assert head(services) == before


def test_export_holds_everything_about_the_person(client, tokens, person, services):
    author_id = _author(client, tokens)
    response = client.get(f"/v1/authors/{author_id}/export", headers=bearer(tokens.admin))
    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    assert document["author_id"] == author_id
    assert document["names"] == [NAME]
    assert document["emails"] == [EMAIL]
    assert document["network_addresses"] == [ADDRESS]
    assert document["erased"] is False
    by_id = {c["comment_id"]: c for c in document["comments"]}
    assert list(by_id) == person
    assert [by_id[i]["status"] for i in person] == ["approved", "rejected", "pending"]
    assert by_id[person[0]]["body"] == BODY
    assert by_id[person[0]]["author_email"] == EMAIL
    [rejection] = by_id[person[1]]["decisions"]
    assert rejection["reasons"] == ["off_topic"]
    assert rejection["note"] == "Not about the article"
    assert rejection["moderator_id"] == "maya"
    assert any(f["code"] == "email_address" and "leak.mark7q@example.net" in (f["evidence"] or "")
               for f in by_id[person[0]]["flags"])
    assert "Someone else" not in response.get_data(as_text=True)
    assert [a["type"] for a in document["activity"]] == [AuthorLookedUp.TYPE,
                                                         AuthorExported.TYPE]
    assert document["activity"][-1]["actor"] == "root"


def test_export_and_erasure_refuse_unknown_authors_and_non_admins(client, tokens, person,
                                                                 services):
    author_id = _author(client, tokens)
    before = head(services)
    for path, code in (("author-" + "0" * 32, "author_not_found"),
                       ("not-an-author", "not_found"), ("author-XYZ", "not_found")):
        assert_error(client.get(f"/v1/authors/{path}/export", headers=bearer(tokens.admin)),
                     404, code)
        assert_error(_erase(client, tokens.admin, path), 404, code)
    for token in (tokens.moderator, tokens.auditor):
        assert_error(client.get(f"/v1/authors/{author_id}/export", headers=bearer(token)),
                     403, "forbidden")
        assert_error(_erase(client, token, author_id), 403, "forbidden")
    assert_error(_erase(client, tokens.admin, author_id, note=None), 422, "note_required")
    assert_error(_erase(client, tokens.admin, author_id, note="   "), 422, "note_required")
    assert_error(_erase(client, tokens.admin, author_id, note="x" * 2001), 422,
                 "invalid_input")
    assert_error(_erase(client, tokens.admin, author_id, note=7), 422, "validation_failed")
    assert head(services) == before


def test_erasure_removes_the_person_everywhere_and_keeps_the_moderation_record(
        client, tokens, person, services, article):
    author_id = _author(client, tokens)
    response = _erase(client, tokens.admin, author_id)
    assert response.status_code == 200, response.get_json()
    erasure = response.get_json()
    assert erasure["replayed"] is False
    assert erasure["erased_by"] == "root"
    assert erasure["note"] == "ticket 4411"
    assert erasure["comment_ids"] == person

    mod = bearer(tokens.moderator)
    for comment_id, status in zip(person, ["approved", "rejected", "pending"], strict=True):
        state = client.get(f"/v1/comments/{comment_id}", headers=mod).get_json()
        assert state["status"] == status
        assert state["erased"] is True
        assert (state["author_name"], state["author_email"], state["body"]) == (None,) * 3
        assert all(f["evidence"] is None for f in state["flags"])
        assert state["author_id"] == author_id
        past = client.get(f"/v1/comments/{comment_id}?at_position=1000", headers=mod)
        assert past.get_json()["erased"] is True and past.get_json()["body"] is None
        history = client.get(f"/v1/comments/{comment_id}/events", headers=mod).get_json()
        submitted = history["items"][0]["data"]
        assert submitted["erased"] is True and submitted["body"] is None
    rejected = client.get(f"/v1/comments/{person[1]}", headers=mod).get_json()
    assert rejected["reasons"] == ["off_topic"] and rejected["decided_by"] == "maya"

    queue = client.get("/v1/queue", headers=mod).get_json()["items"]
    [waiting] = [c for c in queue if c["id"] == person[2]]
    assert waiting["erased"] is True and waiting["body"] is None

    thread = client.get(f"/v1/articles/{article}/comments").get_json()["items"]
    [placeholder] = [c for c in thread if c["id"] == person[0]]
    assert placeholder["erased"] is True
    assert placeholder["author_name"] is None and placeholder["body"] is None
    assert any(c["erased"] is False and c["body"] == "Someone else entirely" for c in thread)

    decisions = client.get("/v1/audit/decisions", headers=bearer(tokens.auditor)).get_json()
    mine = [d for d in decisions["items"] if d["comment_id"] in person]
    assert len(mine) == 2 and all(d["erased"] for d in mine)
    assert [d["erased"] for d in decisions["items"] if d["comment_id"] not in person] == [False]

    for token in (tokens.auditor, tokens.admin):
        feed = client.get("/v1/events?limit=1000", headers=bearer(token)).get_data(True)
        assert not any(m in feed for m in MARKERS), token
    auditor_feed = client.get("/v1/events?type=comment.submitted",
                              headers=bearer(tokens.auditor)).get_json()["items"]
    assert {e["data"]["comment_id"]: e["data"]["erased"] for e in auditor_feed} == {
        **dict.fromkeys(person, True),
        **{e["data"]["comment_id"]: False for e in auditor_feed
           if e["data"]["comment_id"] not in person}}
    [erased_event] = client.get("/v1/events?type=author.erased",
                                headers=bearer(tokens.auditor)).get_json()["items"]
    assert erased_event["metadata"]["actor"] == {"id": "root", "role": "admin"}
    assert erased_event["data"]["note"] == "ticket 4411"

    export = client.get(f"/v1/authors/{author_id}/export", headers=bearer(tokens.admin))
    document = export.get_json()
    assert document["erased"] is True
    assert document["names"] == document["emails"] == document["network_addresses"] == []
    assert [c["status"] for c in document["comments"]] == ["approved", "rejected", "pending"]
    assert all(c["erased"] and c["body"] is None for c in document["comments"])
    assert document["comments"][1]["decisions"][0]["reasons"] == ["off_topic"]
    assert not any(m in export.get_data(as_text=True) for m in MARKERS)

    report = services.runner.rebuild(services.engine, swap=False)
    assert report.identical, report.differences


def test_erasing_again_answers_the_original_and_appends_nothing(client, tokens, person,
                                                                services):
    author_id = _author(client, tokens)
    first = _erase(client, tokens.admin, author_id).get_json()
    before = head(services)
    again = _erase(client, tokens.admin, author_id, note="a second ticket")
    assert again.status_code == 200
    assert again.get_json() == {**first, "replayed": True}
    assert head(services) == before
    assert [e["type"] for e in _events_of(services, author_id)].count(AuthorErased.TYPE) == 1
    assert _lookup(client, tokens.admin).get_json()["erased"] is True


def test_a_person_who_comes_back_after_erasure_is_a_new_start(client, tokens, person,
                                                               services, article, clock):
    author_id = _author(client, tokens)
    _erase(client, tokens.admin, author_id)
    clock.advance(seconds=1)
    later = _submit(client, article, body="Back again with a new comment")
    state = client.get(f"/v1/comments/{later}", headers=bearer(tokens.moderator)).get_json()
    assert state["author_id"] == author_id and state["body"] == "Back again with a new comment"
    old = client.get(f"/v1/comments/{person[0]}/events",
                     headers=bearer(tokens.moderator)).get_json()
    assert old["items"][0]["data"]["body"] is None  # the new key does not open the old
    export = client.get(f"/v1/authors/{author_id}/export", headers=bearer(tokens.admin))
    assert [c["erased"] for c in export.get_json()["comments"]] == [True, True, True, False]
    second = _erase(client, tokens.admin, author_id, note="ticket 4412").get_json()
    assert second["replayed"] is False and second["comment_ids"] == [*person, later]
    state = client.get(f"/v1/comments/{later}", headers=bearer(tokens.moderator)).get_json()
    assert state["erased"] is True and state["body"] is None
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_anonymous_comments_can_be_erased_by_author_id(client, tokens, article, services):
    comment_id = submitted_id(client, article, body="No e-mail given, mark7q", name="Anon")
    author_id = client.get(f"/v1/comments/{comment_id}",
                           headers=bearer(tokens.moderator)).get_json()["author_id"]
    assert _erase(client, tokens.admin, author_id).status_code == 200
    state = client.get(f"/v1/comments/{comment_id}", headers=bearer(tokens.moderator))
    assert state.get_json()["body"] is None and state.get_json()["erased"] is True


def test_screening_evidence_is_sealed_and_only_moderators_see_it(client, tokens, person,
                                                                 services):
    def screened(token):  # noqa: ANN001, ANN202
        items = client.get("/v1/events?type=comment.screened",
                           headers=bearer(token)).get_json()["items"]
        return next(e for e in items if e["data"]["comment_id"] == person[0])

    for_auditor = screened(tokens.auditor)
    assert {f["code"] for f in for_auditor["data"]["flags"]} >= {"email_address"}
    assert all(set(f) == {"code", "guideline"} for f in for_auditor["data"]["flags"])
    assert "mark7q" not in json.dumps(for_auditor)
    for_moderator = screened(tokens.moderator)
    assert "leak.mark7q@example.net" in [f["evidence"] for f in for_moderator["data"]["flags"]]
    with services.engine.connect() as conn:
        stored = services.store.get(conn, for_auditor["event_id"])
    assert "mark7q" not in json.dumps(stored.data)
    assert stored.data["evidence"]["alg"] == "A256GCM"

    _erase(client, tokens.admin, _author(client, tokens))
    after = screened(tokens.moderator)
    assert [f["evidence"] for f in after["data"]["flags"]] == [None] * len(after["data"]["flags"])
    assert {f["code"] for f in after["data"]["flags"]} >= {"email_address"}


def test_network_addresses_become_unreadable_after_the_retention_period(
        client, tokens, article, services, clock):
    old = _submit(client, article, body="Written long ago")
    clock.advance(days=20)
    recent = _submit(client, article, body="Written lately")
    author_id = _author(client, tokens)
    clock.advance(days=11)  # the first is 31 days old, the second 11
    privacy = services.privacy
    before = head(services)
    swept = privacy.sweep_addresses(Context(Actor("cron", "admin")))
    assert swept["days"] == [(clock.now.date() - timedelta(days=31)).isoformat()]
    assert head(services) == before + 1
    [event] = services.queries.feed(types=["addresses.swept"], personal=True)
    assert event["metadata"]["actor"] == {"id": "cron", "role": "admin"}
    document = client.get(f"/v1/authors/{author_id}/export",
                          headers=bearer(tokens.admin)).get_json()
    by_id = {c["comment_id"]: c for c in document["comments"]}
    assert by_id[old]["network_address"] is None
    assert by_id[old]["body"] == "Written long ago"  # only the address is gone
    assert by_id[recent]["network_address"] == ADDRESS
    assert document["network_addresses"] == [ADDRESS]
    history = client.get(f"/v1/comments/{old}/events", headers=bearer(tokens.moderator))
    assert history.get_json()["items"][0]["data"]["network_address"] is None
    again = privacy.sweep_addresses(Context(Actor("cron", "admin")))
    assert again["days"] == [] and head(services) == before + 1 + 1  # the export's event
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_the_webhook_dispatcher_runs_the_address_sweep(client, tokens, article, services,
                                                      clock):
    comment_id = _submit(client, article, body="Old enough")
    clock.advance(days=31)
    services.webhooks.dispatcher().run(once=True)
    [swept] = services.queries.feed(types=["addresses.swept"], personal=True)
    assert swept["metadata"]["actor"] == {"id": "dispatcher", "role": "system"}
    history = client.get(f"/v1/comments/{comment_id}/events", headers=bearer(tokens.moderator))
    assert history.get_json()["items"][0]["data"]["network_address"] is None


def test_the_lookup_path_is_not_an_author(client, tokens):
    """OPTIONS advertised GET on /v1/authors/lookup because an author route took 'lookup'
    for an author id; the look-up takes POST only."""
    response = client.options("/v1/authors/lookup", headers=bearer(tokens.admin))
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    assert_error(client.get("/v1/authors/lookup", headers=bearer(tokens.admin)), 405,
                 "method_not_allowed")
