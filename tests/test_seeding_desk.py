"""The demo seed shows every desk state: a closed article, reported comments (one set
dismissed), a suspended and a banned author with their history; seeding again adds nothing."""

from __future__ import annotations

from service.seeding import DEFAULT_SEED, load_seed, seed

DATA = load_seed(DEFAULT_SEED)


def test_the_seed_shows_every_desk_state_once(services):
    seed(services, DATA)
    head = services.queries.head()
    closed = services.queries.article(DATA["desk"]["closed_article"]["id"])
    assert closed["closed"] and closed["closed_message"]
    reported, total = services.queries.reported()
    assert total == 2
    assert reported[0]["open_reports"] == 3 and reported[0]["reports"] == {
        "personal_attack": 2, "off_topic": 1}
    # the most reported comment is the suspended author's (c11)
    suspended = services.authors.profile(reported[0]["author_id"])
    assert suspended["sanction"]["type"] == "suspended"
    assert [h["type"] for h in suspended["sanction_history"]] == ["warned", "suspended"]
    banned_ids = {e["data"]["author_id"] for e in services.queries.feed(
        types=["author.banned"], limit=10)}
    [banned] = banned_ids
    profile = services.authors.profile(banned)
    assert profile["sanction"]["type"] == "banned" and len(profile["notes"]) == 1
    again = seed(services, DATA)
    assert (again.comments_created, again.decisions_made) == (0, 0)
    assert services.queries.head() == head
    assert services.runner.rebuild(services.engine, swap=False).identical
