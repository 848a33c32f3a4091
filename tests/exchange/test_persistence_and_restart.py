"""State survives a restart on SQLite and on PostgreSQL: orders, trades, books, positions."""

from __future__ import annotations

import dataclasses
import math
import time
from datetime import UTC, datetime

import pytest

from phoenyra.config import MarketOverride
from phoenyra.core.markets import MarketSpec
from support import ExchangeProcess, new_trader


def _next_quarter(min_ahead_s: float = 3600) -> str:
    start = math.ceil((time.time() + min_ahead_s) / 900) * 900
    return datetime.fromtimestamp(start, UTC).isoformat().replace("+00:00", "Z")


def _snapshot(proc: ExchangeProcess, delivery: str) -> dict:
    with proc.client() as admin:
        return {
            "open": admin.get("/api/orders").json(),
            "books": [
                admin.get("/api/book", params={"market": m}).json() for m in ("epex_at", "epex_de")
            ]
            + [
                admin.get(
                    "/api/book", params={"market": "epex_at", "delivery_start": delivery}
                ).json()
            ],
            "orders": admin.get("/orders", params={"limit": 1000}).json(),
            "trades": admin.get("/trades", params={"limit": 1000}).json(),
            "positions": admin.get("/api/positions").json(),
        }


def test_restart_rebuilds_the_same_books_and_keeps_time_priority(tmp_path, database_url):
    proc = ExchangeProcess(tmp_path, database_url).start()
    delivery = _next_quarter()
    try:
        a, b, c = (new_trader(proc) for _ in range(3))
        keys = [x.headers["X-API-Key"] for x in (a, b, c)]
        for i, (client, side, qty, price) in enumerate(
            [
                (a, "SELL", 1.0, 60.0),
                (b, "SELL", 1.0, 60.0),
                (a, "SELL", 2.0, 61.5),
                (c, "BUY", 1.5, 60.0),
                (b, "BUY", 1.0, 55.0),
                (c, "BUY", 0.3, -12.5),
            ]
        ):
            r = client.post(
                "/api/orders",
                json={
                    "market": "epex_at",
                    "side": side,
                    "quantity": qty,
                    "price": price,
                    "client_order_id": f"r{i}",
                },
            )
            assert r.status_code == 201, r.text
        product = a.post(
            "/api/orders",
            json={
                "market": "epex_at",
                "side": "SELL",
                "quantity": 0.7,
                "price": 99.99,
                "delivery_start": delivery,
            },
        )
        assert product.status_code == 201
        c.post(
            "/api/orders", json={"market": "epex_de", "side": "BUY", "quantity": 4.0, "price": 20.0}
        )
        before = _snapshot(proc, delivery)
        assert before["trades"]["items"], "the scenario must have produced trades"
    finally:
        proc.stop()

    proc = ExchangeProcess(tmp_path, database_url).start()
    try:
        after = _snapshot(proc, delivery)
        assert after == before
        # b's sell (second at 60.0, half filled) now comes before a's 61.5: time priority kept
        c2 = proc.client(keys[2])
        r = c2.post(
            "/api/orders", json={"market": "epex_at", "side": "BUY", "quantity": 1.0, "price": 70.0}
        ).json()
        prices = [t["price"] for t in r["trades"]]
        assert prices == [65.0, 65.75]
        assert r["id"] > max(o["id"] for o in before["orders"]["items"])
        # idempotency survives the restart
        again = proc.client(keys[0]).post(
            "/api/orders",
            json={
                "market": "epex_at",
                "side": "SELL",
                "quantity": 1.0,
                "price": 60.0,
                "client_order_id": "r0",
            },
        )
        assert again.status_code == 200
    finally:
        proc.stop()


def test_product_book_closes_at_gate_closure_and_its_orders_expire(tmp_path):
    start = math.ceil((time.time() + 30) / 900) * 900
    # The gate closes about twelve seconds from now: after the exchange has started (a few
    # seconds on a slow machine; three was too short on one) and the order is in.
    closes_at = time.time() + 12
    gate = int(start - closes_at)
    proc = ExchangeProcess(
        tmp_path, PHOENYRA_MARKETS=f'{{"epex_at": {{"gate_closure_s": {gate}}}}}'
    ).start()
    try:
        trader = new_trader(proc)
        delivery = datetime.fromtimestamp(start, UTC).isoformat()
        body = {
            "market": "epex_at",
            "side": "BUY",
            "quantity": 1.0,
            "price": 40.0,
            "delivery_start": delivery,
        }
        r = trader.post("/api/orders", json=body)
        assert r.status_code == 201, r.text
        order_id = r.json()["id"]
        assert r.json()["delivery_end"] is not None
        continuous = trader.post("/api/orders", json={**body, "delivery_start": None}).json()
        deadline = closes_at + 10
        while time.time() < deadline:
            status = trader.get(f"/api/orders/{order_id}").json()["status"]
            if status == "EXPIRED":
                break
            time.sleep(0.25)
        assert status == "EXPIRED"
        r = trader.post("/api/orders", json=body)
        assert r.status_code == 409 and r.json()["error"]["code"] == "MARKET_CLOSED"
        assert trader.get(f"/api/orders/{continuous['id']}").json()["status"] == "ACCEPTED"
    finally:
        proc.stop()


