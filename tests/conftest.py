"""Shared fixtures: every contract test runs once on SQLite and once on the real PostgreSQL.

The unit modules (UNIT_MODULES below) run a third time on an in-memory SQLite database
(`sqlite://`, one shared connection): the same event store and read models with no file,
which is what `pytest -m unit` selects. Elsewhere that variant is deselected.

PostgreSQL is reached at TEST_POSTGRES_URL (default: the local server's `test` database).
Where it is unreachable the PostgreSQL cases skip, unless REQUIRE_POSTGRES=1 (CI sets it),
in which case they fail: CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.bootstrap import Services, build
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.projections.base import checkpoints
from service.projections.runner import ALL_PROJECTIONS

PG_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class FakeClock:
    """A clock tests move by hand, so time-dependent rules never need sleeping."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = _postgres_available()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required but unreachable at {PG_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem})")
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    settings = Settings(database_url=PG_URL)
    engine = make_engine(settings)
    upgrade(settings, engine=engine)
    engine.dispose()
    return PG_URL


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    engine = make_engine(settings)
    upgrade(settings, engine=engine)
    with engine.connect() as conn:  # fold the WAL into the file so a plain copy is complete
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def reset_postgres(url: str) -> None:
    """Empty every table between tests; the append-only triggers are paused only for this."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('alembic_version', 'installation')")]
        conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")
        conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)}")
        conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER USER")
        conn.exec_driver_sql("INSERT INTO event_store_head (id, last_position) VALUES (1, 0)")
        conn.execute(checkpoints.insert(),
                     [{"name": cls.name, "position": 0} for cls in ALL_PROJECTIONS])
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "memory":
        return Settings(database_url="sqlite://")
    if request.param == "sqlite":
        path = tmp_path / "moderation.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return Settings(database_url=f"sqlite:///{path}")
    url = request.getfixturevalue("postgres_url")
    reset_postgres(url)
    return Settings(database_url=url)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def memory_engine(settings: Settings, template: Path) -> sa.Engine:
    """An in-memory database holding a copy of the migrated template (SQLite's backup API:
    a page copy, far quicker than running the migrations again)."""
    engine = make_engine(settings)
    raw = engine.raw_connection()
    try:
        source = sqlite3.connect(template)
        source.backup(raw.driver_connection)
        source.close()
    finally:
        raw.close()
    return engine


@pytest.fixture
def services(request: pytest.FixtureRequest, settings: Settings,
             clock: FakeClock) -> Iterator[Services]:
    engine = None
    if sa.make_url(settings.database_url).database in (None, ""):
        engine = memory_engine(settings, request.getfixturevalue("sqlite_template"))
    built = build(settings, clock=clock, engine=engine)
    yield built
    built.close()


@pytest.fixture
def pg_services(postgres_url: str, clock: FakeClock) -> Iterator[Services]:
    """For tests that only mean something on PostgreSQL (real concurrency, TRUNCATE)."""
    reset_postgres(postgres_url)
    built = build(Settings(database_url=postgres_url, pool_size=12), clock=clock)
    yield built
    built.close()


# `pytest -m unit`: the domain, screening, application, event-store contract and projection
# tests, those with a database on the in-memory one, in seconds; the README's command runs
# everything, these on all three.
UNIT_MODULES = frozenset({"test_domain.py", "test_domain_limits.py", "test_domain_rules.py",
                          "test_screening.py",
                          "test_application.py", "test_eventstore_contract.py",
                          "test_projections.py", "test_logs.py", "test_text_patterns.py",
                          "test_ratelimit.py", "test_server_logs.py", "test_json_body.py"})


def _backend(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("settings") if callspec is not None else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        unit_module = item.path.name in UNIT_MODULES
        backend = _backend(item)
        if backend == "memory" and not unit_module:
            dropped.append(item)  # the in-memory variant is for the unit modules only
            continue
        kept.append(item)
        if unit_module and backend in (None, "memory"):
            item.add_marker(pytest.mark.unit)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
