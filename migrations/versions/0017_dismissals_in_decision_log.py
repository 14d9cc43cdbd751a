"""Decision log: report dismissals (`comment.reports_dismissed`) are decisions too.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

No table changes: the decision log gains rows of type `reports_dismissed`. On a database
that already holds dismissals the decision log's checkpoint is set back to 0, so it is
replayed (and lists them) before use: `moderation serve` does that before it starts (or
run `moderation projections rebuild`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE projection_checkpoints SET position = 0 "
                       "WHERE name = 'decision_log' AND EXISTS (SELECT 1 FROM events "
                       "WHERE type = 'comment.reports_dismissed')"))


def downgrade() -> None:
    # the older code does not know the rows: replay it without them
    op.execute(sa.text("DELETE FROM decision_log WHERE decision = 'reports_dismissed'"))
