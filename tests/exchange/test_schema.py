"""Migrations build exactly the schema the code uses, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from phoenyra.exchange.store import Store, metadata


def test_migrations_match_the_tables_the_code_uses(database_url):
    store = Store(database_url)
    try:
        store.migrate()
        store.migrate()  # idempotent
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        store.close()


def test_client_id_index_migration_keeps_orders_and_the_guarantee(database_url):
    """0006 swaps the unique constraint for a partial unique index on a table with orders."""
    import pytest
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import insert, inspect, select
    from sqlalchemy.exc import IntegrityError

    from phoenyra.exchange.store import MIGRATIONS_DIR, orders

    store = Store(database_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))

    def row(id_, client_id):
        return dict(
            id=id_, account_id=1, market="epex_at", delivery_start=None, side="BUY", price=50.0,
            quantity=1.0, filled=0.0, status="ACCEPTED", time_in_force="GTC",
            client_order_id=client_id, reject_code=None, created_at=1.0, updated_at=1.0,
        )  # fmt: skip

    try:
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005")
            conn.execute(insert(orders), [row(1, "a"), row(2, None), row(3, None)])
        store.migrate()
        with store.engine.begin() as conn:
            ids = [r.id for r in conn.execute(select(orders.c.id).order_by(orders.c.id))]
            conn.execute(insert(orders), [row(4, None), row(5, "b")])  # NULLs never clash
        assert ids == [1, 2, 3]
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(insert(orders), [row(6, "a")])
        # 0007: refused orders do not take their id, any number of them may share it.
        with store.engine.begin() as conn:
            conn.execute(insert(orders), [{**row(7, "c"), "status": "REJECTED"}])
            conn.execute(insert(orders), [{**row(8, "c"), "status": "REJECTED"}, row(9, "c")])
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(insert(orders), [{**row(10, "c"), "status": "FILLED"}])
        # Down to 0007 (0008's battery efficiencies go). On SQLite a migration's DDL is not
        # transactional here, so each step is taken on its own: a refused step then finds no
        # half-done one before it.
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
        # Below 0007 "c" would be taken three times: the downgrade refuses before any DDL, and
        # the guarantee still holds afterwards (on SQLite a half-done one dropped the index).
        with pytest.raises(RuntimeError, match="cannot downgrade"), store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0006")
        with pytest.raises(IntegrityError), store.engine.begin() as conn:
            conn.execute(insert(orders), [{**row(11, "c"), "status": "FILLED"}])
        with store.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
        assert not [t for t in tables if t.startswith("_alembic_tmp")], tables
        store.migrate()  # back to head: 0008 again, on the rows there are
    finally:
        store.close()
