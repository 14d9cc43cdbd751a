"""Claims: a moderator's advisory "I am handling this comment", with an expiry.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Claims are coordination, not facts: they are kept out of the log, so there is nothing to
back-fill and nothing for a rebuild to replay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "comment_claims",
        sa.Column("comment_id", sa.String(36), nullable=False),
        sa.Column("moderator_id", sa.String(200), nullable=False),
        sa.Column("claimed_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("comment_id"),
    )
    op.create_index("ix_comment_claims_expires_at", "comment_claims", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_comment_claims_expires_at", table_name="comment_claims")
    op.drop_table("comment_claims")
