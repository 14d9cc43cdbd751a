"""Deferred writes (PostgreSQL): the read-model writes of an append go out in one round
trip, and nothing a caller can observe changes because of it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from service.db import DeferredWrites, deferring, write_transaction
from service.projections.base import checkpoints

pytestmark = pytest.mark.postgres

t = sa.Table("deferred_probe", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("n", sa.Integer, nullable=False), sa.Column("doc", sa.JSON))


@pytest.fixture
def engine(pg_services):
    with write_transaction(pg_services.engine) as conn:
        t.drop(conn, checkfirst=True)
        t.create(conn)
    yield pg_services.engine
    with write_transaction(pg_services.engine) as conn:
        t.drop(conn, checkfirst=True)


def test_writes_are_held_until_an_answer_is_needed(engine):
    with write_transaction(engine) as conn:
        writes = deferring(conn)
        assert isinstance(writes, DeferredWrites)
        first = writes.execute(t.insert(), {"id": 1, "n": 1, "doc": {"a": [1]}})
        writes.execute(t.insert(), [{"id": 2, "n": 2, "doc": None}, {"id": 3, "n": 3,
                                                                     "doc": {}}])
        other = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        assert other == 0  # nothing sent yet
        # a read of another table goes straight through, without sending the writes
        assert writes.execute(sa.select(checkpoints.c.name)).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0
        # a read of a table with held writes sees them (read-your-writes)
        assert writes.execute(sa.select(t.c.id).order_by(t.c.id)).scalars().all() == [1, 2, 3]
        assert first.rowcount == 1
        changed = writes.execute(t.update().where(t.c.n >= 2).values(n=t.c.n + 10))
        assert changed.rowcount == 2  # asking for the count sends the write
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.id)).all()
    # values are bound exactly as SQLAlchemy binds them (JSON, None as JSON null)
    assert [tuple(r) for r in rows] == [(1, 1, {"a": [1]}), (2, 12, None), (3, 13, {})]


def test_checks_run_once_the_writes_are_sent(engine):
    seen = []
    with write_transaction(engine) as conn:
        writes = deferring(conn)
        missing = writes.execute(t.update().where(t.c.id == 99).values(n=1))
        writes.later(lambda: seen.append(missing.rowcount))
        assert seen == []
        writes.flush()
    assert seen == [0]


def test_a_failing_held_write_fails_the_transaction_with_sqlalchemys_error(engine):
    with pytest.raises(IntegrityError), write_transaction(engine) as conn:
        writes = deferring(conn)
        writes.execute(t.insert(), {"id": 1, "n": 1, "doc": None})
        writes.execute(t.insert(), {"id": 1, "n": 2, "doc": None})
        writes.flush()
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() == 0


def test_an_append_sends_its_read_model_writes_in_one_round_trip(pg_services):
    from service.application.commands import Actor, Context, RegisterArticle, SubmitComment

    moderation = pg_services.moderation
    moderation.register_article(RegisterArticle("a1", "A"), Context(Actor("ed", "admin")))
    moderation.submit_comment(SubmitComment("a1", "Ann", "warm up"), Context())
    statements: list[str] = []
    def listener(*args):  # noqa: ANN002, ANN202
        statements.append(args[2])

    sa.event.listen(pg_services.engine, "before_cursor_execute", listener)
    try:
        done = moderation.submit_comment(SubmitComment("a1", "Ann", "a fair point"), Context())
    finally:
        sa.event.remove(pg_services.engine, "before_cursor_execute", listener)
    # through SQLAlchemy: the key, the head, the event rows; the read models, checkpoints
    # and outbox went through the pipeline
    assert not any("comment_state" in s or "projection_checkpoints" in s for s in statements)
    assert pg_services.queries.comment(done.id)["status"] == "pending"
    with pg_services.engine.connect() as conn:
        assert set(pg_services.runner.status(conn).values()) == {done.position}


def test_a_held_event_insert_that_loses_its_race_is_a_version_conflict(pg_services):
    from service.eventstore import NO_STREAM, NewEvent, WrongExpectedVersion
    from service.eventstore.errors import DuplicateEvent

    store, engine = pg_services.store, pg_services.engine
    with write_transaction(engine) as conn:
        store.append(conn, "race-1", [NewEvent("test.won", {})], NO_STREAM)
    with engine.connect() as conn:
        head = store.head(conn)
    with pytest.raises(WrongExpectedVersion) as lost, write_transaction(engine) as conn:
        writes = deferring(conn)
        store.append(conn, "race-1", [NewEvent("test.lost", {})], NO_STREAM, writes=writes)
        writes.flush()
    assert lost.value.actual == 1
    taken = NewEvent("test.again", {})
    with write_transaction(engine) as conn:
        store.append(conn, "race-2", [taken], NO_STREAM)
    with pytest.raises(DuplicateEvent), write_transaction(engine) as conn:
        writes = deferring(conn)
        store.append(conn, "race-3", [taken], NO_STREAM, writes=writes)
        writes.flush()
    with engine.connect() as conn:  # the losers burnt no position
        assert store.head(conn) == head + 1
        assert [e.type for e in store.read_all(conn, after=head - 1)] == [
            "test.won", "test.again"]


def test_a_statement_that_cannot_be_held_goes_after_the_held_ones(engine):
    with write_transaction(engine) as conn:
        writes = deferring(conn)
        writes.execute(t.insert(), [{"id": i, "n": 0, "doc": None} for i in (1, 2, 3)])
        done = writes.execute(t.update().where(t.c.id.in_([1, 3])).values(n=7))  # IN list
        assert done.rowcount == 2
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.c.n).order_by(t.c.id)).scalars().all() == [7, 0, 7]


def test_a_checked_write_commits_with_the_writes_or_fails_and_commits_nothing(engine):
    class Mismatch(Exception):
        pass

    with write_transaction(engine) as conn:
        conn.execute(t.insert(), [{"id": i, "n": 0, "doc": None} for i in (1, 2)])
    # the count is right: the writes and COMMIT go together, nothing is read back first
    with write_transaction(engine) as conn:
        writes = deferring(conn)
        writes.execute(t.insert(), {"id": 3, "n": 0, "doc": None})
        writes.execute_expecting(t.update().where(t.c.n == 0).values(n=1), {}, 3, "probe",
                                 lambda n: Mismatch(n))
        assert writes.commit() is True
        assert conn.connection.driver_connection.info.transaction_status.name == "IDLE"
    # the count is wrong: the database refuses it, the caller's error names the count,
    # and none of the writes sent with it stay
    with pytest.raises(Mismatch) as wrong, write_transaction(engine) as conn:
        writes = deferring(conn)
        writes.execute(t.insert(), {"id": 4, "n": 1, "doc": None})
        writes.execute_expecting(t.update().where(t.c.n == 1).values(n=2), {}, 3, "probe",
                                 lambda n: Mismatch(n))
        writes.commit()
    assert wrong.value.args == (4,)
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.c.n).order_by(t.c.id)).scalars().all() == [1, 1, 1]


def test_the_commit_waits_for_checks_that_must_run_first(engine):
    seen = []
    with write_transaction(engine) as conn:
        writes = deferring(conn)
        missing = writes.execute(t.update().where(t.c.id == 99).values(n=1))
        writes.later(lambda: seen.append(missing.rowcount))
        assert writes.commit() is False  # sent, checked; the caller commits
        assert seen == [0]
        assert conn.connection.driver_connection.info.transaction_status.name != "IDLE"


def test_reads_sent_with_the_head_update_are_typed_and_see_held_writes(pg_services):
    from datetime import UTC

    from service.db import LockedRead
    from service.eventstore import NO_STREAM, NewEvent
    from service.eventstore.tables import event_store_head

    store, engine = pg_services.store, pg_services.engine
    head = sa.select(event_store_head.c.last_position, event_store_head.c.last_recorded_at)
    with write_transaction(engine) as conn:
        writes = deferring(conn)
        read = LockedRead(head, {})
        [recorded] = store.append(conn, "lead-1", [NewEvent("test.lead", {})], NO_STREAM,
                                  writes=writes, locked_reads=[read])
        # answered under the lock, after the head moved: this append's own position
        assert read.row.last_position == recorded.position
        assert read.row.last_recorded_at == recorded.recorded_at
        assert read.row.last_recorded_at.tzinfo is UTC  # as SQLAlchemy types it
        writes.flush()


# -- writes combined into one statement ---------------------------------------------------
_probe = sa.MetaData()
a = sa.Table("deferred_a", _probe, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("n", sa.Integer, nullable=False))
b = sa.Table("deferred_b", _probe, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("n", sa.Integer, nullable=False))


@pytest.fixture
def tables(pg_services):
    engine = pg_services.engine
    with write_transaction(engine) as conn:
        _probe.drop_all(conn)
        _probe.create_all(conn)
    yield engine
    with write_transaction(engine) as conn:
        _probe.drop_all(conn)


def _op(table: sa.Table, kind: str, key: int, k: int, source: sa.Table):  # noqa: ANN202
    """One write as (statement, parameters), built as the projections build theirs."""
    from sqlalchemy.dialects.postgresql import insert

    if kind == "insert":
        return insert(table).on_conflict_do_nothing(), {"id": key, "n": k}
    if kind == "append":  # a plain insert: fails the transaction on a taken key
        return table.insert(), [{"id": key, "n": k}, {"id": key + 100, "n": k}]
    if kind == "update":
        return table.update().where(table.c.id <= key).values(n=table.c.n + k), {}
    if kind == "delete":
        return table.delete().where(table.c.id == key), {}
    if kind == "upsert":
        stmt = insert(table)
        return stmt.on_conflict_do_update(index_elements=["id"],
                                          set_={"n": table.c.n + stmt.excluded.n}), \
            {"id": key, "n": k}
    # copy: reads another table (or the same one)
    picked = sa.select(source.c.id + 1000, source.c.n).where(source.c.id == key)
    return (insert(table).from_select(["id", "n"], picked).on_conflict_do_nothing(), {})




def _state(conn) -> tuple:  # noqa: ANN001
    return tuple(tuple(conn.execute(sa.select(t).order_by(t.c.id)).all()) for t in (a, b))


def _run(engine, ops, deferred: bool):  # noqa: ANN001, ANN202
    """The ops in one transaction, sent one by one or held; what they leave and count."""
    try:
        with engine.connect() as conn, conn.begin() as tx:
            target = deferring(conn) if deferred else conn
            results = [target.execute(*_op(*op)) for op in ops]
            if deferred:
                target.flush()
            # SQLAlchemy counts no inserts on PostgreSQL (-1): compare the others
            counts = [r.rowcount for r, op in zip(results, ops, strict=True)
                      if op[1] in ("update", "delete")]
            state = _state(conn)
            tx.rollback()
            return counts, state
    except IntegrityError:  # rolled back by the block
        return "refused"


def test_held_writes_leave_what_they_would_leave_sent_one_by_one(tables):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    table = st.sampled_from([a, b])
    op = st.tuples(table, st.sampled_from(["insert", "append", "update", "delete", "upsert",
                                           "copy"]),
                   st.integers(1, 4), st.integers(1, 3), table)

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(op, min_size=1, max_size=12))
    def check(ops):  # noqa: ANN001, ANN202
        assert _run(tables, ops, deferred=True) == _run(tables, ops, deferred=False)

    check()


def test_independent_writes_go_as_one_statement_and_dependent_ones_after_it(tables):
    from service import db

    with write_transaction(tables) as conn:
        writes = deferring(conn)
        writes.execute(a.insert(), [{"id": 1, "n": 1}, {"id": 2, "n": 1}])
        writes.execute(b.insert(), {"id": 1, "n": 5})
        copied = writes.execute(*_op(b, "copy", 1, 0, a))  # reads a, written above
        bumped = writes.execute(a.update().values(n=a.c.n + 1))  # writes a again
        sent = list(db._statements(writes._held))
        assert [[w.table for w, _ in u] if isinstance(u, list) else u.table
                for u in sent] == [["deferred_a", "deferred_a", "deferred_b"],
                                   ["deferred_b", "deferred_a"]]
        assert copied.rowcount == 1 and bumped.rowcount == 2  # each its own count
        # the copy saw the rows inserted before it, as it would have alone
        assert _state(conn) == (((1, 2), (2, 2)), ((1, 5), (1001, 1)))


def test_a_wrong_count_in_a_combined_statement_refuses_the_whole_transaction(tables):
    class Mismatch(Exception):
        pass

    with pytest.raises(Mismatch) as wrong, write_transaction(tables) as conn:
        writes = deferring(conn)
        writes.execute(a.insert(), {"id": 1, "n": 0})
        writes.execute_expecting(b.update().values(n=1), {}, 1, "probe", Mismatch)
        writes.execute(b.insert(), {"id": 9, "n": 0})
        writes.commit()
    assert wrong.value.args == (0,)
    with tables.connect() as conn:
        assert _state(conn) == ((), ())


def test_a_generated_key_insert_joins_a_combined_statement(tables):
    serial = sa.Table("deferred_serial", _probe, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("n", sa.Integer, nullable=False))
    with write_transaction(tables) as conn:
        serial.create(conn)
    try:
        with write_transaction(tables) as conn:
            writes = deferring(conn)
            writes.execute(a.insert(), {"id": 1, "n": 1})
            # SQLAlchemy compiles this one with RETURNING of the generated key
            writes.execute(serial.insert(), {"n": 7})
            writes.execute(b.insert(), {"id": 1, "n": 2})
            assert writes.commit() is True
        with tables.connect() as conn:
            assert conn.execute(sa.select(serial.c.n)).scalars().all() == [7]
            assert _state(conn) == (((1, 1),), ((1, 2),))
    finally:
        with write_transaction(tables) as conn:
            serial.drop(conn)
        _probe.remove(serial)
