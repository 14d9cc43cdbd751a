"""Closing articles to new comments: the articles read model learns open/closed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Existing articles have only their registration on their stream, so they are open and at
version 1; nothing needs replaying.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("closed", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("closed_message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("closed_at", UTC, nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False,
                                   server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        for name in ("version", "closed_by", "closed_at", "closed_message", "closed"):
            batch.drop_column(name)
