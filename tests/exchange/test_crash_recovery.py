"""SIGKILL mid-stream: every acknowledged order and trade is found again, and the books agree."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import defaultdict

import httpx
import pytest

from support import ExchangeProcess, new_trader


def _stream(base_url: str, key: str, seed: int, acked: list, stop: threading.Event) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base_url, headers={"X-API-Key": key}, timeout=5) as c:
        n = 0
        while not stop.is_set():
            n += 1
            body = {
                "market": rng.choice(["epex_at", "epex_de"]),
                "side": rng.choice(["BUY", "SELL"]),
                "quantity": rng.randint(1, 30) / 10,
                "price": round(50 + rng.gauss(0, 3), 2),
                "client_order_id": f"s{seed}-{n}",
            }
            try:
                r = c.post("/api/orders", json=body)
            except httpx.HTTPError:
                return  # the exchange is gone
            if r.status_code in (200, 201):
                acked.append(r.json())


def _db_state(path) -> tuple[dict, dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    orders = {r["id"]: dict(r) for r in conn.execute("select * from orders")}
    trades = {r["id"]: dict(r) for r in conn.execute("select * from trades")}
    conn.close()
    return orders, trades


@pytest.mark.parametrize("gateways", ["0", "2"], ids=["one-process", "gateways"])
def test_acknowledged_orders_and_trades_survive_sigkill(tmp_path, gateways):
    env = {
        "PHOENYRA_THROTTLE_RATE": "100000",
        "PHOENYRA_THROTTLE_BURST": "100000",
        "EXCHANGE_GATEWAYS": gateways,  # with gateways the core is what is killed
    }
    proc = ExchangeProcess(tmp_path, **env).start()
    keys = [new_trader(proc).headers["X-API-Key"] for _ in range(4)]
    acked: list[dict] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=_stream, args=(proc.base_url, k, i, acked, stop))
        for i, k in enumerate(keys)
    ]
    for t in threads:
        t.start()
    time.sleep(2.0)
    proc.kill()  # mid-stream: requests are in flight
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(acked) > 100, "the stream should have been acknowledged many times"

    proc = ExchangeProcess(tmp_path, **env).start()
    try:
        orders, trades = _db_state(tmp_path / "exchange.db")
        # every acknowledged order and trade is stored, as acknowledged or further along
        for ack in acked:
            stored = orders[ack["id"]]
            assert stored["quantity"] == ack["quantity"] and stored["price"] == ack["price"]
            assert stored["filled"] >= ack["filled"] - 1e-9
            for t in ack["trades"]:
                row = trades[t["id"]]
                assert (
                    row["price"],
                    row["quantity"],
                    row["buy_order_id"],
                    row["sell_order_id"],
                ) == (t["price"], t["quantity"], t["buy_order_id"], t["sell_order_id"])
        # filled equals the sum of each order's trades: no half-written transaction
        traded = defaultdict(float)
        for t in trades.values():
            traded[t["buy_order_id"]] += t["quantity"]
            traded[t["sell_order_id"]] += t["quantity"]
        for o in orders.values():
            assert abs(o["filled"] - traded[o["id"]]) < 1e-9, o
        # the restarted books are exactly the stored open orders, and not crossed
        with proc.client() as admin:
            live = {o["id"] for o in admin.get("/api/orders").json()}
            for market in ("epex_at", "epex_de"):
                book = admin.get("/api/book", params={"market": market, "levels": 1000}).json()
                if book["bids"] and book["asks"]:
                    assert book["bids"][0]["price"] < book["asks"][0]["price"]
                expected = defaultdict(float)
                for o in orders.values():
                    if o["market"] == market and o["status"] in ("ACCEPTED", "PARTIALLY_FILLED"):
                        expected[(o["side"], o["price"])] += o["quantity"] - o["filled"]
                got = {("BUY", lv["price"]): lv["quantity"] for lv in book["bids"]}
                got |= {("SELL", lv["price"]): lv["quantity"] for lv in book["asks"]}
                assert got.keys() == expected.keys()
                for k, q in expected.items():
                    assert abs(got[k] - q) < 1e-9
        assert live == {
            i for i, o in orders.items() if o["status"] in ("ACCEPTED", "PARTIALLY_FILLED")
        }
        # a repeated client_order_id after the crash returns the stored order
        first = acked[0]
        key = next(
            k
            for k in keys
            if proc.client(k).get("/api/accounts/me").json()["id"] == first["account_id"]
        )
        again = proc.client(key).post(
            "/api/orders",
            json={
                "market": first["market"],
                "side": first["side"],
                "quantity": first["quantity"],
                "price": first["price"],
                "client_order_id": first["client_order_id"],
            },
        )
        assert again.status_code == 200 and again.json()["id"] == first["id"]
    finally:
        proc.stop()
