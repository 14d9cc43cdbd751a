"""Hash chain: every event carries SHA-256 over the previous hash and itself as stored.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Existing events get their chain here, in position order, page by page. The append-only
triggers are paused only for that fill, inside this migration's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.db import UTCDateTime
from service.eventstore.chain import GENESIS, canonical, link

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
SQLITE_NO_UPDATE = """CREATE TRIGGER events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END"""
PAGE = 2000

events = sa.table(
    "events",
    sa.column("position", Position), sa.column("event_id", sa.Uuid(as_uuid=False)),
    sa.column("stream_id", sa.String()), sa.column("version", sa.Integer()),
    sa.column("type", sa.String()), sa.column("schema_version", sa.SmallInteger()),
    sa.column("data", JSONDoc), sa.column("metadata", JSONDoc),
    sa.column("recorded_at", UTCDateTime()), sa.column("hash", sa.LargeBinary()),
)


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER events_no_update")
        op.execute("ALTER TABLE events ADD COLUMN hash BLOB NOT NULL DEFAULT x''")
    else:
        op.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
        op.execute("ALTER TABLE events ADD COLUMN hash bytea")
    _chain_existing(conn)
    if sqlite:
        op.execute(SQLITE_NO_UPDATE)
    else:
        op.execute("ALTER TABLE events ALTER COLUMN hash SET NOT NULL")
        op.execute("ALTER TABLE events ENABLE TRIGGER events_no_update")


def _chain_existing(conn: sa.Connection) -> None:
    previous, after = GENESIS, 0
    columns = [events.c[name] for name in (
        "position", "event_id", "stream_id", "version", "type", "schema_version", "data",
        "metadata", "recorded_at")]
    update = events.update().where(events.c.position == sa.bindparam("p")).values(
        hash=sa.bindparam("h"))
    while True:
        page = conn.execute(sa.select(*columns).where(events.c.position > after)
                            .order_by(events.c.position).limit(PAGE)).all()
        if not page:
            return
        hashes = []
        for row in page:
            previous = link(previous, canonical(*row))
            hashes.append({"p": row.position, "h": previous})
        conn.execute(update, hashes)
        after = page[-1].position


def downgrade() -> None:


    op.execute("ALTER TABLE events DROP COLUMN hash")
