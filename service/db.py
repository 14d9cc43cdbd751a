"""Database plumbing shared by the event store and the projections.

Nothing is built at import time: engines come from `make_engine(settings)`. Every write runs
in `write_transaction`, which on SQLite is `BEGIN IMMEDIATE` so that a transaction that reads
then writes never fails halfway with SQLITE_BUSY, and on PostgreSQL is READ COMMITTED with
lock and idle timeouts so a stuck client cannot hold the event store's head row for long.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import threading
import time
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from .config import Settings

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no offset itself)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


WRITE = "moderation_write"


def json_dumps(value: object) -> str:
    """JSON for the database: orjson writes and reads several times faster than json,
    and every feed read and replay parses two documents per event."""
    return orjson.dumps(value).decode()


def make_engine(settings: Settings) -> Engine:
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings)
    if url.get_backend_name() == "postgresql":
        return _postgres_engine(url, settings)
    raise SystemExit(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")


def in_memory(url: sa.URL) -> bool:
    """`sqlite://` (or `sqlite:///:memory:`): one database that lives in one connection."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def _sqlite_engine(url: sa.URL, settings: Settings) -> Engine:
    # An in-memory database exists only in its connection: every checkout shares that one
    # connection (StaticPool), and one lock takes the place of the writer lock's file.
    pool = ({"poolclass": sa.pool.StaticPool, "pool_reset_on_return": None} if in_memory(url) else
            {"poolclass": sa.pool.QueuePool, "pool_size": settings.pool_size,
             "max_overflow": 10})
    engine = sa.create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000,
                      "check_same_thread": False},
        **pool,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    _SQLITE_WRITERS[engine] = (
        threading.Lock() if in_memory(url) else
        SqliteWriterLock(os.path.abspath(url.database), settings.sqlite_busy_timeout_ms / 1000))

    if in_memory(url):
        _share_one_connection(engine)
        return engine

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def shares_one_connection(engine: Engine) -> bool:
    """True for an in-memory database: every checkout is the same connection, so nothing
    may read on another thread while a transaction is open."""
    return isinstance(engine.pool, sa.pool.StaticPool)


def _share_one_connection(engine: Engine) -> None:
    """Transactions on an in-memory database, whose one connection every checkout shares.

    The service opens a read while a write is open (a version conflict reads who won, a
    refused insert reads the stream's version). On a file that is a second connection; here
    it is the same one, so the inner transaction joins the outer: it issues no BEGIN, and
    its commit or rollback is left to the outer one. Single-threaded use only (tests, a
    quick look at the code): concurrent requests would share a transaction.
    """
    owners: list[bool] = []  # per open transaction, innermost last: did it issue BEGIN?
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        joined = conn.connection.driver_connection.in_transaction
        owners.append(not joined)
        if not joined:
            mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE) else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

    def do_commit(dbapi_conn: Any) -> None:
        if owners.pop():
            commit(dbapi_conn)

    def do_rollback(dbapi_conn: Any) -> None:
        if not owners or owners.pop():  # no transaction at all: the pool's reset
            rollback(dbapi_conn)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


def _postgres_engine(url: sa.URL, settings: Settings) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    options = (
        f"-c lock_timeout={int(settings.pg_lock_timeout_ms)} "
        f"-c idle_in_transaction_session_timeout={int(settings.pg_idle_in_transaction_timeout_ms)} "
        f"-c statement_timeout={int(settings.pg_statement_timeout_ms)} "
        "-c timezone=UTC"
    )
    engine = sa.create_engine(
        url,
        json_serializer=json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"options": options, "connect_timeout": 5},
        isolation_level="READ COMMITTED",
        pool_size=settings.pool_size,
        max_overflow=10,
    )
    sa.event.listen(engine, "checkout", _check_alive)
    return engine


