"""Search: a real text index over the folded text of comment_search.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

PostgreSQL: a generated tsvector column (`simple` configuration) with a GIN index.
SQLite: an FTS5 table keyed by the comment's submission position, kept equal to
comment_search.folded by triggers, so a projection rebuild's swap (delete, then insert)
and an erasure (folded set to NULL) keep it in step. Neither is in the SQLAlchemy models:
they are indexes of comment_search, derived from it (see service.projections.search).
A later batch migration that recreates comment_search on SQLite must recreate the triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

POSTGRES_UP = (
    "ALTER TABLE comment_search ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, coalesce(folded, ''))) STORED",
    "CREATE INDEX ix_comment_search_search_vector ON comment_search USING gin (search_vector)",
)
POSTGRES_DOWN = (
    "DROP INDEX ix_comment_search_search_vector",
    "ALTER TABLE comment_search DROP COLUMN search_vector",
)
SQLITE_UP = (
    "CREATE VIRTUAL TABLE comment_search_fts USING fts5("
    "folded, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TRIGGER comment_search_fts_insert AFTER INSERT ON comment_search "
    "WHEN new.folded IS NOT NULL BEGIN "
    "INSERT INTO comment_search_fts (rowid, folded) VALUES (new.submitted_position, new.folded); "
    "END",
    "CREATE TRIGGER comment_search_fts_delete AFTER DELETE ON comment_search BEGIN "
    "DELETE FROM comment_search_fts WHERE rowid = old.submitted_position; "
    "END",
    "CREATE TRIGGER comment_search_fts_update AFTER UPDATE OF folded, submitted_position "
    "ON comment_search BEGIN "
    "DELETE FROM comment_search_fts WHERE rowid = old.submitted_position; "
    "INSERT INTO comment_search_fts (rowid, folded) "
    "SELECT new.submitted_position, new.folded WHERE new.folded IS NOT NULL; "
    "END",
    "INSERT INTO comment_search_fts (rowid, folded) "
    "SELECT submitted_position, folded FROM comment_search WHERE folded IS NOT NULL",
)
SQLITE_DOWN = (
    "DROP TRIGGER comment_search_fts_update",
    "DROP TRIGGER comment_search_fts_delete",
    "DROP TRIGGER comment_search_fts_insert",
    "DROP TABLE comment_search_fts",
)


def _run(statements: tuple[str, ...]) -> None:
    for statement in statements:
        op.execute(sa.text(statement))


def upgrade() -> None:
    _run(POSTGRES_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP)


def downgrade() -> None:
    _run(POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN)
