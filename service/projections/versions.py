"""The fresh read-model tables a rebuild fills, and how each database switches to them.

A rebuild never rewrites the live tables. It fills a new version of every table beside
them; the switch, under the append lock, is catalog changes only (a few milliseconds for
all the tables), so appends wait for the switch, not for the copy. Until the switch
commits the live tables are untouched; a crash at any point leaves them as they were, and
the next rebuild first drops whatever an interrupted one left behind.

PostgreSQL: the new version is built in a schema of its own (`moderation_rebuild`) under
the live tables' own names, constraint and index names; secondary indexes, the text index
and planner statistics are made after the fill. The switch moves every live table to
`moderation_retired` and every new one into the live schema (`ALTER TABLE ... SET
SCHEMA`; indexes, constraints and the generated tsvector column move with their table).

SQLite has one schema per file: the new tables are `rebuild_<name>`, each made from the
live table's own CREATE statements (its indexes and FTS5 table too, and the triggers) before
the fill (there is one writer, so building an index after the fill would stop every append
for as long as it takes; made up front, each replay batch pays its share). Stored alike,
page for page, a table and its twin can exchange their b-trees: the switch gives each live
entry of the schema table its twin's root page and the twin the live one's (`writable_schema`,
SQLite's documented way to change the schema in place, with the schema version bumped so
every connection reloads it), one UPDATE and one schema reload instead of a reparse of the
whole schema per `ALTER TABLE ... RENAME` (6 for an FTS5 table: its own tables follow it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from ..db import metadata, write_transaction
from . import search

REBUILD_SCHEMA = "moderation_rebuild"
RETIRED_SCHEMA = "moderation_retired"
REBUILD_PREFIX = "rebuild_"
RETIRED_PREFIX = "retired_"


class TableVersions:
    """The live tables, the new version a rebuild fills (`shadow`) and, after the switch,
    the former live tables (`retired`), each by the live table's name."""

    def __init__(self, live: Sequence[sa.Table]):
        self.live = list(live)
        self.shadow: dict[str, sa.Table] = {}
        self.retired: dict[str, sa.Table] = {}

    def prepare(self, engine: Engine) -> None:
        """Drop what an interrupted rebuild left, then create the empty new tables."""
        raise NotImplementedError

    def finish(self, engine: Engine) -> None:
        """After the bulk of the replay: what is cheaper to build once than to maintain."""

    def switch(self, conn: Connection) -> None:
        """In the transaction that holds the append lock: make the new tables the live ones."""
        raise NotImplementedError

    def discard(self, engine: Engine) -> None:
        """Drop the new tables (if not switched in) and the retired ones."""
        raise NotImplementedError


def table_versions(dialect: str, live: Sequence[sa.Table]) -> TableVersions:
    return PostgresVersions(live) if dialect == "postgresql" else SqliteVersions(live)


# -- PostgreSQL ---------------------------------------------------------------------------
class PostgresVersions(TableVersions):
    def __init__(self, live: Sequence[sa.Table]):
        super().__init__(live)
        shadow_md = sa.MetaData(naming_convention=metadata.naming_convention)
        retired_md = sa.MetaData(naming_convention=metadata.naming_convention)
        for table in self.live:
            self.shadow[table.name] = table.to_metadata(shadow_md, schema=REBUILD_SCHEMA)
            self.retired[table.name] = table.to_metadata(retired_md, schema=RETIRED_SCHEMA)

    def prepare(self, engine: Engine) -> None:
        with write_transaction(engine) as conn:
            for schema in (REBUILD_SCHEMA, RETIRED_SCHEMA):
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {REBUILD_SCHEMA}")
            conn.exec_driver_sql(f"CREATE SCHEMA {RETIRED_SCHEMA}")
            for table in self.shadow.values():
                conn.execute(CreateTable(table))  # the primary key only; indexes later
                if table.name == search.comment_search.name:
                    conn.exec_driver_sql(search.postgres_text_column(_qualified(table)))

    def finish(self, engine: Engine) -> None:
        for table in self.shadow.values():
            with write_transaction(engine) as conn:
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")  # large logs
                for index in table.indexes:
                    conn.execute(CreateIndex(index))
                if table.name == search.comment_search.name:
                    conn.exec_driver_sql(search.postgres_text_index(_qualified(table)))
                conn.exec_driver_sql(f"ANALYZE {_qualified(table)}")

    def switch(self, conn: Connection) -> None:
        live_schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        names = [t.name for t in self.live]
        # every live table at once, before any is moved: a reader holding one (a short
        # read transaction) is waited for, and no reader sees half the tables switched
        statements = ["LOCK TABLE " + ", ".join(f'"{live_schema}"."{n}"' for n in names)
                      + " IN ACCESS EXCLUSIVE MODE"]
        for name in names:
            statements.append(f'ALTER TABLE "{live_schema}"."{name}" SET SCHEMA '
                              f"{RETIRED_SCHEMA}")
            statements.append(f'ALTER TABLE {REBUILD_SCHEMA}."{name}" SET SCHEMA '
                              f'"{live_schema}"')
        conn.exec_driver_sql("; ".join(statements))  # one round trip, under the lock

    def discard(self, engine: Engine) -> None:
        with write_transaction(engine) as conn:
            for schema in (REBUILD_SCHEMA, RETIRED_SCHEMA):
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _qualified(table: sa.Table) -> str:
    return f'{table.schema}."{table.name}"'


