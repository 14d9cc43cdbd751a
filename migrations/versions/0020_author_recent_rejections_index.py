"""Author standing: an index for each author's recent rejections.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04

Every queue card shows how many of its author's comments were rejected in the last seven
days. That count walked all of an author's comments (200 each on the million-comment bench,
80 ms for a page of 50 cards on SQLite); with (author_id, status, decided_at) it reads only
the rejections in the window. No data changes, no replay.
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

INDEX = "ix_author_comments_author_id_status_decided_at"


def upgrade() -> None:
    op.create_index(INDEX, "author_comments", ["author_id", "status", "decided_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="author_comments")
