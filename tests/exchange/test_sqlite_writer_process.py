"""The SQLite writer process: a failed commit or a dead writer acknowledges nothing.

The failures are real: a SQLite trigger refuses one order's row, and SIGKILL ends the writer.
Both writers (process and thread) run the same scenario of a refused batch.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3

import pytest

from phoenyra.config import Settings
from phoenyra.core.errors import Reject
from phoenyra.core.orders import BUY, SELL
from phoenyra.exchange.service import ExchangeService, OrderRequest
from phoenyra.exchange.store import Store
from support import sqlite_service

POISON = 666.66
# Refuses the poisoned order only while it is new (ACCEPTED): a later batch holding the same
# order as FILLED, computed on top of the refused one, would be stored if the writer let it.
TRIGGER = f"""
CREATE TRIGGER refuse_poison BEFORE INSERT ON orders
WHEN NEW.price = {POISON} AND NEW.status = 'ACCEPTED'
BEGIN SELECT RAISE(ABORT, 'injected storage failure'); END
"""


async def _traders(service: ExchangeService):
    await service.start()
    a = service.keyring.accounts[(await service.create_account("a", "trader", None))["id"]]
    b = service.keyring.accounts[(await service.create_account("b", "trader", None))["id"]]

    async def place(account, side, price):
        try:
            return await service.place_order(account, OrderRequest("epex_at", side, 1.0, price))
        except Reject as exc:
            return exc.code

    return a, b, place


def _stored(path: str) -> tuple[list[tuple], int]:
    conn = sqlite3.connect(path)
    try:
        orders = conn.execute("select id, price, status from orders order by id").fetchall()
        trades = conn.execute("select count(*) from trades").fetchone()[0]
    finally:
        conn.close()
    return orders, trades


def test_a_sqlite_file_is_written_by_a_child_process_and_a_thread_on_request(tmp_path):
    service, _ = sqlite_service(tmp_path / "auto")
    thread, _ = sqlite_service(tmp_path / "thread", "thread")

    async def scenario():
        await service.start()
        await thread.start()
        pid = service.writer.process_pid
        alive = pid is not None and os.path.exists(f"/proc/{pid}")
        await service.stop()
        await thread.stop()
        return pid, alive

    pid, alive = asyncio.run(scenario())
    assert service.writer.mode == "process" and alive and pid != os.getpid()
    assert not os.path.exists(f"/proc/{pid}")  # it ended with the service (and was reaped)
    assert thread.writer.mode == "thread" and thread.writer.process_pid is None


def test_the_process_writer_needs_a_database_file(tmp_path):
    settings = Settings(
        PHOENYRA_ENV="development",
        PHOENYRA_DATA_DIR=str(tmp_path),
        DATABASE_URL="sqlite:///:memory:",
        PHOENYRA_DB_WRITER="process",
    )
    with pytest.raises(ValueError, match="needs a SQLite database file"):
        ExchangeService(settings, Store(settings.effective_database_url))


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_orders_computed_on_a_failed_batch_are_refused_and_not_stored(tmp_path, writer):
    service, path = sqlite_service(tmp_path, writer)
    conn = sqlite3.connect(path)
    conn.execute(TRIGGER)
    conn.close()

    async def scenario():
        a, b, place = await _traders(service)
        assert service.writer.mode == writer
        # Both in one loop turn: the buy matches the sell while the sell's batch is committing.
        sell, buy = await asyncio.gather(place(a, SELL, POISON), place(b, BUY, 700.0))
        after = await place(b, BUY, 10.0)
        open_orders = list(service.engine.open_orders)
        await service.stop()
        return sell, buy, after, open_orders

    sell, buy, after, open_orders = asyncio.run(scenario())
    assert sell == "STORAGE_UNAVAILABLE"
    assert buy == "STORAGE_UNAVAILABLE"  # it traded against the refused sell in memory only
    assert after[0] == 201 and after[1]["status"] == "ACCEPTED"
    orders, trades = _stored(path)
    assert [(p, s) for _, p, s in orders] == [(10.0, "ACCEPTED")]
    assert trades == 0
    assert open_orders == [orders[0][0]]  # memory was rebuilt from storage


def test_a_killed_writer_acknowledges_nothing_and_is_replaced(tmp_path):
    service, path = sqlite_service(tmp_path)

    async def scenario():
        a, b, place = await _traders(service)
        first = await place(a, SELL, 50.0)
        pid = service.writer.process_pid
        os.kill(pid, signal.SIGSTOP)  # hold it mid-stream, then kill it with a batch in flight
        pending = asyncio.ensure_future(place(b, BUY, 50.0))
        await asyncio.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        lost = await pending
        after = await place(b, BUY, 40.0)
        new_pid = service.writer.process_pid
        open_orders = sorted(service.engine.open_orders)
        await service.stop()
        return first, lost, after, pid, new_pid, open_orders

    first, lost, after, pid, new_pid, open_orders = asyncio.run(scenario())
    assert first[0] == 201
    assert lost == "STORAGE_UNAVAILABLE"
    assert after[0] == 201 and after[1]["status"] == "ACCEPTED"
    assert new_pid is not None and new_pid != pid
    orders, trades = _stored(path)
    # The sell rests again (the buy that matched it was never acknowledged nor stored).
    assert [(p, s) for _, p, s in orders] == [(50.0, "ACCEPTED"), (40.0, "ACCEPTED")]
    assert trades == 0
    assert open_orders == [o for o, _, _ in orders]


def test_many_concurrent_orders_are_all_stored_before_their_answers(tmp_path):
    """Batches overlap the loop's work (the writer looks for answers between requests): every
    acknowledged order is in the file when its answer comes, read from another connection."""
    service, path = sqlite_service(tmp_path)

    async def scenario():
        a, b, place = await _traders(service)
        reader = sqlite3.connect(path)
        missing = []

        async def client(k: int):
            for i in range(40):
                side = BUY if (k + i) % 2 else SELL
                _, body = await place(a if k % 2 else b, side, 50.0 + (i % 5))
                row = reader.execute("select status from orders where id = ?", (body["id"],))
                if row.fetchone() is None:
                    missing.append(body["id"])

        await asyncio.gather(*(client(k) for k in range(16)))
        reader.close()
        batches = service.writer.batches
        await service.stop()
        return missing, batches

    missing, batches = asyncio.run(scenario())
    assert missing == []
    orders, _ = _stored(path)
    assert len(orders) == 16 * 40
    assert 1 < batches < 16 * 40  # grouped, and more than one batch


def test_the_wal_stays_bounded_under_steady_commits(tmp_path):
    """Checkpoints run beside the commits; the WAL must still start over instead of growing
    with every batch. Unbounded, this stream grows it to about 70 MiB (≈4 KiB per order)."""
    from phoenyra.exchange.sqlite_writer import WAL_BOUND_PAGES

    service, path = sqlite_service(tmp_path)

    async def scenario():
        await service.start()
        accounts = []
        for k in range(8):
            created = await service.create_account(f"t{k}", "trader", None)
            accounts.append(service.keyring.accounts[created["id"]])
        largest = 0

        async def client(k: int):
            nonlocal largest
            for i in range(300):
                side = BUY if (k * 7 + i) % 2 else SELL
                market = ("epex_at", "epex_de")[i % 2]
                price = 50.0 + ((k * 31 + i * 17) % 200) / 100
                request = OrderRequest(market, side, 0.1 * (1 + i % 5), price)
                await service.place_order(accounts[(k + i) % 8], request)
                if i % 20 == 0:
                    largest = max(largest, os.path.getsize(path + "-wal"))

        await asyncio.gather(*(client(k) for k in range(64)))
        await service.stop()
        return largest

    largest = asyncio.run(scenario())
    orders, _ = _stored(path)
    assert len(orders) == 64 * 300
    assert largest < 2 * WAL_BOUND_PAGES * 4096, f"WAL reached {largest / 2**20:.1f} MiB"


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_stopping_mid_stream_answers_every_request_and_stores_every_acknowledged_one(
    tmp_path, writer
):
    service, path = sqlite_service(tmp_path, writer)

    async def scenario():
        a, b, place = await _traders(service)
        acked: list[int] = []
        refused: list[str] = []

        async def client(k: int):
            while True:  # until the stop refuses it: the stop always lands mid-stream
                i = len(acked)
                out = await place(a if k % 2 else b, BUY if (k + i) % 2 else SELL, 50.0)
                if isinstance(out, str):
                    refused.append(out)
                    return
                acked.append(out[1]["id"])

        tasks = [asyncio.ensure_future(client(k)) for k in range(16)]
        while len(acked) < 500:  # well into the stream
            await asyncio.sleep(0.01)
        await service.stop()
        # Every request is answered (none waits forever on a batch nobody commits).
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        return acked, refused

    acked, refused = asyncio.run(scenario())
    # Every client ended on a refusal of the stopping service, none on anything else.
    assert len(refused) == 16 and set(refused) <= {"NOT_READY", "STORAGE_UNAVAILABLE"}
    stored = {order_id for order_id, _, _ in _stored(path)[0]}
    assert set(acked) <= stored
