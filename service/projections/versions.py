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

SQLite has one schema per file: the new tables are `rebuild_<name>`, with their indexes,
FTS5 table and triggers made before the fill (there is one writer, so building an index
after the fill would stop every append for as long as it takes; made up front, each
replay batch pays its share). The switch renames the tables (`ALTER TABLE ... RENAME`),
gives the indexes their planned names in the schema table (SQLite cannot rename an index;
`writable_schema`, the technique Django's schema editor uses, with the schema version
bumped so every connection reloads it) and recreates the text index's triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.elements import conv

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
class SqliteVersions(TableVersions):
    def __init__(self, live: Sequence[sa.Table]):
        super().__init__(live)
        shadow_md, retired_md = sa.MetaData(), sa.MetaData()
        for table in self.live:
            self.shadow[table.name] = _renamed(table, shadow_md, REBUILD_PREFIX)
            self.retired[table.name] = _renamed(table, retired_md, RETIRED_PREFIX)

    def prepare(self, engine: Engine) -> None:
        self.discard(engine)
        with write_transaction(engine) as conn:
            for table in self.shadow.values():
                conn.execute(CreateTable(table))
                for index in table.indexes:
                    conn.execute(CreateIndex(index))
            for statement in search.sqlite_text_index(self._shadow_search):
                conn.exec_driver_sql(statement)

    @property
    def _shadow_search(self) -> str:
        return self.shadow[search.comment_search.name].name

    @property
    def _retired_search(self) -> str:
        return self.retired[search.comment_search.name].name

    def switch(self, conn: Connection) -> None:
        live_search = search.comment_search.name
        for table in (live_search, self._shadow_search):
            for trigger in search.sqlite_text_trigger_names(table):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        # With the triggers gone nothing refers to these tables (no views, no foreign keys
        # into read models), so the legacy rename, which does not re-parse and test every
        # schema entry for references, is enough: 1 ms per table instead of 7.
        conn.exec_driver_sql("PRAGMA legacy_alter_table = ON")
        for table in self.live:
            conn.exec_driver_sql(
                f'ALTER TABLE "{table.name}" RENAME TO "{self.retired[table.name].name}"')
            conn.exec_driver_sql(
                f'ALTER TABLE "{self.shadow[table.name].name}" RENAME TO "{table.name}"')
        conn.exec_driver_sql(f"ALTER TABLE {live_search}_fts RENAME TO "
                             f"{self._retired_search}_fts")
        conn.exec_driver_sql(f"ALTER TABLE {self._shadow_search}_fts RENAME TO "
                             f"{live_search}_fts")
        conn.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
        for statement in search.sqlite_text_triggers(live_search):
            conn.exec_driver_sql(statement)
        renames = []
        for table in self.live:
            retired = {i.name: i for i in self.retired[table.name].indexes}
            for index in table.indexes:  # moved away first, so the live name is free
                renames.append((index.name, retired[RETIRED_PREFIX + index.name]))
                renames.append((REBUILD_PREFIX + index.name, index))
        _rename_indexes(conn, renames)

    def discard(self, engine: Engine) -> None:
        # one table per transaction: each drop holds SQLite's one writer lock
        names = [t.name for t in (*self.shadow.values(), *self.retired.values())]
        names += [f"{self._shadow_search}_fts", f"{self._retired_search}_fts"]
        for name in names:
            with write_transaction(engine) as conn:
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


def _renamed(table: sa.Table, md: sa.MetaData, prefix: str) -> sa.Table:
    """A copy named prefix + name, with its indexes' names prefixed too (SQLite's index
    names are one namespace per file); constraint names stay the live ones."""
    copy = table.to_metadata(md, name=prefix + table.name)
    named = {_shape(c): c.name for c in table.constraints}
    for constraint in copy.constraints:  # a column's unique=True comes over unnamed
        constraint.name = conv(named[_shape(constraint)])
    for index in copy.indexes:
        index.name = conv(prefix + index.name)
    return copy


def _shape(constraint: sa.Constraint) -> tuple:
    columns = getattr(constraint, "columns", ())
    return type(constraint), tuple(c.name for c in columns), str(
        getattr(constraint, "sqltext", ""))


def _rename_indexes(conn: Connection, renames: list[tuple[str, sa.Index]]) -> None:
    """Rename indexes in place: their entry in the schema table (name and SQL) is
    rewritten, the b-tree is untouched. The schema version is bumped so every connection,
    this one included, reloads the schema before its next statement."""
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for old, index in renames:
            sql = str(CreateIndex(index).compile(dialect=conn.dialect)).strip()
            moved = conn.exec_driver_sql(
                "UPDATE sqlite_master SET name = ?, sql = ? WHERE type = 'index' AND name = ?",
                (index.name, sql, old))
            if moved.rowcount != 1:
                raise RuntimeError(f"index {old} not found to rename")
        conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")