def _check_alive(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has dropped (a restart) is replaced before use.

    Instead of a ping (a round trip on every checkout), look at the socket: an idle
    connection has nothing to read unless the server closed it or sent a notice; only
    then is it pinged, and a failed ping makes the pool connect afresh."""
    driver = getattr(dbapi_conn, "driver_connection", dbapi_conn)
    if driver.closed or driver.broken:
        raise sa.exc.DisconnectionError("connection closed")
    try:
        readable, _, _ = select.select([driver.fileno()], [], [], 0)
    except (OSError, ValueError) as exc:
        raise sa.exc.DisconnectionError(str(exc)) from exc
    if readable:
        try:
            driver.execute(";")
            driver.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure: a new connection
            raise sa.exc.DisconnectionError(str(exc)) from exc


class WriterBusy(OperationalError):
    """Another writer held the SQLite file longer than the busy timeout."""

    def __init__(self, seconds: float):
        super().__init__("waiting for the SQLite writer lock", None,
                         TimeoutError(f"database is locked (waited {seconds:.1f} s)"))


class SqliteWriterLock:
    """Writers to one SQLite file take turns before BEGIN IMMEDIATE, across threads and
    processes.

    SQLite's own busy handler sleeps 1, 2, 5 ... up to 100 ms between tries, so writers
    that meet at the file lock wait far longer than the writes take and the slowest
    requests stretch to hundreds of milliseconds. Here threads queue on a lock and
    processes on an flock() beside the database, polled every 0.2-2 ms, so the file is
    handed over almost as soon as it is free. The busy timeout still bounds the wait.
    """

    def __init__(self, database: str, timeout_s: float):
        self._path = database + "-writer.lock"
        self._timeout = timeout_s
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> SqliteWriterLock:
        deadline = time.monotonic() + self._timeout
        if not self._threads.acquire(timeout=self._timeout):
            raise WriterBusy(self._timeout)
        try:
            fd = self._file()
            delay = 0.0002
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return self
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WriterBusy(self._timeout) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.002)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child needs its own
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, AbstractContextManager] = (
    weakref.WeakKeyDictionary())
_NO_LOCK = nullcontext()


def writer_lock(engine: Engine) -> AbstractContextManager:
    """The lock a write transaction takes before it begins (SQLite only; see above)."""
    if engine.dialect.name != "sqlite":
        return _NO_LOCK
    lock = _SQLITE_WRITERS.get(engine)
    if lock is None:  # an engine not made by make_engine
        lock = _SQLITE_WRITERS.setdefault(engine, threading.Lock())
    return lock


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back on any error."""
    with writer_lock(engine), engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only snapshot: every query in the block sees the same committed state."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


class DeferredWrites:
    """A connection for the writes of one append that need no answer (PostgreSQL only).

    Under the log's head lock every round trip keeps all other writers waiting. Writes
    given to `execute` here (INSERT, UPDATE, DELETE without RETURNING) are held and sent
    together in one psycopg pipeline when an answer is first needed: a read of a table
    they write, a `rowcount`, or `flush()`. A read of other tables goes straight through,
    so what a caller reads is what it would read without deferral. `later(fn)` runs fn
    once the held writes are sent (checks on row counts). Database errors come back as
    SQLAlchemy's exceptions, as from `Connection.execute`.
    """

    def __init__(self, conn: Connection):
        self._conn = conn
        self._held: list[_Write] = []
        self._tables: set[str] = set()
        self._later: list[Callable[[], object]] = []
        self._on_error: dict[str, Callable[[sa.exc.DBAPIError], object]] = {}
        self._mismatch: dict[str, Callable[[int], Exception]] = {}

    def __getattr__(self, name: str) -> Any:
        if name in ("connection", "exec_driver_sql", "begin_nested"):
            self.flush()  # raw access sees every held write
        return getattr(self._conn, name)

    def execute(self, statement: Any, parameters: Any = None, **kw: Any) -> Any:
        if not kw and _deferrable(statement):
            rows = parameters if isinstance(parameters, list) else [parameters or {}]
            compiled = _compiled(statement, self._conn.dialect, tuple(rows[0]))
            if compiled is not None:
                held = _Held(self)
                self._held.append(_Write(*compiled, rows, isinstance(parameters, list), held,
                                         statement))
                self._tables.add(statement.table.name)
                return held
        # anything else (a read of a held table, IN lists, RETURNING) sees the held writes
        if self._held and (not isinstance(statement, sa.Select)
                           or _reads(statement) & self._tables):
            self.flush()
        return self._conn.execute(statement, parameters, **kw)

    def later(self, check: Callable[[], object]) -> None:
        self._later.append(check)

    def lead(self, statement: Any, parameters: dict[str, Any],
             reads: Sequence[LockedRead] = ()) -> Any:
        """Run `statement` (one row back, say an UPDATE ... RETURNING) and then each of
        `reads`, in one round trip, on the connection itself: writes held so far stay held
        (as for a statement given to the connection directly). Each read's one row goes to
        its `row`. Returns the statement's row."""
        if self._held and any(_reads(r.statement) & self._tables for r in reads):
            self.flush()  # a read sees every held write to what it reads
        queries = [(statement, parameters), *((r.statement, r.params) for r in reads)]
        shapes = [_compiled(q, self._conn.dialect, tuple(p)) for q, p in queries]
        if any(shape is None for shape in shapes):
            row = self._conn.execute(statement, parameters).one()
            for read in reads:
                read.row = self._conn.execute(read.statement, read.params).one()
            return row
        leads = [_Write(sql, process, [params], False, _Held(self), None)
                 for (sql, process), (_, params) in zip(shapes, queries, strict=True)]
        self._send(leads)
        rows = [_one_row(q, self._conn.dialect, lead.result.cursor)
                for (q, _), lead in zip(queries, leads, strict=True)]
        for read, row in zip(reads, rows[1:], strict=True):
            read.row = row
        return rows[0]

    def execute_expecting(self, statement: Any, parameters: dict[str, Any], rows: int,
                          name: str, mismatch: Callable[[int], Exception]) -> None:
        """A held write that must change exactly `rows` rows, else `mismatch(count)` is
        raised. The database checks it in the statement itself, so nothing has to be read
        back before a commit sent in the same round trip (see `commit`)."""
        shape = _compiled(statement, self._conn.dialect, tuple(parameters)) \
            if _deferrable(statement) else None
        if shape is None:
            result = self.execute(statement, parameters)

            def check() -> None:
                if result.rowcount != rows:
                    raise mismatch(result.rowcount)
            self.later(check)
            return
        sql, process = shape
        self._held.append(_Write(sql, process, [parameters], False, _Held(self), statement,
                                 check=(int(rows), name)))
        self._tables.add(statement.table.name)
        self._mismatch[name] = mismatch

    def commit(self) -> bool:
        """Send the held writes and COMMIT in one round trip. True if committed here;
        False (the writes sent, their checks run) when checks must run before the commit,
        which the caller then makes itself."""
        if self._later:
            self.flush()
            return False
        held, self._held, self._tables = self._held, [], set()
        self._send(held, commit=True)
        return True

    def on_error(self, table: str, handler: Callable[[sa.exc.DBAPIError], object]) -> None:
        """If a held write to `table` fails, `handler(error)` may raise something more
        telling (say, a version conflict for a unique key on the events)."""
        self._on_error[table] = handler

    def flush(self) -> None:
        while self._held or self._later:
            held, self._held, self._tables = self._held, [], set()
            if held:
                self._send(held)
            checks, self._later = self._later, []
            for check in checks:
                check()

    def _send(self, held: list, *, commit: bool = False) -> None:
        import psycopg

        driver = self._conn.connection.driver_connection
        dialect = self._conn.dialect
        sql = None
        sent: list[tuple[Any, Any]] = []
        try:
            with driver.pipeline():
                for unit in _statements(held):
                    cursor = driver.cursor()
                    if isinstance(unit, _Write):
                        sql = unit.checked_sql() if unit.check else unit.sql
                        if unit.many:
                            cursor.executemany(sql, [unit.process(r) for r in unit.rows])
                        else:
                            cursor.execute(sql, unit.process(unit.rows[0]))
                        unit.result.cursor = cursor
                    else:
                        sql, order = _combined(unit)
                        cursor = psycopg.RawCursor(driver)
                        cursor.execute(sql, _combined_params(unit, order))
                    sent.append((unit, cursor))
                if commit:
                    sql = "COMMIT"
                    driver.execute(sql)
            for unit, cursor in sent:
                if isinstance(unit, _Write):
                    unit.result.count = cursor.rowcount
                else:  # one count per member, in order
                    for (write, _), count in zip(unit, cursor.fetchone(), strict=True):
                        write.result.count = (write.result.count or 0) + count
        except psycopg.Error as exc:
            error = sa.exc.DBAPIError.instance(
                sql, None, exc, psycopg.Error, dialect=dialect, ismulti=False)
            if driver.broken or driver.pgconn.pipeline_status != psycopg.pq.PipelineStatus.OFF:
                # the server went away mid-pipeline: the connection cannot even roll back
                # (it is stuck in pipeline mode), so it is dropped, not reset and pooled
                self._conn.invalidate(exc)
                raise error from exc
            found = _ROWCOUNT_FAILED.search(str(exc))
            if found and found.group(1) in self._mismatch:
                raise self._mismatch[found.group(1)](int(found.group(2))) from exc
            handler = self._on_error.get(getattr(exc.diag, "table_name", None) or "")
            if handler is not None:
                handler(error)
            raise error from exc


@dataclass
class LockedRead:
    """A query of one row to answer under the log's head lock: on PostgreSQL it is sent
    in the head update's own round trip; `row` holds the answer once the append took the
    lock."""

    statement: Any
    params: dict[str, Any]
    row: Any = None


_ROWCOUNT = "moderation rowcount"
_ROWCOUNT_FAILED = re.compile(_ROWCOUNT + r" (\w+):(\d+)")
_ROW_SHAPES: dict[tuple, tuple[type, list]] = {}


def _one_row(statement: Any, dialect: Any, cursor: Any) -> Any:
    """The one row a query sent by `lead` returned, typed as SQLAlchemy would."""
    shape = (statement, dialect.name)
    found = _ROW_SHAPES.get(shape)
    if found is None:
        compiled = statement.compile(dialect=dialect)
        columns = compiled._result_columns
        names = [c.keyname for c in columns]
        processors = [c.type._cached_result_processor(dialect, None) for c in columns]
        if len(_ROW_SHAPES) > 256:
            _ROW_SHAPES.clear()
        found = _ROW_SHAPES[shape] = (namedtuple("Row", names, rename=True), processors)
    row_type, processors = found
    values = cursor.fetchone()
    if values is None or cursor.fetchone() is not None:
        raise sa.exc.NoResultFound("expected exactly one row") if values is None else \
            sa.exc.MultipleResultsFound("expected exactly one row")
    return row_type(*(p(v) if p else v for p, v in zip(processors, values, strict=True)))


class _Held:
    """The result of a held write: its row count is known once the writes are sent."""

    def __init__(self, writes: DeferredWrites):
        self._writes = writes
        self.cursor: Any = None  # a statement sent on its own (`lead` reads its row)
        self.count: int | None = None

    @property
    def rowcount(self) -> int:
        if self.count is None:
            self._writes.flush()
        return self.count


class _Write:
    """One held statement: its SQL and parameter converter, its rows, what it touches."""

    __slots__ = ("sql", "process", "rows", "many", "result", "check", "table", "touches",
                 "appends")

    def __init__(self, sql: str, process: Callable[[dict], dict], rows: list[dict],
                 many: bool, result: _Held, statement: Any,
                 check: tuple[int, str] | None = None):
        self.sql, self.process, self.rows, self.many = sql, process, rows, many
        self.result, self.check = result, check
        if statement is None:  # not combinable (a lead)
            self.table, self.touches, self.appends = "", frozenset(), False
            return
        self.table = statement.table.name
        self.touches = _reads(statement)
        # a plain INSERT ... VALUES: several of them into one table may share a statement
        self.appends = (isinstance(statement, sa.Insert) and statement.select is None
                        and statement._post_values_clause is None)

    def checked_sql(self) -> str:
        rows, name = self.check
        returning = "" if _RETURNS.search(self.sql) else " RETURNING 1"
        return (f"WITH changed AS ({self.sql}{returning}) SELECT CASE WHEN count(*) = "
                f"{rows} THEN 0 ELSE CAST('{_ROWCOUNT} {name}:' || count(*) AS integer) "
                "END FROM changed")


# Writes sent as one statement: each is a data-modifying CTE. They all run on one
# snapshot, so a write joins the statement only if nothing before it in that statement
# wrote a table it reads or writes (plain inserts into one table excepted): then it sees
# exactly what it would have seen sent on its own, after the ones before it.
_MAX_COMBINED = 32
_PARAM = re.compile(r"%%|%\((\w+)\)s")
_RETURNS = re.compile(r"\sRETURNING\s")


def _statements(held: list[_Write]) -> Iterator[_Write | list[tuple[_Write, dict]]]:
    """The held writes as statements to send, in order: a write on its own, or a list of
    (write, row) combined into one statement."""
    group: list[tuple[_Write, dict]] = []
    written: set[str] = set()
    appended: set[str] = set()  # tables in `written` that only plain inserts wrote

    def done() -> Iterator[_Write | list[tuple[_Write, dict]]]:
        if len(group) == 1:
            yield group[0][0]
        elif group:
            yield list(group)
        group.clear()
        written.clear()
        appended.clear()

    for write in held:
        if (write.sql.lstrip()[:4].upper() == "WITH" or not write.table
                or (len(write.rows) > 1
                    and (not write.appends or len(write.rows) > _MAX_COMBINED))):
            yield from done()
            yield write
            continue
        clash = write.touches & written
        if clash and not (write.appends and clash <= appended):
            yield from done()
        rows = write.rows if write.many else write.rows[:1]
        if len(group) + len(rows) > _MAX_COMBINED:
            yield from done()
        if write.table not in written:
            written.add(write.table)
            if write.appends:
                appended.add(write.table)
        group.extend((write, row) for row in rows)
    yield from done()


_COMBINED: dict[tuple, tuple[bytes, list[tuple[int, str]]]] = {}


def _combined(members: list[tuple[_Write, dict]]) -> tuple[bytes, list[tuple[int, str]]]:
    """The statement of `members` in PostgreSQL's own placeholders ($1 ...), and which
    member's parameter goes in each, built once per shape: psycopg would otherwise parse
    a statement this long for placeholders at every execution (it caches short ones)."""
    shape = tuple((write.sql, write.check) for write, _ in members)
    found = _COMBINED.get(shape)
    if found is None:
        parts, counts, order = [], [], []
        for k, (write, _) in enumerate(members):
            numbers: dict[str, str] = {}

            def number(m: re.Match, k: int = k, numbers: dict = numbers) -> str:
                if m.group(1) is None:
                    return "%"  # SQLAlchemy's escaped percent sign
                if m.group(1) not in numbers:
                    order.append((k, m.group(1)))
                    numbers[m.group(1)] = f"${len(order)}"
                return numbers[m.group(1)]

            inner = _PARAM.sub(number, write.sql)
            if not _RETURNS.search(inner):  # SQLAlchemy adds one for generated keys
                inner += " RETURNING 1"
            parts.append(f"w{k} AS ({inner})")
            if write.check:
                rows, name = write.check
                counts.append(f"(SELECT CASE WHEN count(*) = {rows} THEN count(*) ELSE "
                              f"CAST('{_ROWCOUNT} {name}:' || count(*) AS integer) END "
                              f"FROM w{k})")
            else:
                counts.append(f"(SELECT count(*) FROM w{k})")
        sql = "WITH " + ", ".join(parts) + " SELECT " + ", ".join(counts)
        found = (sql.encode(), order)
        if len(_COMBINED) > 1024:
            _COMBINED.clear()
        _COMBINED[shape] = found
    return found


def _combined_params(members: list[tuple[_Write, dict]],
                     order: list[tuple[int, str]]) -> list[Any]:
    processed = [write.process(row) for write, row in members]
    return [processed[k][name] for k, name in order]


def _deferrable(statement: Any) -> bool:
    return (isinstance(statement, sa.Insert | sa.Update | sa.Delete)
            and not statement._returning and isinstance(statement.table, sa.Table))


_READS: dict[Any, frozenset[str]] = {}


def _reads(statement: sa.Select) -> frozenset[str]:
    """The tables a query reads, found once per statement (the hot ones are built once;
    walking a construct on every call cost more than the query)."""
    found = _READS.get(statement)
    if found is None:
        from sqlalchemy.sql.util import find_tables
        found = frozenset(t.name for t in find_tables(statement, include_crud=True))
        if len(_READS) > 1024:
            _READS.clear()
        _READS[statement] = found
    return found


_COMPILED: dict[tuple, tuple[str, Callable[[dict], dict]] | None] = {}


def _compiled(statement: Any, dialect: Any, keys: tuple[str, ...]
              ) -> tuple[str, Callable[[dict], dict]] | None:
    """SQL and a parameter converter exactly as SQLAlchemy would send them, built once
    per statement and set of keys; None for a statement SQLAlchemy must expand itself at
    each execution (IN lists, literal values, escaped names)."""
    shape = (statement, dialect.name, keys)
    if shape in _COMPILED:
        return _COMPILED[shape]
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    found = None
    if not (compiled.post_compile_params or compiled.literal_execute_params
            or compiled.escaped_bind_names or compiled.positional):
        processors = compiled._bind_processors

        def process(params: dict, compiled: Any = compiled) -> dict:
            values = compiled.construct_params(params, escape_names=False)
            return {k: processors[k](v) if k in processors else v
                    for k, v in values.items()}

        found = (compiled.string, process)
    if len(_COMPILED) > 1024:
        _COMPILED.clear()
    _COMPILED[shape] = found
    return found


def deferring(conn: Connection) -> Connection | DeferredWrites:
    """`DeferredWrites` on PostgreSQL; on SQLite (no round trips to save) the connection."""
    return DeferredWrites(conn) if conn.dialect.name == "postgresql" else conn
