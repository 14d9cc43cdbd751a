"""The event store's contract, run against SQLite and the real PostgreSQL alike."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from service.db import deferring, read_transaction, write_transaction
from service.eventstore import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    DuplicateEvent,
    EventStore,
    NewEvent,
    WrongExpectedVersion,
    chain,
)


def ev(n: int = 0, type_: str = "test.happened") -> NewEvent:
    return NewEvent(type_, {"n": n, "text": "نص عربي 🙂"}, {"actor": {"id": "t", "role": "test"}})


def append(services, stream, events, expected):
    with write_transaction(services.engine) as conn:
        return services.store.append(conn, stream, events, expected)


def read_all(services, **kw):
    with read_transaction(services.engine) as conn:
        return services.store.read_all(conn, **kw)


def test_append_and_read_back_exactly(services):
    recorded = append(services, "s-1", [ev(1), ev(2)], NO_STREAM)
    assert [(r.position, r.version) for r in recorded] == [(1, 1), (2, 2)]
    with read_transaction(services.engine) as conn:
        back = services.store.read_stream(conn, "s-1")
    assert back == recorded
    assert back[0].data == {"n": 1, "text": "نص عربي 🙂"}
    assert back[0].recorded_at.tzinfo is not None
    assert back[0].metadata["actor"]["role"] == "test"


@pytest.mark.parametrize(
    ("expected", "ok"),
    [(NO_STREAM, False), (STREAM_EXISTS, True), (ANY, True), (2, True), (1, False), (3, False)],
)
def test_expected_version_semantics(services, expected, ok):
    append(services, "s-1", [ev(1), ev(2)], NO_STREAM)
    if ok:
        assert append(services, "s-1", [ev(3)], expected)[0].version == 3
    else:
        with pytest.raises(WrongExpectedVersion) as info:
            append(services, "s-1", [ev(3)], expected)
        assert info.value.actual == 2


def test_stream_exists_refuses_a_new_stream(services):
    with pytest.raises(WrongExpectedVersion) as info:
        append(services, "s-new", [ev()], STREAM_EXISTS)
    assert info.value.actual == 0


def test_a_refused_append_burns_no_position(services):
    append(services, "s-1", [ev(1)], NO_STREAM)
    with pytest.raises(WrongExpectedVersion):
        append(services, "s-1", [ev(2)], NO_STREAM)
    nxt = append(services, "s-2", [ev(3)], NO_STREAM)
    assert nxt[0].position == 2
    assert [r.position for r in read_all(services)] == [1, 2]


def test_a_rolled_back_transaction_leaves_no_hole(services):
    append(services, "s-1", [ev(1)], NO_STREAM)
    with pytest.raises(RuntimeError), write_transaction(services.engine) as conn:
        services.store.append(conn, "s-2", [ev(2), ev(3)], NO_STREAM)
        raise RuntimeError("crash after append, before commit")
    assert append(services, "s-3", [ev(4)], NO_STREAM)[0].position == 2


def test_duplicate_event_id_is_refused_not_ignored(services):
    event = ev(1)
    append(services, "s-1", [event], NO_STREAM)
    with pytest.raises(DuplicateEvent):
        append(services, "s-2", [event], NO_STREAM)
    assert len(read_all(services)) == 1


@pytest.mark.parametrize("statement", [
    "UPDATE events SET type = 'tampered'",
    "DELETE FROM events",
    "UPDATE events SET data = '{}' WHERE position = 1",
])
def test_the_database_refuses_to_change_or_delete_events(services, statement):
    append(services, "s-1", [ev(1)], NO_STREAM)
    with pytest.raises(DBAPIError, match="append-only"), services.engine.begin() as conn:
        conn.exec_driver_sql(statement)
    assert read_all(services)[0].type == "test.happened"


@pytest.mark.postgres
def test_postgres_refuses_truncate(pg_services):
    append(pg_services, "s-1", [ev(1)], NO_STREAM)
    with pytest.raises(DBAPIError, match="append-only"), pg_services.engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE events")


def test_feed_pages_filters_and_prefixes(services):
    append(services, "comment-1", [ev(1, "comment.submitted"), ev(2, "comment.approved")],
           NO_STREAM)
    append(services, "article-1", [ev(3, "article.registered")], NO_STREAM)
    append(services, "comment_x", [ev(4, "comment.submitted")], NO_STREAM)
    assert [r.position for r in read_all(services, after=1, limit=2)] == [2, 3]
    only = read_all(services, types=["comment.submitted"])
    assert [r.position for r in only] == [1, 4]
    # the prefix is literal: '_' is not a LIKE wildcard
    assert [r.stream_id for r in read_all(services, stream_prefix="comment-")] == [
        "comment-1", "comment-1"]
    assert [r.position for r in read_all(services, stream_prefix="comment_")] == [4]
    assert read_all(services, after=4) == []


def test_read_stream_up_to_a_version_or_position(services):
    append(services, "s-1", [ev(1), ev(2)], NO_STREAM)
    append(services, "s-2", [ev(3)], NO_STREAM)
    append(services, "s-1", [ev(4)], 2)
    with read_transaction(services.engine) as conn:
        assert [r.version for r in services.store.read_stream(conn, "s-1", to_version=2)] == [
            1, 2]
        assert [r.position for r in services.store.read_stream(conn, "s-1", to_position=3)] == [
            1, 2]
        assert services.store.read_stream(conn, "nothing") == []


def test_recorded_at_never_goes_backwards_and_maps_to_positions(services, clock):
    t0 = clock.now
    append(services, "s-1", [ev(1)], NO_STREAM)
    clock.advance(minutes=5)
    append(services, "s-1", [ev(2)], 1)
    clock.now = t0 - timedelta(hours=1)  # a server whose clock jumped back
    third = append(services, "s-1", [ev(3)], 2)[0]
    assert third.recorded_at == t0 + timedelta(minutes=5)
    with read_transaction(services.engine) as conn:
        as_of = services.store.read_stream(conn, "s-1", as_of=t0 + timedelta(minutes=1))
        assert [r.version for r in as_of] == [1]
        assert services.store.position_at(conn, t0 - timedelta(seconds=1)) == 0
        assert services.store.position_at(conn, t0) == 1
        assert services.store.position_at(conn, t0 + timedelta(minutes=5)) == 3


def test_iter_all_streams_the_whole_log_in_order(services):
    for i in range(25):
        append(services, f"s-{i % 4}", [ev(i)], ANY)
    with read_transaction(services.engine) as conn:
        positions = [r.position for r in services.store.iter_all(conn, batch_size=7)]
    assert positions == list(range(1, 26))


def test_event_ids_are_uuids_and_unique(services):
    recorded = append(services, "s-1", [ev(i) for i in range(5)], NO_STREAM)
    ids = {r.event_id for r in recorded}
    assert len(ids) == 5
    assert all(uuid.UUID(i) for i in ids)
    with read_transaction(services.engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 5


def test_stream_exists_accepts_a_stream_of_one_event(services):
    append(services, "s-1", [ev(1)], NO_STREAM)
    assert append(services, "s-1", [ev(2)], STREAM_EXISTS)[0].version == 2


def test_head_and_lock_head_name_the_last_position(services):
    with read_transaction(services.engine) as conn:
        assert services.store.head(conn) == 0
    append(services, "s-1", [ev(1), ev(2)], NO_STREAM)
    append(services, "s-2", [ev(3)], NO_STREAM)
    with read_transaction(services.engine) as conn:
        assert services.store.head(conn) == 3
    with write_transaction(services.engine) as conn:
        assert services.store.lock_head(conn) == 3
    # holding the lock moves nothing: the next append takes the next position
    assert append(services, "s-3", [ev(4)], NO_STREAM)[0].position == 4


def test_to_position_includes_exactly_the_position_named(services):
    append(services, "s-1", [ev(1)], NO_STREAM)
    append(services, "s-2", [ev(2)], NO_STREAM)
    append(services, "s-1", [ev(3)], 1)
    with read_transaction(services.engine) as conn:
        store = services.store
        assert [r.position for r in store.read_stream(conn, "s-1", to_position=3)] == [1, 3]
        assert [r.position for r in store.read_stream(conn, "s-1", to_position=2)] == [1]
        assert [r.version for r in store.read_stream(conn, "s-1", to_version=1)] == [1]
        assert [r.position for r in store.read_all(conn, to_position=2)] == [1, 2]
        assert [r.position for r in store.read_all(conn, after=1, to_position=1)] == []
        assert [r.position for r in store.read_all(conn, after=1, limit=1)] == [2]
        assert [r.position for r in store.iter_all(conn, to_position=2, batch_size=1)] == [1, 2]


def test_as_of_includes_an_event_recorded_at_exactly_that_moment(services, clock):
    t0 = clock.now
    append(services, "s-1", [ev(1)], NO_STREAM)
    clock.advance(minutes=1)
    append(services, "s-1", [ev(2)], 1)
    with read_transaction(services.engine) as conn:
        store = services.store
        assert [r.version for r in store.read_stream(conn, "s-1", as_of=t0)] == [1]
        assert store.read_stream(conn, "s-1", as_of=t0 - timedelta(microseconds=1)) == []
        assert [r.version for r in store.read_stream(
            conn, "s-1", as_of=t0 + timedelta(minutes=1))] == [1, 2]


def test_appending_nothing_records_nothing(services):
    with write_transaction(services.engine) as conn:
        assert services.store.append(conn, "s-1", [], NO_STREAM) == []
    with read_transaction(services.engine) as conn:
        assert services.store.head(conn) == 0


def test_a_version_conflict_names_the_actual_version_after_a_race(services):
    append(services, "s-1", [ev(1)], NO_STREAM)
    with pytest.raises(WrongExpectedVersion) as info:
        append(services, "s-1", [ev(2)], NO_STREAM)
    assert (info.value.expected, info.value.actual) == (NO_STREAM, 1)


def test_reads_by_id_by_time_window_and_streams_still_open(services, clock):
    t0 = clock.now
    opened = append(services, "s-1", [ev(1, "test.opened")], NO_STREAM)[0]
    clock.advance(minutes=5)
    append(services, "s-2", [ev(2, "test.opened")], NO_STREAM)
    closed = append(services, "s-1", [ev(3, "test.closed")], 1)[0]
    with read_transaction(services.engine) as conn:
        store = services.store
        assert store.get(conn, opened.event_id) == opened
        assert store.get(conn, str(uuid.uuid4())) is None
        window = store.read_window(conn, types=["test.opened"], since=t0,
                                   until=t0 + timedelta(minutes=1))
        assert [r.stream_id for r in window] == ["s-1"]
        later = store.read_window(conn, types=["test.opened", "test.closed"],
                                  since=t0 + timedelta(minutes=1))
        assert [r.position for r in later] == [2, 3]

        def still_open(position):
            return [r.stream_id for r in store.open_as_of(
                conn, opened_by="test.opened", closed_by=["test.closed"], position=position)]

        assert still_open(closed.position - 1) == ["s-1", "s-2"]
        assert still_open(closed.position) == ["s-2"]


def test_reads_for_audit_latest_newest_first_with_hashes_and_counts(services, clock):
    """The reads audit views and exports use, each at its exact boundaries."""
    t0 = clock.now
    store = services.store
    first = append(services, "s-1", [ev(1, "test.a")], NO_STREAM)[0]           # 1 @ t0
    clock.advance(minutes=1)
    append(services, "s-2", [ev(2, "test.b"), ev(3, "test.a")], NO_STREAM)     # 2, 3 @ t0+1
    clock.advance(minutes=1)
    last = append(services, "s-1", [ev(4, "test.a")], 1)[0]                    # 4 @ t0+2
    with read_transaction(services.engine) as conn:
        assert store.last_of_type(conn, "test.a") == last
        assert store.last_of_type(conn, "test.b").position == 2
        assert store.last_of_type(conn, "test.none") is None

        def before(position, limit=10):
            return [r.position for r in store.read_before(
                conn, types=["test.a"], before=position, limit=limit)]

        assert before(None) == [4, 3, 1]
        assert before(4) == [3, 1]  # strictly before
        assert before(None, limit=1) == [4]
        assert before(1) == []

        chained = store.read_chained(conn, types=["test.a", "test.b"], after=1, to_position=3)
        assert [r.position for r, _ in chained] == [2, 3]  # (after, to_position]
        stored = dict(conn.execute(sa.text("SELECT position, hash FROM events")).all())
        assert all(bytes(h) == bytes(stored[r.position]) and len(h) == 32 for r, h in chained)
        assert len(store.read_chained(conn, types=["test.a"], after=0, to_position=4,
                                      limit=2)) == 2

        assert store.position_before(conn, t0) == 0  # strictly before the first event
        assert store.position_before(conn, t0 + timedelta(seconds=1)) == 1
        assert store.position_before(conn, t0 + timedelta(minutes=2)) == 3
        assert store.position_before(conn, t0 + timedelta(hours=1)) == 4

        window = store.read_window(conn, types=["test.a"], since=t0 + timedelta(minutes=1),
                                   until=t0 + timedelta(minutes=2))
        assert [r.position for r in window] == [3]  # since inclusive, until exclusive
        assert [r.position for r in store.read_window(
            conn, types=["test.a"], since=t0, after=1, limit=1)] == [3]

        counts = store.count_by_type(conn, types=["test.a", "test.b", "test.none"])
        assert counts == {"test.a": 3, "test.b": 1, "test.none": 0}
        assert store.count_by_type(conn, types=["test.a"], since=t0 + timedelta(minutes=1),
                                   until=t0 + timedelta(minutes=2)) == {"test.a": 1}
    assert first.position == 1


def test_an_event_without_a_schema_version_is_recorded_as_version_1(services):
    [recorded] = append(services, "s-1", [NewEvent("test.happened", {"n": 1})], NO_STREAM)
    assert recorded.schema_version == 1
    with read_transaction(services.engine) as conn:
        [back] = services.store.read_stream(conn, "s-1")
    assert (back.schema_version, back.metadata) == (1, {})


def test_a_store_without_a_clock_records_the_current_utc_time(services):
    store = EventStore()
    before = datetime.now(UTC)
    with write_transaction(services.engine) as conn:
        [recorded] = store.append(conn, "s-1", [ev(1)], NO_STREAM)
    after = datetime.now(UTC)
    assert before <= recorded.recorded_at <= after
    assert recorded.recorded_at.utcoffset() == timedelta(0)


def test_default_page_sizes(services):
    """Without a limit: 1000 events from read_all and read_chained, 500 from read_window,
    100 from open_as_of."""
    append(services, "s-0", [ev(i, "test.opened") for i in range(1001)], NO_STREAM)
    with read_transaction(services.engine) as conn:
        store = services.store
        assert len(store.read_all(conn)) == 1000
        assert len(store.read_chained(conn, types=["test.opened"], after=0,
                                      to_position=1001)) == 1000
        window = store.read_window(conn, types=["test.opened"], since=services.clock.now)
        assert [r.position for r in window] == list(range(1, 501))
    # each opening event on its own stream, none closed
    with write_transaction(services.engine) as conn:
        for i in range(1, 102):
            services.store.append(conn, f"o-{i}", [ev(i, "test.opened")], NO_STREAM)
    with read_transaction(services.engine) as conn:
        still = services.store.open_as_of(conn, opened_by="test.opened",
                                          closed_by=["test.closed"], position=10**6)
    assert [r.position for r in still] == list(range(1, 101))


def test_open_as_of_pages_after_a_position(services):
    for i in range(1, 5):
        append(services, f"o-{i}", [ev(i, "test.opened")], NO_STREAM)
    append(services, "o-2", [ev(5, "test.closed")], 1)
    with read_transaction(services.engine) as conn:
        def page(after, limit=10):
            return [r.position for r in services.store.open_as_of(
                conn, opened_by="test.opened", closed_by=["test.closed"], position=5,
                after=after, limit=limit)]

        assert page(0) == [1, 3, 4]
        assert page(1) == [3, 4]  # strictly after
        assert page(3) == [4]
        assert page(0, limit=2) == [1, 3]
        assert page(4) == []


def test_every_event_is_chained_to_the_one_before_it(services):
    """Each stored hash links the row to the previous event's hash (the genesis hash for
    the first), across appends of one and several events and across streams."""
    append(services, "s-1", [ev(1)], NO_STREAM)
    append(services, "s-2", [ev(2), ev(3), ev(4)], NO_STREAM)
    append(services, "s-1", [ev(5)], 1)
    append(services, "s-3", [ev(6), ev(7)], NO_STREAM)
    with read_transaction(services.engine) as conn:
        rows = conn.execute(sa.text(
            "SELECT position, event_id, stream_id, version, type, schema_version, data, "
            "metadata, hash FROM events ORDER BY position")).all()
        recorded = {r.position: r for r in services.store.read_all(conn)}
        verified = chain.verify(conn)
    previous = chain.GENESIS
    for row in rows:
        event = recorded[row.position]
        expected = chain.link_row(previous, {
            "position": event.position, "event_id": event.event_id,
            "stream_id": event.stream_id, "version": event.version, "type": event.type,
            "schema_version": event.schema_version, "data": event.data,
            "metadata": event.metadata, "recorded_at": event.recorded_at})
        assert bytes(row.hash) == expected, row.position
        previous = expected
    assert (verified.checked, verified.broken) == (7, None)
    assert verified.head_hash == previous


def test_recorded_time_holds_at_the_latest_when_the_clock_stands_still_or_goes_back(
        services, clock):
    t0 = clock.now
    first = append(services, "s-1", [ev(1)], NO_STREAM)[0]
    same = append(services, "s-1", [ev(2)], 1)[0]  # the same instant
    clock.now = t0 - timedelta(microseconds=1)
    back = append(services, "s-1", [ev(3)], 2)[0]
    clock.now = t0 + timedelta(microseconds=1)
    ahead = append(services, "s-1", [ev(4)], 3)[0]
    assert [e.recorded_at for e in (first, same, back)] == [t0, t0, t0]
    assert ahead.recorded_at == t0 + timedelta(microseconds=1)
    with read_transaction(services.engine) as conn:
        assert [e.recorded_at for e in services.store.read_stream(conn, "s-1")] == [
            t0, t0, t0, t0 + timedelta(microseconds=1)]


@pytest.mark.postgres
def test_held_writes_return_what_is_read_back_and_raise_conflicts(pg_services):
    """An append whose rows are held (DeferredWrites) answers as a direct one, and a lost
    race surfaces as a version conflict when the rows are sent."""
    store = pg_services.store
    with write_transaction(pg_services.engine) as conn:
        writes = deferring(conn)
        recorded = store.append(conn, "s-1", [ev(1), ev(2)], NO_STREAM, writes=writes)
        writes.flush()
    with read_transaction(pg_services.engine) as conn:
        assert store.read_stream(conn, "s-1") == recorded
    assert [(r.position, r.version) for r in recorded] == [(1, 1), (2, 2)]
    with pytest.raises(WrongExpectedVersion) as info, \
            write_transaction(pg_services.engine) as conn:
        writes = deferring(conn)
        store.append(conn, "s-1", [ev(3)], ANY, writes=writes)
        # the first rows are still held, so this append also takes version 3: the unique
        # key refuses it when both are sent
        store.append(conn, "s-1", [ev(4)], ANY, writes=writes)
        writes.flush()
    assert (info.value.expected, info.value.actual) == (ANY, 2)
    with read_transaction(pg_services.engine) as conn:
        assert store.head(conn) == 2


def test_the_feed_leaves_out_excluded_types_before_counting_a_page(services):
    append(services, "s-1", [ev(1, "test.a"), ev(2, "test.hidden"), ev(3, "test.b")],
           NO_STREAM)
    append(services, "s-2", [ev(4, "test.hidden"), ev(5, "test.a")], NO_STREAM)
    kept = read_all(services, exclude_types=["test.hidden"])
    assert [r.position for r in kept] == [1, 3, 5]
    assert [r.position for r in read_all(services, exclude_types=["test.hidden"],
                                         limit=2)] == [1, 3]
    assert [r.position for r in read_all(services, exclude_types={"test.hidden", "test.a"},
                                         after=1)] == [3]
    assert [r.position for r in read_all(services, types=["test.a", "test.hidden"],
                                         exclude_types=["test.hidden"])] == [1, 5]
    assert len(read_all(services, exclude_types=[])) == 5
