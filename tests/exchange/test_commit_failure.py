"""A failed commit acknowledges nothing, and nothing computed on top of it is stored.

The failure is real: a PostgreSQL trigger makes the database refuse one order's batch.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import create_engine, text

from phoenyra.config import Settings
from phoenyra.core.errors import Reject
from phoenyra.core.orders import BUY, SELL
from phoenyra.exchange.service import ExchangeService, OrderRequest
from phoenyra.exchange.store import Store

POISON = 666.66  # the trigger refuses orders at this price, slowly, like a failing disk

# Fails once: a sequence is not rolled back with the failed transaction, so the next batch
# holding the same row would be stored if the writer let it through.
TRIGGER = f"""
CREATE SEQUENCE poison_once;
CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
BEGIN
  IF NEW.price = {POISON} AND nextval('poison_once') = 1 THEN
    PERFORM pg_sleep(0.3);
    RAISE EXCEPTION 'injected storage failure';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON orders
  FOR EACH ROW EXECUTE FUNCTION refuse_poison();
"""


async def _scenario(service: ExchangeService):
    await service.start()
    a = service.keyring.accounts[(await service.create_account("a", "trader", None))["id"]]
    b = service.keyring.accounts[(await service.create_account("b", "trader", None))["id"]]

    async def place(account, side, price, delay=0.0):
        await asyncio.sleep(delay)
        try:
            return await service.place_order(account, OrderRequest("epex_at", side, 1.0, price))
        except Reject as exc:
            return exc.code

    # The buy arrives while the poisoned sell's batch is still committing, and matches it.
    sell, buy = await asyncio.gather(place(a, SELL, POISON), place(b, BUY, POISON, 0.05))
    after = await place(b, BUY, 10.0)
    open_orders = list(service.engine.open_orders)
    await service.stop()
    return sell, buy, after, open_orders


def test_orders_computed_on_a_failed_batch_are_refused_and_not_stored(pg_url, tmp_path):
    store = Store(pg_url)
    store.migrate()
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(TRIGGER))
    settings = Settings(
        PHOENYRA_ENV="development", PHOENYRA_DATA_DIR=str(tmp_path), DATABASE_URL=pg_url
    )
    service = ExchangeService(settings, store)
    service.load()
    sell, buy, after, open_orders = asyncio.run(_scenario(service))

    assert sell == "STORAGE_UNAVAILABLE"
    assert buy == "STORAGE_UNAVAILABLE"  # it traded against the failed sell in memory only
    assert after[0] == 201 and after[1]["status"] == "ACCEPTED"  # recovered, trading again
    with engine.connect() as conn:
        stored = conn.execute(text("select id, price, status from orders")).all()
        trades = conn.execute(text("select count(*) from trades")).scalar()
    engine.dispose()
    assert [(p, s) for _, p, s in stored] == [(10.0, "ACCEPTED")]
    assert trades == 0
    assert open_orders == [stored[0][0]]  # memory was rebuilt from storage
