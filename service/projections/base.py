"""What every projection is: named tables plus a deterministic `apply` for each event.

A projection writes only its own tables and never reads the clock or the network, so
replaying the log into fresh copies of its tables must give exactly the live state.
"""

from __future__ import annotations

from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..db import metadata
from ..domain.events import DomainEvent
from ..eventstore import RecordedEvent

checkpoints = sa.Table(
    "projection_checkpoints",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
)


class Projection:
    name: ClassVar[str]
    live_tables: ClassVar[tuple[sa.Table, ...]]

    def __init__(self, tables: tuple[sa.Table, ...] | None = None):
        self.tables = tables or self.live_tables

    def apply(self, conn: Connection, event: DomainEvent, recorded: RecordedEvent) -> None:
        raise NotImplementedError


def upsert_add(conn: Connection, table: sa.Table, key: dict, increments: dict[str, int]) -> None:
    """Add to counters in a row, creating it at zero first. Portable across both databases."""
    where = sa.and_(*(table.c[k] == v for k, v in key.items()))
    result = conn.execute(
        table.update().where(where).values(
            {name: table.c[name] + delta for name, delta in increments.items()}
        )
    )
    if result.rowcount == 0:
        row = dict(key)
        for column in table.columns:
            if column.name not in key:
                row[column.name] = increments.get(column.name, 0)
        conn.execute(table.insert().values(row))