# -- SQLite -------------------------------------------------------------------------------
# A name in a schema entry's SQL: quoted ("", '', [], ``) or bare.
_NAME = r'(?:"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\[[^\]]*\]|`(?:[^`]|``)*`|[A-Za-z_][\w$]*)'
_CREATE_TABLE = re.compile(rf"\s*CREATE\s+(VIRTUAL\s+)?TABLE\s+({_NAME})(.*)", re.S | re.I)
_CREATE_INDEX = re.compile(rf"\s*CREATE\s+(UNIQUE\s+)?INDEX\s+({_NAME})\s+ON\s+({_NAME})(.*)",
                           re.S | re.I)
_AUTOINDEX = "sqlite_autoindex_"


class SqliteVersions(TableVersions):
    """The new version is `rebuild_<name>` beside each live table, made from the live
    table's own entry in the schema table (same columns, constraints, indexes, text index),
    so the two are stored alike, page for page. The switch then exchanges their b-trees:
    each live entry (table, index, the text index's own tables) is given the root page of
    its rebuilt twin and the twin the live one's, in the schema table (`writable_schema`),
    with one schema reload. Names, SQL and triggers stay as they are, so the live schema
    remains exactly what the migrations made, and the `rebuild_` tables then hold the
    former live rows (`retired` is `shadow`) until they are dropped."""

    def __init__(self, live: Sequence[sa.Table]):
        super().__init__(live)
        md = sa.MetaData()
        for table in self.live:
            self.shadow[table.name] = table.to_metadata(md, name=REBUILD_PREFIX + table.name)
        self.retired = self.shadow  # after the switch the rebuild_ names hold the old rows
        self._exchange: tuple[str, tuple] = ("", ())  # planned by prepare
        self._entries = 0

    @property
    def _text_index(self) -> list[str]:
        """The FTS5 table beside comment_search, if that is rebuilt."""
        names = {t.name for t in self.live}
        return [search.FTS_TABLE] if search.comment_search.name in names else []

    def prepare(self, engine: Engine) -> None:
        self.discard(engine)
        with write_transaction(engine) as conn:
            live = _schema(conn, {t.name for t in self.live} | set(self._text_index))
            for entry in live:  # tables first, then their indexes
                if entry.sql is not None and entry.type in ("table", "index"):
                    conn.exec_driver_sql(_twin_sql(entry))
            if self._text_index:
                for statement in search.sqlite_text_triggers(
                        REBUILD_PREFIX + search.comment_search.name):
                    conn.exec_driver_sql(statement)
            pairs = self._pairs(conn)
            self._exchange, self._entries = _exchange(pairs), 2 * len(pairs)

    def switch(self, conn: Connection) -> None:
        """The exchange planned by `prepare`, in one UPDATE that matches every entry by its
        name, root page and SQL as they were then: if any changed since (a migration meanwhile)
        fewer rows match and the switch fails, its transaction rolled back. Nothing of this
        connection may run after it but the commit: the schema it reloads then is the next
        statement's cost, not the lock's."""
        # FTS5 holds what is written straight to it in memory until a savepoint or the
        # commit, and then writes it to its tables by name, which after the exchange name
        # the other b-trees. Written out now.
        conn.exec_driver_sql("SAVEPOINT rebuild_text_index")
        conn.exec_driver_sql("RELEASE rebuild_text_index")
        statement, params = self._exchange
        version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
        conn.exec_driver_sql("PRAGMA writable_schema = ON")
        try:
            moved = conn.exec_driver_sql(statement, params).rowcount
            if moved != self._entries:
                raise RuntimeError(f"switch: {moved} of {self._entries} schema "
                                   "entries found as the rebuild planned them")
            # every other connection reloads the schema at its next transaction
            conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
        finally:
            conn.exec_driver_sql("PRAGMA writable_schema = RESET")  # and this one

    def _pairs(self, conn: Connection) -> list[tuple[Any, Any]]:
        """Each live table and index (the text index's own tables included) with its
        rebuilt twin, checked to be stored alike: same kind, same SQL but for the names."""
        names = {t.name for t in self.live} | set(self._text_index)
        entries = _schema(conn, None)
        groups = names | {e.name for e in entries if e.type == "table" and any(
            e.name.startswith(fts + "_") for fts in self._text_index)}  # FTS5's own tables
        live = [e for e in entries if e.tbl_name in groups and e.type in ("table", "index")]
        twins = {(e.type, e.name): e for e in entries
                 if e.tbl_name in {REBUILD_PREFIX + g for g in groups}
                 and e.type in ("table", "index")}
        pairs = []
        for entry in live:
            twin = twins.pop((entry.type, _twin_name(entry.name)), None)
            if twin is None or _definition(entry) != _definition(twin):
                raise RuntimeError(f"rebuild: {entry.name} has no twin stored alike")
            if entry.rootpage:  # a virtual table has none (its own tables do)
                pairs.append((entry, twin))
        if twins:
            raise RuntimeError(f"rebuild: {sorted(n for _, n in twins)} have no live twin")
        return pairs

    def discard(self, engine: Engine) -> None:
        # one table per transaction: each drop holds SQLite's one writer lock; the
        # retired_ names are what a switch before this one could leave
        names = [REBUILD_PREFIX + t.name for t in self.live]
        names += [REBUILD_PREFIX + n for n in self._text_index]
        names += [RETIRED_PREFIX + n for n in (*(t.name for t in self.live),
                                               *self._text_index)]
        for name in names:
            with write_transaction(engine) as conn:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


