"""Alembic environment: the URL and engine come from the service's own Settings."""

from __future__ import annotations

from alembic import context

from service.config import Settings
from service.db import WRITE, make_engine
from service.projections.search import outside_models
from service.schema import metadata

config = context.config
settings = config.attributes.get("settings") or Settings.from_env()
engine = config.attributes.get("engine") or make_engine(settings)


def run_migrations_online() -> None:
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=outside_models,  # the text index: derived, not in the models
            transactional_ddl=True,  # SQLite rolls DDL back too: no half-done upgrade
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_migrations_online()
