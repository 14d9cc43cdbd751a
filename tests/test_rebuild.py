"""Rebuilding the read models into new tables and switching to them, on both databases:
the schema the migrations made survives the switch (indexes, the text index, triggers), a
failure at any step leaves the live tables as they were and the next rebuild works, and
appends made while a rebuild runs are all in the read models afterwards."""

from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.application.commands import (
    Actor,
    ApproveComment,
    Context,
    RegisterArticle,
    RejectComment,
    SubmitComment,
)
from service.db import read_transaction, write_transaction
from service.projections import runner as runner_module
from service.projections import versions
from service.projections.search import outside_models
from service.schema import metadata

ADMIN = Context(Actor("admin", "admin"))
MOD = Context(Actor("mod-1", "moderator"))
BODIES = ["The camp at al-Hol is overcrowded", "Hêvî dike ku rewş baştir bibe",
          "أنا أؤيد هذا الرأي", "ئەم هەواڵە زۆر گرنگە", "storm warning for the coast"]


def populate(services, n: int = 12) -> list[str]:  # noqa: ANN001
    services.moderation.register_article(RegisterArticle("a1", "A1"), ADMIN)
    ids = []
    for i in range(n):
        c = services.moderation.submit_comment(
            SubmitComment("a1", f"Reader {i % 3}", f"{BODIES[i % len(BODIES)]} {i}",
                          author_email=f"r{i % 3}@example.org"), Context())
        if i % 3 == 0:
            services.moderation.approve(ApproveComment(c.id, c.version), MOD)
        elif i % 3 == 1:
            services.moderation.reject(RejectComment(c.id, c.version, ["off_topic"]), MOD)
        ids.append(c.id)
    return ids