def _schema(conn: Connection, tables: set[str] | None) -> list[Any]:
    """Schema entries (of `tables`, or all), tables before indexes."""
    rows = conn.exec_driver_sql(
        "SELECT rowid, type, name, tbl_name, rootpage, sql FROM sqlite_master "
        "ORDER BY type = 'index', rowid").all()
    return [r for r in rows if tables is None or r.tbl_name in tables]


def _exchange(pairs: list[tuple[Any, Any]]) -> tuple[str, tuple]:
    """One UPDATE giving each entry of `pairs` the other's root page, where every entry
    still has the row, name, root page and SQL it had; and its parameters."""
    entries = [(e, o) for a, b in pairs for e, o in ((a, b), (b, a))]
    def case(then: Callable[[Any, Any], str]) -> str:
        return "CASE rowid " + " ".join(
            f"WHEN {int(e.rowid)} THEN {then(e, o)}" for e, o in entries) + " END"
    statement = (
        f"UPDATE sqlite_master SET rootpage = {case(lambda e, o: str(int(o.rootpage)))} "
        f"WHERE rowid IN ({', '.join(str(int(e.rowid)) for e, _ in entries)}) "
        f"AND rootpage = {case(lambda e, o: str(int(e.rootpage)))} "
        f"AND name = {case(lambda e, o: '?')} "
        f"AND sql IS {case(lambda e, o: 'NULL' if e.sql is None else '?')}")
    params = [e.name for e, _ in entries] + [e.sql for e, _ in entries if e.sql is not None]
    return statement, tuple(params)


def _twin_name(name: str) -> str:
    if name.startswith(_AUTOINDEX):  # SQLite names it after its table
        return _AUTOINDEX + REBUILD_PREFIX + name.removeprefix(_AUTOINDEX)
    return REBUILD_PREFIX + name


def _unquoted(name: str) -> str:
    if name[0] in "\"'`":
        return name[1:-1].replace(name[0] * 2, name[0])
    return name[1:-1] if name[0] == "[" else name


def _definition(entry: Any) -> tuple:
    """What decides how an entry's rows are stored: its kind and its SQL without the
    names of the entry and its table (an automatic index has none: its table's SQL)."""
    if entry.sql is None:
        return (entry.type,)
    if entry.type == "table":
        m = _CREATE_TABLE.match(entry.sql)
        if m is None:
            raise RuntimeError(f"unexpected schema entry: {entry.sql}")
        return entry.type, bool(m.group(1)), m.group(3)
    m = _CREATE_INDEX.match(entry.sql)
    if m is None:
        raise RuntimeError(f"unexpected schema entry: {entry.sql}")
    return entry.type, bool(m.group(1)), m.group(4)


def _twin_sql(entry: Any) -> str:
    """The live entry's CREATE statement for its rebuild_ twin."""
    if entry.type == "table":
        m = _CREATE_TABLE.match(entry.sql)
        virtual = "VIRTUAL " if m.group(1) else ""
        return f'CREATE {virtual}TABLE "{_twin_name(entry.name)}"{m.group(3)}'
    m = _CREATE_INDEX.match(entry.sql)
    unique = "UNIQUE " if m.group(1) else ""
    return (f'CREATE {unique}INDEX "{_twin_name(entry.name)}" '
            f'ON "{_twin_name(_unquoted(m.group(3)))}"{m.group(4)}')
