"""Alembic: up from empty to head and back to base on both databases; models match."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.config import Settings
from service.db import make_engine
from service.migrate import current_revision, downgrade, head_revision, upgrade
from service.projections.search import outside_models
from service.schema import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
        return
    base = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(database_url=base.set(database=name).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_upgrade_to_head_matches_the_models_and_downgrade_removes_everything(empty_database):
    engine = make_engine(empty_database)
    try:
        upgrade(empty_database, engine=engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": outside_models}), metadata)
        assert diff == []
        downgrade(empty_database, "base", engine=engine)
        with engine.connect() as conn:
            left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        assert left == set()
        upgrade(empty_database, engine=engine)  # and up again from base
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT last_position FROM event_store_head")
                                ).scalar_one() == 0
    finally:
        engine.dispose()


def test_admin_actions_migration_keeps_existing_article_registrations(empty_database):
    """0006 copies earlier `article.registered` events and starts at the log's head."""
    from service.db import write_transaction
    from service.eventstore import NO_STREAM, EventStore, NewEvent

    engine = make_engine(empty_database)
    try:
        upgrade(empty_database, "0005", engine=engine)
        with write_transaction(engine) as conn:
            EventStore().append(conn, "article-a1", [NewEvent(
                "article.registered", {"article_id": "a1", "title": "T"},
                {"actor": {"id": "ed", "role": "admin"}})], NO_STREAM)
            EventStore().append(conn, "comment-x", [NewEvent("comment.submitted", {})],
                                NO_STREAM)
        upgrade(empty_database, engine=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT position, type, actor_id, actor_role FROM admin_actions")).all()
            checkpoint = conn.execute(sa.text(
                "SELECT position FROM projection_checkpoints WHERE name = 'admin_actions'")
            ).scalar_one()
        assert [tuple(r) for r in rows] == [(1, "article.registered", "ed", "admin")]
        assert checkpoint == 2
    finally:
        engine.dispose()


def test_later_admin_action_types_are_copied_by_their_migration(empty_database):
    """0009 copies closings and personal-data requests already in the log."""
    from service.db import write_transaction
    from service.eventstore import NO_STREAM, EventStore, NewEvent

    engine = make_engine(empty_database)
    meta = {"actor": {"id": "ed", "role": "admin"}}
    try:
        upgrade(empty_database, "0008", engine=engine)
        with write_transaction(engine) as conn:
            EventStore().append(conn, "article-a1", [
                NewEvent("article.registered", {"article_id": "a1"}, meta),
                NewEvent("article.closed", {"article_id": "a1"}, meta)], NO_STREAM)
            EventStore().append(conn, "author-x", [
                NewEvent("author.erased", {"author_id": "x"}, meta)], NO_STREAM)
            conn.execute(sa.text("UPDATE projection_checkpoints SET position = 3 "
                                 "WHERE name = 'admin_actions'"))
            conn.execute(sa.text("INSERT INTO admin_actions (position, type, stream_id, "
                                 "actor_id, actor_role, recorded_at, data) SELECT position, "
                                 "type, stream_id, 'ed', 'admin', recorded_at, data FROM events "
                                 "WHERE type = 'article.registered'"))
        upgrade(empty_database, engine=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT position, type FROM admin_actions ORDER BY position")).all()
        assert [tuple(r) for r in rows] == [(1, "article.registered"), (2, "article.closed"),
                                            (3, "author.erased")]
        downgrade(empty_database, "0008", engine=engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM admin_actions")).scalar_one() == 1
    finally:
        engine.dispose()


def test_address_sweeps_and_sanctions_are_copied_into_admin_actions(empty_database):
    from service.db import write_transaction
    from service.eventstore import ANY, EventStore, NewEvent

    engine = make_engine(empty_database)
    try:
        upgrade(empty_database, "0011", engine=engine)
        with write_transaction(engine) as conn:
            EventStore().append(conn, "retention-addresses", [NewEvent(
                "addresses.swept", {"days": ["2026-11-01"]},
                {"actor": {"id": "cron", "role": "admin"}})], ANY)
            EventStore().append(conn, "author-x", [NewEvent(
                "author.warned", {"author_id": "x"},
                {"actor": {"id": "maya", "role": "moderator"}})], ANY)
        upgrade(empty_database, engine=engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT position, type, actor_id FROM admin_actions")).all()
        assert [tuple(r) for r in sorted(rows)] == [(1, "addresses.swept", "cron"),
                                                    (2, "author.warned", "maya")]
    finally:
        engine.dispose()


def test_full_text_migration_indexes_existing_search_rows(empty_database):
    """0016 builds the text index over the rows comment_search already holds."""
    from datetime import UTC, datetime

    from service.db import read_transaction, write_transaction
    from service.projections.search import comment_search, text_match

    engine = make_engine(empty_database)
    try:
        upgrade(empty_database, "0015", engine=engine)
        with write_transaction(engine) as conn:
            conn.execute(comment_search.insert(), [dict(
                comment_id="c1", article_id="a1", author_id="x", status="pending",
                flags=" ", folded="hevi dike", submitted_position=1,
                submitted_at=datetime(2026, 11, 1, tzinfo=UTC))])
        upgrade(empty_database, engine=engine)
        with read_transaction(engine) as conn:
            found = conn.execute(sa.select(comment_search.c.comment_id).where(
                text_match(conn, "Hêvî", ["hevi"]))).scalars().all()
        assert found == ["c1"]
    finally:
        engine.dispose()


def test_dismissals_migration_replays_the_decision_log_only_when_there_are_dismissals(
        empty_database):
    """0017: the decision log lists report dismissals, so with some in the log it is set
    back to 0 (replayed before use); otherwise, and for other read models, nothing moves."""
    from service.db import write_transaction
    from service.eventstore import NO_STREAM, EventStore, NewEvent

    engine = make_engine(empty_database)
    checkpoint = sa.text("SELECT name, position FROM projection_checkpoints "
                         "WHERE name IN ('decision_log', 'reports')")
    try:
        upgrade(empty_database, "0016", engine=engine)
        with write_transaction(engine) as conn:
            EventStore().append(conn, "comment-x", [
                NewEvent("comment.submitted", {})], NO_STREAM)
            conn.execute(sa.text("UPDATE projection_checkpoints SET position = 1"))
        upgrade(empty_database, engine=engine)
        with engine.connect() as conn:
            assert dict(conn.execute(checkpoint).all()) == {"decision_log": 1, "reports": 1}
        downgrade(empty_database, "0016", engine=engine)
        with write_transaction(engine) as conn:
            EventStore().append(conn, "comment-x", [
                NewEvent("comment.reports_dismissed", {})], 1)
            conn.execute(sa.text("UPDATE projection_checkpoints SET position = 2"))
        upgrade(empty_database, engine=engine)
        with engine.connect() as conn:
            assert dict(conn.execute(checkpoint).all()) == {"decision_log": 0, "reports": 2}
    finally:
        engine.dispose()


def test_reported_order_migration_fills_risk_and_age_without_a_replay(empty_database):
    """0018 copies each reported comment's risk (0 when unscreened) and submission time from
    comment_state and leaves every checkpoint where it was."""
    from datetime import UTC, datetime

    from service.db import read_transaction, write_transaction

    engine = make_engine(empty_database)
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    reported = sa.table("reported_comments", *(sa.column(c) for c in (
        "comment_id", "article_id", "open_reports", "total_reports", "opened_at",
        "last_reported_at", "withheld")))
    try:
        upgrade(empty_database, "0017", engine=engine)
        with write_transaction(engine) as conn:
            for n, risk in ((1, 0.45), (2, None)):
                conn.execute(sa.text(
                    "INSERT INTO comment_state (comment_id, article_id, author_id, status, "
                    "reasons, submitted_at, flags, risk, version, last_position, erased) "
                    "VALUES (:id, 'a', 'x', 'approved', '[]', :at, '[]', :risk, 3, 3, false)"),
                    {"id": f"c{n}", "at": at.replace(hour=9 + n), "risk": risk})
                conn.execute(reported.insert().values(
                    comment_id=f"c{n}", article_id="a", open_reports=1, total_reports=1,
                    opened_at=at, last_reported_at=at, withheld=False))
            conn.execute(sa.text("UPDATE projection_checkpoints SET position = 7"))
        upgrade(empty_database, engine=engine)
        from service.projections.reports import reported_comments
        with read_transaction(engine) as conn:
            rows = {r.comment_id: (r.risk, r.submitted_at) for r in conn.execute(
                sa.select(reported_comments))}
            positions = set(conn.execute(sa.text(
                "SELECT position FROM projection_checkpoints")).scalars())
        assert rows == {"c1": (0.45, at.replace(hour=10)), "c2": (0.0, at.replace(hour=11))}
        assert positions == {7}
    finally:
        engine.dispose()