def catalog(engine: sa.Engine) -> dict:
    """What the schema holds beside the models: every index, trigger and column as the
    database itself describes them, and what is left over from a rebuild."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE type IN ('index', 'trigger', 'table') ORDER BY type, name").all()
            squash = lambda sql: re.sub(r'[\s"]+', " ", sql or "").strip()  # noqa: E731
            return {"objects": [(t, n, tb, squash(sql) if t != "table" else "")
                                for t, n, tb, sql in rows]}
        return {
            "indexes": conn.exec_driver_sql(
                "SELECT tablename, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() ORDER BY 1, 2").all(),
            "columns": conn.exec_driver_sql(
                "SELECT table_name, column_name, data_type, is_nullable, is_generated, "
                "generation_expression, ordinal_position FROM information_schema.columns "
                "WHERE table_schema = current_schema() ORDER BY 1, 7").all(),
            "constraints": conn.exec_driver_sql(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE connamespace = current_schema()::regnamespace "
                "ORDER BY 1, 2").all(),
            "triggers": conn.exec_driver_sql(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE NOT tgisinternal ORDER BY 1, 2").all(),
            "schemas": conn.exec_driver_sql(
                "SELECT nspname FROM pg_namespace "
                "WHERE nspname IN ('moderation_rebuild', 'moderation_retired')").all(),
        }


def models_match(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": outside_models}), metadata)


def search_ids(services, q: str) -> list[str]:  # noqa: ANN001
    return [r["comment_id"] for r in services.queries.search(
        q=q, author_id=None, article_id=None, status=None, flag=None, since=None,
        until=None, before=None, limit=50)]


def test_a_switched_rebuild_keeps_every_index_trigger_and_the_text_index(services):
    ids = populate(services)
    before = catalog(services.engine)
    found = search_ids(services, "overcrowded")
    assert len(found) == 3
    for _ in range(2):  # the second switch retires tables that were themselves switched in
        report = services.runner.rebuild(services.engine, swap=True, batch_size=7)
        assert report.identical and report.swapped
        assert catalog(services.engine) == before
        assert models_match(services.engine) == []
        assert search_ids(services, "overcrowded") == found
        assert search_ids(services, "hevi") == search_ids(services, "HÊVÎ")
    # the switched-in tables and their text index keep working inline
    c = services.moderation.submit_comment(SubmitComment("a1", "Late", "overcrowded again"),
                                           Context())
    assert search_ids(services, "overcrowded") == [c.id, *found]
    services.moderation.approve(ApproveComment(ids[2], 2), MOD)
    assert services.queries.comment(ids[2])["status"] == "approved"
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_an_erasure_replayed_by_a_rebuild_leaves_no_words_in_the_text_index(services):
    populate(services, 6)
    for author in {r["author_id"] for r in services.queries.search(
            q="overcrowded", author_id=None, article_id=None, status=None, flag=None,
            since=None, until=None, before=None, limit=50)}:
        services.privacy.erase(author, "asked to be forgotten", ADMIN)
    assert search_ids(services, "overcrowded") == []
    services.runner.rebuild(services.engine, swap=True, batch_size=3)
    assert search_ids(services, "overcrowded") == []
    if services.engine.dialect.name == "sqlite":  # merged: not even in the segments
        with services.engine.connect() as conn:
            blobs = conn.exec_driver_sql("SELECT block FROM comment_search_fts_data").all()
        assert not any(b"overcrowded" in bytes(b) for (b,) in blobs if b is not None)


class Crash(Exception):
    pass


def _crash_after(monkeypatch, owner, name: str) -> None:  # noqa: ANN001
    original = getattr(owner, name)

    def crashing(self, *args, **kwargs):  # noqa: ANN001, ANN202
        original(self, *args, **kwargs)
        raise Crash(name)

    monkeypatch.setattr(owner, name, crashing)


STEPS = ["prepare", "replay", "finish", "switch", "checkpoints", "compare"]


@pytest.mark.parametrize("step", STEPS)
def test_a_rebuild_that_dies_at_any_step_leaves_the_live_tables_and_the_next_one_works(
        services, monkeypatch, step):
    ids = populate(services)
    kind = type(versions.table_versions(services.engine.dialect.name, []))
    before = catalog(services.engine)
    with read_transaction(services.engine) as conn:
        states = conn.exec_driver_sql(
            "SELECT comment_id, status, version FROM comment_state ORDER BY 1").all()
    with monkeypatch.context() as patch:
        # a process that dies cleans nothing up
        patch.setattr(kind, "discard", lambda self, engine: None)
        if step == "replay":
            _crash_after(patch, runner_module.ProjectionRunner, "_replay")
        elif step == "checkpoints":
            _crash_after(patch, runner_module.ProjectionRunner, "_set_checkpoints")
        elif step == "compare":
            patch.setattr(runner_module, "compare_tables",
                          lambda *a, **k: (_ for _ in ()).throw(Crash("compare")))
        else:
            _crash_after(patch, kind, step)
        with pytest.raises(Crash):
            services.runner.rebuild(services.engine, swap=True, batch_size=5)
    with read_transaction(services.engine) as conn:
        assert conn.exec_driver_sql(
            "SELECT comment_id, status, version FROM comment_state ORDER BY 1").all() == states
        assert set(services.runner.status(conn).values()) == {services.queries.head()}
    assert search_ids(services, "overcrowded") != []
    # the live tables still take appends, inline, and answer reads
    services.moderation.approve(ApproveComment(ids[2], 2), MOD)
    assert services.queries.comment(ids[2])["status"] == "approved"
    assert catalog(services.engine) != before  # what a dead rebuild leaves behind
    report = services.runner.rebuild(services.engine, swap=True, batch_size=5)
    assert report.identical
    assert catalog(services.engine) == before  # and what the dead one left is gone
    assert models_match(services.engine) == []
    assert services.runner.rebuild(services.engine, swap=False).identical


def test_appends_during_rebuilds_are_all_in_the_read_models_afterwards(services):
    populate(services, 6)
    submitted: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        try:
            while not stop.is_set() or i < 5:
                c = services.moderation.submit_comment(
                    SubmitComment("a1", f"W{n}", f"racing the rebuild {n}-{i}"), Context())
                submitted.append(c.id)
                # read-your-writes across the switch
                assert services.queries.comment(c.id)["status"] == "pending"
                if i % 2:
                    services.moderation.approve(ApproveComment(c.id, c.version), MOD)
                i += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        reports = [services.runner.rebuild(services.engine, swap=True, batch_size=10)
                   for _ in range(3)]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert all(r.identical for r in reports), [r.differences for r in reports]
    head = services.queries.head()
    with read_transaction(services.engine) as conn:
        assert set(services.runner.status(conn).values()) == {head}
        known = {r[0] for r in conn.exec_driver_sql("SELECT comment_id FROM comment_state")}
    assert set(submitted) <= known
    assert services.runner.rebuild(services.engine, swap=False).identical


@pytest.mark.parametrize("limit", [0, runner_module.CANDIDATE_LIMIT])
def test_drift_is_found_alike_by_the_database_and_by_the_walk(services, monkeypatch, limit):
    """Rows the database sees stored differently are compared as values; past the limit
    the tables are walked side by side instead. Both name the same rows."""
    monkeypatch.setattr(runner_module, "CANDIDATE_LIMIT", limit)
    ids = populate(services, 6)
    with services.engine.begin() as conn:
        conn.execute(sa.text("UPDATE comment_state SET status = 'approved' WHERE comment_id = :c"),
                     {"c": ids[2]})
        conn.execute(sa.text("DELETE FROM moderation_queue WHERE comment_id = :c"),
                     {"c": ids[5]})
        conn.execute(sa.text("UPDATE articles SET title = title WHERE article_id = 'a1'"))
    report = services.runner.rebuild(services.engine, swap=False)
    found = {d.table: (d.live_rows, d.rebuilt_rows, d.mismatched_keys)
             for d in report.differences}
    assert found == {
        "comment_state": (6, 6, [f"('{ids[2]}',) differs"]),
        "moderation_queue": (1, 2, [f"('{ids[5]}',) only rebuilt"]),
    }


def sqlite_schema(conn: sa.Connection) -> list[tuple]:
    return conn.exec_driver_sql(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").all()


def sqlite_checks(conn: sa.Connection) -> list:
    """SQLite's own check of every b-tree against the schema, and FTS5's of its index
    against its content."""
    problems = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
    conn.exec_driver_sql("INSERT INTO comment_search_fts (comment_search_fts, rank) "
                         "VALUES ('integrity-check', 1)")
    return problems


@pytest.mark.parametrize("settings", ["memory", "sqlite"], indirect=True)
def test_a_switched_sqlite_schema_is_the_migrated_one_and_passes_integrity_check(
        services, sqlite_template):
    """The switch exchanges b-trees, not names: every table, index and trigger keeps the
    name and SQL a fresh migrate gave it, and what the last events wrote to the text index
    under the append lock (the tail) is in the switched-in one."""
    populate(services)
    with sa.create_engine(f"sqlite:///{sqlite_template}").connect() as conn:
        migrated = sqlite_schema(conn)
    with services.engine.connect() as conn:
        roots = dict(conn.exec_driver_sql("SELECT name, rootpage FROM sqlite_master").all())
    late: list[str] = []
    wanted = [0]

    def append_meanwhile(done: int, total: int) -> None:  # left for the tail (< 50)
        if len(late) < wanted[0]:
            late.append(services.moderation.submit_comment(
                SubmitComment("a1", "Late", f"overcrowded tail {len(late)}"), Context()).id)

    for _ in range(2):  # the second retires tables that were themselves switched in
        wanted[0] += 3
        report = services.runner.rebuild(services.engine, swap=True, batch_size=5,
                                         progress=append_meanwhile)
        assert report.identical and report.swapped
        with services.engine.connect() as conn:
            assert sqlite_schema(conn) == migrated
            assert sqlite_checks(conn) == ["ok"]
            now = dict(conn.exec_driver_sql("SELECT name, rootpage FROM sqlite_master").all())
        assert now["comment_state"] != roots["comment_state"]  # switched, not rewritten
        assert now["comment_search_fts_data"] != roots["comment_search_fts_data"]
        assert set(late) <= set(search_ids(services, "overcrowded"))
        assert len(search_ids(services, "overcrowded")) == 3 + len(late)
        roots = now
    assert len(late) == 6
    assert services.runner.rebuild(services.engine, swap=False).identical


@pytest.mark.parametrize("settings", ["memory", "sqlite"], indirect=True)
def test_what_the_switch_transaction_wrote_to_the_text_index_is_switched_in(services):
    """FTS5 holds rows written straight to it in memory until a savepoint or the commit and
    then writes them to its tables by name; after the exchange of b-trees that name is the
    retired one's. The switch writes them out first."""
    populate(services, 3)
    tables = [t for cls in services.runner.projection_types for t in cls.live_tables]
    rebuilt = versions.table_versions("sqlite", tables)
    rebuilt.prepare(services.engine)
    try:
        with write_transaction(services.engine) as conn:
            conn.exec_driver_sql("INSERT INTO rebuild_comment_search_fts (rowid, folded) "
                                 "VALUES (999, 'zebra crossing')")
            rebuilt.switch(conn)
        with services.engine.connect() as conn:
            assert conn.exec_driver_sql(
                "SELECT rowid FROM comment_search_fts WHERE comment_search_fts MATCH 'zebra'"
            ).all() == [(999,)]
            assert sqlite_checks(conn) == ["ok"]
            conn.exec_driver_sql("INSERT INTO rebuild_comment_search_fts "
                                 "(rebuild_comment_search_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        rebuilt.discard(services.engine)


DIE_IN_SWITCH = """
import os, sys
from service.bootstrap import build
from service.config import Settings
from service.projections import versions

original = versions.SqliteVersions.switch

def dying(self, conn):
    original(self, conn)  # every root page exchanged, the schema reloaded, not committed
    os._exit(17)

versions.SqliteVersions.switch = dying
services = build(Settings(database_url=sys.argv[1]))
services.runner.rebuild(services.engine, swap=True, batch_size=5)
"""


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_process_that_dies_in_the_switch_leaves_the_schema_and_rows_as_they_were(
        services, sqlite_template):
    """A real death (no rollback, no clean-up) after the schema table was rewritten and
    before the commit: SQLite's journal puts back the schema and every page."""
    url = services.settings.database_url
    ids = populate(services)
    with services.engine.connect() as conn:
        before = conn.exec_driver_sql(
            "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master").all()
        states = conn.exec_driver_sql("SELECT * FROM comment_state ORDER BY 1").all()
    died = subprocess.run([sys.executable, "-c", DIE_IN_SWITCH, url], timeout=300,
                          capture_output=True, text=True)
    assert died.returncode == 17, died.stderr
    with services.engine.connect() as conn:
        after = conn.exec_driver_sql(
            "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master").all()
        assert [e for e in after if not e.tbl_name.startswith("rebuild_")] == before
        assert sqlite_checks(conn) == ["ok"]
        assert conn.exec_driver_sql("SELECT * FROM comment_state ORDER BY 1").all() == states
    assert len(search_ids(services, "overcrowded")) == 3
    services.moderation.approve(ApproveComment(ids[2], 2), MOD)
    assert services.runner.rebuild(services.engine, swap=True).identical
    with services.engine.connect() as conn, \
            sa.create_engine(f"sqlite:///{sqlite_template}").connect() as fresh:
        assert sqlite_schema(conn) == sqlite_schema(fresh)
        assert sqlite_checks(conn) == ["ok"]