def test_orders_beyond_the_trading_horizon_expire_at_start(tmp_path):
    """A product further ahead than its market trades (stored before the horizon was checked,
    e.g. a mistyped year, or after the horizon was shortened) must not stay open: it expires
    at start, and every listing still answers."""
    proc = ExchangeProcess(tmp_path).start()
    try:
        trader = new_trader(proc)
        key = trader.headers["X-API-Key"]
        far, near = (
            trader.post(
                "/api/orders",
                json={
                    "market": "epex_at",
                    "side": "BUY",
                    "quantity": 1.0,
                    "price": 40.0,
                    "delivery_start": _next_quarter(ahead),
                },
            )
            for ahead in (2 * 86_400, 1800)
        )
        assert far.status_code == 201 and near.status_code == 201, (far.text, near.text)
    finally:
        proc.stop()
    proc = ExchangeProcess(tmp_path, PHOENYRA_MARKETS='{"epex_at": {"max_horizon_s": 86400}}')
    proc.start()
    try:
        with proc.client(key) as trader:
            assert trader.get(f"/api/orders/{far.json()['id']}").json()["status"] == "EXPIRED"
            assert trader.get(f"/api/orders/{near.json()['id']}").json()["status"] == "ACCEPTED"
            assert [o["id"] for o in trader.get("/api/orders").json()] == [near.json()["id"]]
            assert trader.get("/orders").status_code == 200
        assert "beyond the trading horizon" in proc.log()
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("markets", "needle"),
    [
        (
            '{"epex_at": {"gate_closure_s": 300.5}}',
            "PHOENYRA_MARKETS.epex_at.gate_closure_s=300.5: Input should be a valid integer",
        ),
        (
            '{"epex_at": {"tick": "cheap"}}',
            "PHOENYRA_MARKETS.epex_at.tick='cheap': Input should be a valid number",
        ),
        ('{"epex_at": {"price_rule": "median"}}', "epex_at.price_rule='median': Input should be"),
        ('{"epex_at": {"gate_closure": 300}}', "epex_at.gate_closure=300: Extra inputs"),
        ('{"epex_at": {"tick": -0.01}}', "epex_at.tick=-0.01: Input should be greater than 0"),
        (
            '{"epex_at": {"gate_closure_s": -300}}',
            "epex_at.gate_closure_s=-300: Input should be greater than or equal to 0",
        ),
        (
            '{"epex_at": {"max_quantity": 0}}',
            "epex_at.max_quantity=0: Input should be greater than 0",
        ),
        ('{"epex_at": {"min_price": 100, "max_price": 50}}', "min_price must be below"),
        ('{"epex_xx": {"tick": 0.01}}', "unknown markets"),
    ],
)
def test_a_bad_market_override_stops_the_exchange_at_start_naming_the_field(
    tmp_path, markets, needle
):
    # Typed before the core sees it, so the compiled and the pure-Python core refuse alike.
    proc = ExchangeProcess(tmp_path, PHOENYRA_MARKETS=markets)
    result = proc.run_refused()
    assert result.returncode != 0
    assert "PHOENYRA_MARKETS" in result.stderr and needle in result.stderr, result.stderr[-800:]
    assert "Traceback" not in result.stderr
    assert "errors.pydantic.dev" not in result.stderr


def test_bad_settings_are_named_on_one_line_with_their_values(tmp_path):
    # Every service reads the same Settings: one refusal names each bad variable, the value it
    # had and pydantic's reason (tests/test_config_errors.py: secrets, limits).
    proc = ExchangeProcess(
        tmp_path,
        UPDATE_INTERVAL="-5",
        PHOENYRA_SQLITE_SYNCHRONOUS="sometimes",
        PHOENYRA_THROTTLE_RATE="fast",
    )
    result = proc.run_refused()
    assert result.returncode != 0
    line = next(x for x in result.stderr.splitlines() if "configuration error" in x)
    assert "UPDATE_INTERVAL='-5': Input should be greater than 0" in line
    assert "PHOENYRA_SQLITE_SYNCHRONOUS='sometimes': Input should be 'OFF', 'NORMAL'" in line
    assert "PHOENYRA_THROTTLE_RATE='fast': Input should be a valid number" in line
    assert "errors.pydantic.dev" not in result.stderr and "Traceback" not in result.stderr


def test_market_overrides_name_every_setting_of_a_market_spec():
    # MarketOverride restates MarketSpec's fields to type and bound them: a field added to the
    # spec but not here could not be set, one here but not in the spec would fail at start.
    settable = {f.name for f in dataclasses.fields(MarketSpec) if f.init} - {"name"}
    assert set(MarketOverride.model_fields) == settable
