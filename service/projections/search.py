"""Search over comment text for moderators: each comment's body folded the way screening
folds text (case, compatibility forms, Arabic marks and letter variants, invisible marks)
and with Latin accents removed, so `Hêvî` and `hevi` meet. Erasing an author removes their
text from here in the erasure's own transaction (the row stays, with no text).

The text index is the database's own, derived from `comment_search.folded` and created by
migration 0016 outside the models: on PostgreSQL a generated tsvector column
(`search_vector`, `simple` configuration, GIN index), on SQLite an FTS5 table
(`comment_search_fts`, rowid = the submission's position) kept in step by triggers. A query's
words are folded like the text and must all be found, as whole words; each is handed over as
plain data (plainto_tsquery; an FTS5 phrase in double quotes), so no input is query syntax.
After an erasure SQLite's FTS5 index is merged (`optimize`), so the erased words leave its
segments instead of waiting under a delete marker.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import UTCDateTime, metadata
from ..domain.events import (
    AuthorErased,
    CommentApproved,
    CommentRejected,
    CommentScreened,
    CommentSubmitted,
)
from ..screening.normalise import fold
from .base import Change, Projection, RowBatch
from .comments import comment_state

# Objects migration 0016 creates beside comment_search that the models do not declare
# (see `outside_models`, used by Alembic's comparisons).
FTS_TABLE = "comment_search_fts"
VECTOR_COLUMN = "search_vector"
VECTOR_INDEX = "ix_comment_search_search_vector"

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

comment_search = sa.Table(
    "comment_search",
    metadata,
    sa.Column("comment_id", sa.String(36), primary_key=True),
    sa.Column("article_id", sa.String(100), nullable=False),
    sa.Column("author_id", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("flags", sa.Text(), nullable=False),  # " code1 code2 "
    sa.Column("folded", sa.Text(), nullable=True),
    sa.Column("submitted_position", Position, nullable=False),
    sa.Column("submitted_at", UTCDateTime(), nullable=False),
    sa.Index(None, "submitted_position"),
)


# the combining marks below the Hebrew block (Latin, Greek, Cyrillic accents), deleted by
# one str.translate in C rather than a test of each character's category in Python
_ACCENTS = dict.fromkeys(c for c in range(0x0590) if unicodedata.category(chr(c)) == "Mn")


def search_fold(text: str) -> str:
    """Screening's fold, then accents off (ê -> e) and runs of space made one."""
    folded = fold(text)
    if folded.isascii():  # nothing to decompose or compose (a replay folds every comment)
        return " ".join(folded.split())
    plain = unicodedata.normalize("NFD", folded).translate(_ACCENTS)
    return " ".join(unicodedata.normalize("NFC", plain).split())


class SearchProjection(Projection):
    name = "search"
    live_tables = (comment_search,)

    def apply_all(self, conn: Connection, changes: Sequence[Change]) -> None:
        (table,) = self.tables
        rows = RowBatch(table, "comment_id")
        erased = False
        for recorded, event in changes:
            match event:
                case CommentSubmitted():
                    rows.insert(dict(
                        comment_id=event.comment_id, article_id=event.article_id,
                        author_id=event.author_id, status="pending", flags=" ",
                        folded=search_fold(event.body) if event.body else None,
                        submitted_position=recorded.position,
                        submitted_at=event.submitted_at))
                case CommentScreened():
                    codes = sorted({f.code for f in event.flags})
                    rows.update(event.comment_id, flags=" " + " ".join(codes) + " ")
                case CommentApproved():
                    rows.update(event.comment_id, status="approved")
                case CommentRejected():
                    rows.update(event.comment_id, status="rejected")
                case AuthorErased():
                    for comment_id in event.comment_ids:
                        rows.update(comment_id, folded=None)
                    erased = True
        rows.flush(conn)
        if erased and conn.dialect.name == "sqlite":  # the live table or a rebuild's copy
            conn.execute(_OPTIMIZE if table is comment_search else _optimize(table.name))


