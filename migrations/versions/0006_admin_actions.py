"""Administrative actions: the read model behind GET /v1/audit/actions.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

The only administrative events a log can hold before this revision are article
registrations; they are copied here and the read model's checkpoint is set to the log's
head, so appends go on without a rebuild.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UTC = sa.DateTime(timezone=True)
PROJECTION = "admin_actions"
PAGE = 2000

events = sa.table(
    "events",
    sa.column("position", Position), sa.column("stream_id", sa.String()),
    sa.column("type", sa.String()), sa.column("data", JSONDoc),
    sa.column("metadata", JSONDoc), sa.column("recorded_at", UTC),
)


def upgrade() -> None:
    actions = op.create_table(
        "admin_actions",
        sa.Column("position", Position, autoincrement=False, nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("actor_id", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("data", JSONDoc, nullable=False),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_admin_actions")),
    )
    op.create_index(op.f("ix_admin_actions_actor_id_position"), "admin_actions",
                    ["actor_id", "position"])
    op.create_index(op.f("ix_admin_actions_type_position"), "admin_actions",
                    ["type", "position"])
    op.create_index(op.f("ix_admin_actions_recorded_at"), "admin_actions", ["recorded_at"])
    conn = op.get_bind()
    after = 0
    while True:
        page = conn.execute(
            sa.select(events.c.position, events.c.stream_id, events.c.type, events.c.data,
                      events.c.metadata, events.c.recorded_at)
            .where(events.c.type == "article.registered", events.c.position > after)
            .order_by(events.c.position).limit(PAGE)).all()
        if not page:
            break
        rows = []
        for position, stream_id, type_, data, meta, recorded_at in page:
            actor = (meta or {}).get("actor") or {}
            rows.append({
                "position": position, "type": type_, "stream_id": stream_id,
                "actor_id": str(actor.get("id") or "unknown")[:100],
                "actor_role": str(actor.get("role") or "unknown")[:20],
                "recorded_at": recorded_at, "data": data,
            })
        op.bulk_insert(actions, rows)
        after = page[-1][0]
    head = conn.execute(sa.text("SELECT last_position FROM event_store_head WHERE id = 1")
                        ).scalar_one_or_none() or 0
    checkpoints = sa.table("projection_checkpoints", sa.column("name"), sa.column("position"))
    op.bulk_insert(checkpoints, [{"name": PROJECTION, "position": head}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM projection_checkpoints WHERE name = :name")
               .bindparams(name=PROJECTION))
    op.drop_table("admin_actions")
