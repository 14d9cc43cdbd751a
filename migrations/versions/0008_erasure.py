"""Erasure: read models mark the comments whose author was erased.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

`author.erased` nulls every plaintext copy in the read models and sets `erased` on the
author's comments (their state, their place in the public thread, their decisions). Nothing
was erased before this revision, so existing rows start at false.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("comment_state", "public_comments", "decision_log", "decision_log_submissions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("erased", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("erased")
