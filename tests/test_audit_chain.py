"""The hash chain: tampering as the database owner is found, naming the position."""

from __future__ import annotations

import sqlalchemy as sa

from service.eventstore import chain
from service.eventstore.store import NewEvent


def _append(services, n: int) -> None:
    with services.engine.begin() as conn:
        for i in range(n):
            services.store.append(conn, f"s-{i}", [NewEvent("thing.happened", {"i": i})], 0)


def _tamper(services, statement: str) -> None:
    with services.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER events_no_update")
            conn.exec_driver_sql("DROP TRIGGER events_no_delete")
            conn.exec_driver_sql(statement)
        else:
            conn.exec_driver_sql("ALTER TABLE events DISABLE TRIGGER USER")
            conn.exec_driver_sql(statement)
            conn.exec_driver_sql("ALTER TABLE events ENABLE TRIGGER USER")


def test_an_intact_log_verifies(services):
    _append(services, 5)
    with services.engine.connect() as conn:
        result = chain.verify(conn)
        assert result.broken is None and result.checked == 5
        assert chain.verify(conn, start=3).checked == 3


def test_changed_data_is_named_by_position(services):
    _append(services, 5)
    with services.engine.begin() as conn:
        data = conn.execute(sa.text("SELECT data FROM events WHERE position = 3")).scalar_one()
    assert data is not None
    _tamper(services, "UPDATE events SET stream_id = 'forged' WHERE position = 3")
    with services.engine.connect() as conn:
        broken = chain.verify(conn).broken
    assert broken is not None and broken.position == 3


def test_a_deleted_row_is_named_as_a_gap(services):
    _append(services, 5)
    _tamper(services, "DELETE FROM events WHERE position = 2")
    with services.engine.connect() as conn:
        broken = chain.verify(conn).broken
    assert broken is not None and broken.position == 2 and "missing" in broken.reason
