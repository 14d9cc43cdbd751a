"""What every projection is: named tables plus a deterministic `apply` for each event.

A projection writes only its own tables and never reads the clock or the network, so
replaying the log into fresh copies of its tables must give exactly the live state.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import json_dumps, metadata
from ..domain.events import AuthorErased, DomainEvent
from ..eventstore import RecordedEvent

checkpoints = sa.Table(
    "projection_checkpoints",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
)


Change = tuple[RecordedEvent, DomainEvent]


class Projection:
    name: ClassVar[str]
    live_tables: ClassVar[tuple[sa.Table, ...]]
    # tables of projections that run before this one, which it reads (never writes) while
    # applying a batch; a rebuild hands it their fresh copies, so a replay reads the replay
    reads: ClassVar[tuple[sa.Table, ...]] = ()

    def __init__(self, tables: tuple[sa.Table, ...] | None = None,
                 sources: dict[str, sa.Table] | None = None, *, replay: bool = False):
        self.tables = tables or self.live_tables
        self.sources = tuple((sources or {}).get(t.name, t) for t in self.reads)
        # A rebuild's copy: nothing else writes its tables, so it may keep rows in memory
        # from one batch to the next and write them once (`flush`); live projections never
        # do, their tables are shared with every other process.
        self.replay = replay

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        """Apply events in order. Projections that see many events per call (a rebuild
        replays thousands at a time) override this to merge writes in memory."""
        for recorded, event in changes:
            self.apply(conn, event, recorded)

    def flush(self, conn: Connection) -> None:
        """A replay: write what is held in memory. The runner calls it at the end of each
        run of batches (before the indexes are built, and before the switch)."""

    def apply(self, conn: Connection, event: DomainEvent, recorded: RecordedEvent) -> None:
        self.apply_all(conn, [(recorded, event)])


def split_at_erasures(changes: Sequence[Change]) -> list[tuple[list[Change],
                                                                 AuthorErased | None]]:
    """The changes cut at each `author.erased`: runs of ordinary events, each followed by
    the erasure that ends it (None after the last run). A projection writes a run, then
    applies the erasure to what is stored, so the order of the log is kept."""
    out: list[tuple[list[Change], AuthorErased | None]] = []
    run: list[Change] = []
    for change in changes:
        if isinstance(change[1], AuthorErased):
            out.append((run, change[1]))
            run = []
        else:
            run.append(change)
    out.append((run, None))
    return out


def chunks(values: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield list(values[i:i + size])


class RowBatch:
    """Writes to one table keyed by one column, merged in memory and flushed in bulk.

    A row inserted and then updated in the same batch is inserted once with its final
    values; inserted and then deleted, it never reaches the database.
    """

    def __init__(self, table: sa.Table, key: str):
        self.table = table
        self.key = key
        self.inserts: dict[Any, dict[str, Any]] = {}
        self.updates: dict[Any, dict[str, Any]] = {}
        self.deletes: set[Any] = set()

    def insert(self, row: dict[str, Any]) -> None:
        self.inserts[row[self.key]] = row

    def update(self, key: Any, **values: Any) -> None:
        if key in self.inserts:
            self.inserts[key].update(values)
        else:
            self.updates.setdefault(key, {}).update(values)

    def delete(self, key: Any) -> None:
        if self.inserts.pop(key, None) is None:
            self.deletes.add(key)
        self.updates.pop(key, None)

    def flush(self, conn: Connection) -> None:
        delete_keys(conn, self.table, self.key, self.deletes)
        bulk_insert(conn, self.table, list(self.inserts.values()))
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for key, values in self.updates.items():
            names = tuple(sorted(values))
            groups.setdefault(names, []).append(
                {"_key": key, **{f"_{n}": v for n, v in values.items()}})
        for names, params in groups.items():
            conn.execute(_statement(("update", self.table, self.key, names)), params)
        self.inserts, self.updates, self.deletes = {}, {}, set()


HOLD_AT_MOST = 200_000


class HeldRows:
    """A replay's rows of one small table that nearly every batch changes (author standing,
    article counts, moderator days), kept in memory across batches and written by
    `flush`: new rows by COPY, changed stored rows by one executemany. Read back and
    rewritten in every batch, they cost a query and thousands of updates per batch.

    Until HOLD_AT_MOST rows are held, what is held is the whole table (the replay made
    every row of it): a key not held has no row. Past it, everything is written and let
    go, and a key not held is looked up in the table (`whole`: never let go)."""

    def __init__(self, table: sa.Table, keys: Sequence[str], *, whole: bool = False):
        self.table = table
        self.keys = tuple(keys)
        self.limit = None if whole else HOLD_AT_MOST
        self.rows: dict[Any, dict[str, Any]] = {}
        self.stored: set[Any] = set()
        self.dirty: set[Any] = set()
        self.complete = True

    def key_of(self, row: dict[str, Any]) -> Any:
        return row[self.keys[0]] if len(self.keys) == 1 else tuple(row[k] for k in self.keys)

    def load(self, conn: Connection, keys: Any) -> None:
        """Make sure every stored row among `keys` is held (a no-op while complete)."""
        if self.complete:
            return
        if len(self.keys) != 1:
            raise ValueError("rows of a table of composite keys are held whole")
        missing = [k for k in keys if k not in self.rows]
        if missing:
            for row in rows_by_keys(conn, self.table, self.keys[0], missing):
                key = self.key_of(row._mapping)
                self.rows[key] = dict(row._mapping)
                self.stored.add(key)

    def get(self, key: Any) -> dict[str, Any] | None:
        row = self.rows.get(key)
        if row is not None:
            self.dirty.add(key)
        return row

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        key = self.key_of(row)
        self.rows[key] = row
        self.dirty.add(key)
        return row

    def bound(self, conn: Connection) -> None:
        """At the end of a batch: past the limit, write everything and let it go."""
        if self.limit is not None and len(self.rows) > self.limit:
            self.flush(conn)

    def flush(self, conn: Connection, *, let_go: bool = False) -> None:
        bulk_insert(conn, self.table, [self.rows[k] for k in self.dirty
                                       if k not in self.stored])
        changed = [self.rows[k] for k in self.dirty if k in self.stored]
        if changed:
            names = tuple(c.name for c in self.table.columns if c.name not in self.keys)
            statement = _statement(("update_by", self.table, self.keys, names))
            conn.execute(statement, [{**{f"_k_{k}": r[k] for k in self.keys},
                                      **{f"_{n}": r[n] for n in names}} for r in changed])
        self.stored.update(self.dirty)
        self.dirty = set()
        if let_go or (self.limit is not None and len(self.rows) > self.limit):
            self.rows, self.stored, self.complete = {}, set(), False


# Statements built once per shape: constructing and cache-keying a construct on every
# inline append cost more Python than the database spent running it. Keys hold the table
# itself (a rebuild's shadow tables are new objects), so the cache is bounded.
_STATEMENTS: dict[tuple, Any] = {}


def _statement(shape: tuple) -> Any:
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _build(shape)
        if len(_STATEMENTS) > 512:
            _STATEMENTS.clear()
        _STATEMENTS[shape] = statement
    return statement


def _build(shape: tuple) -> Any:
    kind, table, *rest = shape
    if kind == "insert":
        return table.insert()
    if kind == "update":
        key, names = rest
        return table.update().where(table.c[key] == sa.bindparam("_key")).values(
            {n: sa.bindparam(f"_{n}") for n in names})
    if kind == "update_by":
        keys, names = rest
        return table.update().where(
            *(table.c[k] == sa.bindparam(f"_k_{k}") for k in keys)).values(
            {n: sa.bindparam(f"_{n}") for n in names})
    if kind == "delete":
        (key,) = rest
        return table.delete().where(table.c[key] == sa.bindparam("_key"))
    if kind == "delete_in":
        (key,) = rest
        return table.delete().where(table.c[key].in_(sa.bindparam("_keys", expanding=True)))
    if kind == "delete_any":
        (key,) = rest
        return table.delete().where(table.c[key] == _any_of(table.c[key]))
    if kind == "upsert_add":
        dialect, keys, names = rest
        row = {c.name: sa.bindparam(c.name, type_=c.type) for c in table.columns}
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table).values(row)
        return statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={n: table.c[n] + statement.excluded[n] for n in names})
    if kind in ("select", "select_in", "select_any"):
        key, names = rest
        query = sa.select(*(table.c[n] for n in names)) if names else sa.select(table)
        if kind == "select":
            return query.where(table.c[key] == sa.bindparam("_key"))
        if kind == "select_any":
            return query.where(table.c[key] == _any_of(table.c[key]))
        return query.where(table.c[key].in_(sa.bindparam("_keys", expanding=True)))
    if kind == "add":
        keys, names = rest
        return table.update().where(
            *(table.c[k] == sa.bindparam(f"_k_{k}") for k in keys)
        ).values({n: table.c[n] + sa.bindparam(f"_d_{n}") for n in names})
    raise ValueError(kind)


def _any_of(column: sa.Column) -> Any:
    """= ANY(:_keys), one array parameter (PostgreSQL): compiled once, where an IN list of
    500 is re-rendered, and re-parsed by the driver, for every batch a replay sends."""
    from sqlalchemy.dialects.postgresql import ARRAY

    return sa.any_(sa.bindparam("_keys", type_=ARRAY(column.type)))


def update_statement(table: sa.Table, key: str, names: tuple[str, ...]) -> Any:
    """UPDATE table SET n = :_n, ... WHERE key = :_key, built once per shape."""
    return _statement(("update", table, key, names))


def rows_by_keys(conn: Connection, table: sa.Table, key: str, keys: Any,
                 columns: Sequence[str] | None = None) -> list[Any]:
    """The rows whose `key` column is one of `keys`, with statements built once (one key,
    the usual case inline, is an equality rather than an IN list)."""
    keys = sorted(keys)
    names = tuple(columns) if columns else None
    if len(keys) == 1:
        return conn.execute(_statement(("select", table, key, names)),
                            {"_key": keys[0]}).all()
    kind, size = ("select_any", 5000) if conn.dialect.name == "postgresql" \
        else ("select_in", 500)
    found = []
    for i in range(0, len(keys), size):
        found += conn.execute(_statement((kind, table, key, names)),
                              {"_keys": keys[i:i + size]}).all()
    return found


def delete_keys(conn: Connection, table: sa.Table, key: str, keys: Any) -> None:
    """Delete the rows whose `key` column is one of `keys` (any iterable)."""
    keys = sorted(keys)
    if len(keys) == 1:
        conn.execute(_statement(("delete", table, key)), {"_key": keys[0]})
        return
    kind, size = ("delete_any", 5000) if conn.dialect.name == "postgresql" \
        else ("delete_in", 500)
    for i in range(0, len(keys), size):
        conn.execute(_statement((kind, table, key)), {"_keys": keys[i:i + size]})


COPY_THRESHOLD = 200


def bulk_insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows the fastest way each database offers.

    PostgreSQL: COPY for large batches (a rebuild writes hundreds of thousands of rows;
    COPY is several times faster than pipelined INSERTs). Otherwise one executemany
    (psycopg pipelines it; sqlite3 loops in C). Multi-row VALUES statements measured
    slower: compiling thousands of parameters costs more than the round trips they save.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        _copy_rows(conn, table, rows)
    else:
        conn.execute(_statement(("insert", table)), rows)


def _copy_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """COPY in text format: each row's values taken in one C call (itemgetter); a JSON
    value sent as its text, which the server reads as it reads any JSON literal."""
    columns = [c.name for c in table.columns]
    as_json = [i for i, c in enumerate(table.columns) if isinstance(c.type, sa.JSON)
               or isinstance(getattr(c.type, "impl", None), sa.JSON)]
    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    values = operator.itemgetter(*columns) if len(columns) > 1 \
        else lambda row: (row[columns[0]],)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {conn.dialect.identifier_preparer.format_table(table)} "
                     f"({names}) FROM STDIN") as copy:
        write = copy.write_row
        if not as_json:
            for row in rows:
                write(values(row))
            return
        for row in rows:
            out = list(values(row))
            for i in as_json:  # None too: JSON null, as an INSERT stores it
                out[i] = json_dumps(out[i])
            write(out)


def add_counts(conn: Connection, table: sa.Table,
               deltas: dict[tuple, dict[str, int]], key_names: Sequence[str]) -> None:
    """Flush counter deltas accumulated per key (see `upsert_add`)."""
    for key, increments in deltas.items():
        changed = {name: n for name, n in increments.items() if n}
        if changed:
            upsert_add(conn, table, dict(zip(key_names, key, strict=True)), changed)


def upsert_add(conn: Connection, table: sa.Table, key: dict, increments: dict[str, int]) -> None:
    """Add to counters in a row, creating it at zero first. Portable across both databases.

    A table of nothing but counters takes one statement (INSERT ... ON CONFLICT DO UPDATE);
    one with other columns (an article's title) is updated, and inserted only if missing."""
    row = dict(key)
    for column in table.columns:
        if column.name not in key:
            row[column.name] = increments.get(column.name, 0)
    names = tuple(sorted(increments))
    if _only_counters(table, key):
        conn.execute(_statement(("upsert_add", table, conn.dialect.name, tuple(key), names)),
                     row)
        return
    params = {f"_k_{k}": v for k, v in key.items()} | {f"_d_{n}": increments[n] for n in names}
    statement = _statement(("add", table, tuple(key), names))
    expecting = getattr(conn, "execute_expecting", None)  # deferred writes
    if expecting is not None:
        # inline, the row is there (an article is registered before its comments): the
        # database checks it in the update itself, so the commit can go with the writes
        expecting(statement, params, 1, "counts", lambda n: LookupError(
            f"no {table.name} row {key} to count in"))
        return
    result = conn.execute(statement, params)

    if result.rowcount == 0:
        conn.execute(_statement(("insert", table)), row)


def _only_counters(table: sa.Table, key: dict) -> bool:
    return all(isinstance(c.type, sa.Integer) for c in table.columns if c.name not in key)
