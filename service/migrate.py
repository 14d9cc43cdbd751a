"""Schema migrations with Alembic, driven from code so the CLI and tests share one path."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from .config import Settings
from .logs import quiet

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: Settings, engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["settings"] = settings
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(settings: Settings, revision: str = "head", engine: Engine | None = None) -> None:
    command.upgrade(alembic_config(settings, engine), revision)


def downgrade(settings: Settings, revision: str, engine: Engine | None = None) -> None:
    command.downgrade(alembic_config(settings, engine), revision)


def quietly() -> AbstractContextManager[None]:
    """Alembic's own INFO lines (one per migration, two per connection) held back; callers
    log one line saying what changed."""
    return quiet("alembic")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config(Settings())).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with quietly(), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
