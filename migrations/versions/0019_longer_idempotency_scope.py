"""Idempotency keys: the scope names the article or comment a key belongs to
(`submit:<article id>`), and an article id may be 100 characters long, so the scope
column holds 200.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04

A submission with an Idempotency-Key to an article with an id of 94 characters or more
was refused by PostgreSQL's length check after its events were written, and answered 500.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("scope", type_=sa.String(200), existing_type=sa.String(100),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.alter_column("scope", type_=sa.String(100), existing_type=sa.String(200),
                           existing_nullable=False)