def _optimize(table: str) -> sa.TextClause:
    """Merge the FTS5 index of `table` (comment_search, or a rebuild's copy of it)."""
    return sa.text(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('optimize')")


_OPTIMIZE = _optimize(comment_search.name)


def sqlite_text_index(table: str) -> list[str]:
    """The FTS5 table of `table` and the triggers that keep it equal to `folded`: what
    migration 0016 made for comment_search, and what a rebuild makes for its copy."""
    fts = f"{table}_fts"
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5("
        "folded, tokenize = 'unicode61 remove_diacritics 0')",
        *sqlite_text_triggers(table),
    ]


def sqlite_text_triggers(table: str) -> list[str]:
    fts = f"{table}_fts"
    return [
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} "
        "WHEN new.folded IS NOT NULL BEGIN "
        f"INSERT INTO {fts} (rowid, folded) VALUES (new.submitted_position, new.folded); "
        "END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"DELETE FROM {fts} WHERE rowid = old.submitted_position; "
        "END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF folded, submitted_position "
        f"ON {table} BEGIN "
        f"DELETE FROM {fts} WHERE rowid = old.submitted_position; "
        f"INSERT INTO {fts} (rowid, folded) "
        "SELECT new.submitted_position, new.folded WHERE new.folded IS NOT NULL; "
        "END",
    ]


def sqlite_text_trigger_names(table: str) -> list[str]:
    return [f"{table}_fts_{kind}" for kind in ("insert", "delete", "update")]


def postgres_text_column(qualified_table: str) -> str:
    """The generated tsvector column (added to an empty copy: computed as rows arrive)."""
    return (f"ALTER TABLE {qualified_table} ADD COLUMN {VECTOR_COLUMN} tsvector GENERATED "
            "ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(folded, ''))) STORED")


def postgres_text_index(qualified_table: str) -> str:
    """Its GIN index, under the one name the migration gave it (index names are per
    schema, so a rebuild's copy in its own schema takes the same name)."""
    return f"CREATE INDEX {VECTOR_INDEX} ON {qualified_table} USING gin ({VECTOR_COLUMN})"
_fts = sa.table(FTS_TABLE, sa.column("rowid"), sa.column("folded"))


def outside_models(name: str | None, type_: str, parent_names: dict) -> bool:
    """False for the text index objects (Alembic `include_name`): SQLite's FTS5 table and
    its shadow tables, PostgreSQL's tsvector column and its index."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    return not (type_ == "column" and name == VECTOR_COLUMN
                or type_ == "index" and name == VECTOR_INDEX)


def _is_word_char(c: str) -> bool:
    category = unicodedata.category(c)
    return category[0] in "LNM" or category == "Co"


def query_words(q: str) -> list[str]:
    """The words of q, folded: runs of letters, digits and marks (what FTS5's unicode61
    tokenizer keeps); everything else only separates them."""
    return "".join(c if _is_word_char(c) else " " for c in search_fold(q)).split()


def text_match(conn: Connection, q: str, words: list[str]) -> sa.ColumnElement[bool]:
    t = comment_search
    if conn.dialect.name == "postgresql":
        # the folded query through the same parser as the text (an e-mail address is
        # one word on both sides)
        return sa.literal_column(f"{t.name}.{VECTOR_COLUMN}").op("@@")(
            sa.func.plainto_tsquery(sa.literal_column("'simple'::regconfig"),
                                    sa.literal(search_fold(q), sa.Text())))
    phrases = " ".join('"' + w.replace('"', '""') + '"' for w in words)
    return t.c.submitted_position.in_(
        sa.select(_fts.c.rowid).where(
            _fts.c.folded.op("MATCH")(sa.literal(phrases, sa.Text()))))


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(conn: Connection, *, q: str | None, author_id: str | None,
           article_id: str | None, status: str | None, flag: str | None,
           since: datetime | None, until: datetime | None, before: int | None,
           limit: int) -> list[dict[str, Any]]:
    """Newest first, by keyset on the submission's position (`before`: last one seen)."""
    t = comment_search
    query = (sa.select(comment_state, t.c.submitted_position)
             .join(comment_state, comment_state.c.comment_id == t.c.comment_id))
    if q:
        words = query_words(q)
        if not words:
            return []
        query = query.where(text_match(conn, q, words))
    if author_id is not None:
        query = query.where(t.c.author_id == author_id)
    if article_id is not None:
        query = query.where(t.c.article_id == article_id)
    if status is not None:
        query = query.where(t.c.status == status)
    if flag is not None:
        query = query.where(t.c.flags.like(_like(f" {flag} "), escape="\\"))
    if since is not None:
        query = query.where(t.c.submitted_at >= sa.literal(since, UTCDateTime()))
    if until is not None:
        query = query.where(t.c.submitted_at < sa.literal(until, UTCDateTime()))
    if before is not None:
        query = query.where(t.c.submitted_position < before)
    query = query.order_by(t.c.submitted_position.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]
