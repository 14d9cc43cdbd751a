"""Webhook signing secrets are stored wrapped by the master key: a longer column.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

Existing secrets stay as they are (readable either way) until `moderation keys
rotate-master` wraps them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoint_secrets") as batch:
        batch.alter_column("secret", type_=sa.String(300), existing_type=sa.String(100),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoint_secrets") as batch:
        batch.alter_column("secret", type_=sa.String(100), existing_type=sa.String(300),
                           existing_nullable=False)
