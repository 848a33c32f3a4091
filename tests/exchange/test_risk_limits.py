"""SoC and energy limits for battery accounts, throttling, exposure and PnL, over the API."""

from __future__ import annotations

import pytest

from support import LOSSLESS, ExchangeProcess, new_trader, set_soc


@pytest.fixture(scope="module")
def battery(tmp_path_factory):
    """An exchange whose default battery has 2 MWh between 15 % and 90 %."""
    proc = ExchangeProcess(
        tmp_path_factory.mktemp("risk"), BESS_CAPACITY_MWH="2.0", **LOSSLESS
    ).start()
    yield proc
    proc.stop()


def _order(side, qty, price=50.0, market="epex_at", **extra):
    return {"market": market, "side": side, "quantity": qty, "price": price, **extra}


def test_orders_are_refused_while_the_battery_status_is_unknown(battery):
    with battery.client() as op:
        r = op.post("/api/orders", json=_order("SELL", 0.1))
        assert r.status_code == 409
        err = r.json()["error"]
        assert err["code"] == "BATTERY_STATUS_UNKNOWN"
        # recorded as a REJECTED order for the audit trail, not in the book
        stored = op.get(f"/api/orders/{err['order_id']}").json()
        assert (stored["status"], stored["reject_code"]) == ("REJECTED", "BATTERY_STATUS_UNKNOWN")
        assert op.get("/api/orders").json() == []


def test_buy_is_refused_above_max_soc_and_sell_is_allowed(battery):
    set_soc(battery, 91.0)
    with battery.client() as op:
        r = op.post("/api/orders", json=_order("BUY", 0.1))
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "SOC_LIMIT"
        assert "charges" in r.json()["error"]["message"]
        r = op.post("/api/orders", json=_order("SELL", 0.1, price=3999.0))
        assert r.status_code == 201, r.text
        op.delete(f"/api/orders/{r.json()['id']}")


def test_a_refused_order_does_not_use_up_its_client_order_id(battery):
    """A bot resends the same order until the battery allows it: the retry is judged afresh."""
    body = _order("BUY", 0.1, price=-498.0, client_order_id="charge-when-room")
    set_soc(battery, 95.0)
    with battery.client() as op:
        refused = op.post("/api/orders", json=body)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "SOC_LIMIT"
        again = op.post("/api/orders", json=body)  # still full: refused again, a new record
        assert again.status_code == 422
        assert again.json()["error"]["order_id"] != refused.json()["error"]["order_id"]
        set_soc(battery, 50.0)
        placed = op.post("/api/orders", json=body)
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["status"] == "ACCEPTED" and order["client_order_id"] == "charge-when-room"
        # From now on the id is taken: a repeat returns this order, never a second one.
        repeat = op.post("/api/orders", json=body)
        assert repeat.status_code == 200 and repeat.json()["id"] == order["id"]
        # The refusals stay on record for the audit trail.
        rejected = op.get("/orders", params={"status": "REJECTED", "limit": 1000}).json()["items"]
        mine = {o["id"] for o in rejected if o["client_order_id"] == "charge-when-room"}
        assert mine == {refused.json()["error"]["order_id"], again.json()["error"]["order_id"]}
    # After a restart the taken id still answers with the accepted order.
    battery.stop()
    battery.start()
    with battery.client() as op:
        repeat = op.post("/api/orders", json=body)
        assert repeat.status_code == 200 and repeat.json()["id"] == order["id"]
        op.delete(f"/api/orders/{order['id']}")


def test_sell_is_refused_below_min_soc_and_buy_is_allowed(battery):
    set_soc(battery, 14.0)
    with battery.client() as op:
        r = op.post("/api/orders", json=_order("SELL", 0.1))
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "SOC_LIMIT"
        r = op.post("/api/orders", json=_order("BUY", 0.1, price=-499.0))
        assert r.status_code == 201, r.text
        op.delete(f"/api/orders/{r.json()['id']}")


def test_energy_limit_counts_open_orders_and_traded_energy(battery):
    # 50 % of 2 MWh = 1.0 MWh stored; max 90 % = 1.8 MWh: 0.8 MWh of charging room
    set_soc(battery, 50.0)
    with battery.client() as op:
        r = op.post("/api/orders", json=_order("BUY", 0.9, price=-400.0))
        assert r.status_code == 422 and r.json()["error"]["code"] == "ENERGY_LIMIT"
        first = op.post("/api/orders", json=_order("BUY", 0.5, price=-400.0))
        assert first.status_code == 201
        r = op.post("/api/orders", json=_order("BUY", 0.4, price=-400.0))
        assert r.status_code == 422 and r.json()["error"]["code"] == "ENERGY_LIMIT"
        assert "at most 0.30 MWh" in r.json()["error"]["message"]
        # the open buy fills against a counterparty: still counted, now as traded energy
        seller = new_trader(battery)
        fill = seller.post("/api/orders", json=_order("SELL", 0.5, price=-400.0))
        assert fill.json()["status"] == "FILLED"
        r = op.post("/api/orders", json=_order("BUY", 0.4, price=-400.0))
        assert r.status_code == 422 and r.json()["error"]["code"] == "ENERGY_LIMIT"
        ok = op.post("/api/orders", json=_order("BUY", 0.3, price=-400.0))
        assert ok.status_code == 201
        op.delete(f"/api/orders/{ok.json()['id']}")
        # A reading seconds later cannot show the 0.5 MWh yet (at the rated 1 MW it takes
        # 30 minutes to charge): the traded energy keeps counting, the room does not come back.
        set_soc(battery, 50.0)
        r = op.post("/api/orders", json=_order("BUY", 0.4, price=-400.0))
        # (less the little a reading taken seconds later can show delivered at 1 MW)
        assert r.status_code == 422
        assert r.json()["error"]["traded_mwh"] == pytest.approx(0.5, abs=0.01)


def test_two_accounts_of_one_battery_share_its_room_also_after_a_restart(tmp_path):
    """The operator's key and a second trader linked to the same battery: what one has open or
    has traded uses up the other's room, so together they cannot overfill it (2 MWh, 55 %:
    0.7 MWh to buy). The room is rebuilt from storage on restart."""
    exchange = ExchangeProcess(tmp_path, BESS_CAPACITY_MWH="2.0", **LOSSLESS).start()
    try:
        set_soc(exchange, 55.0)
        alice = new_trader(exchange, battery_id="default")
        key = alice.headers["X-API-Key"]
        with alice, exchange.client() as op:
            assert (
                alice.post("/api/orders", json=_order("BUY", 0.6, 1.0, "epex_de")).status_code
                == 201
            )
            refused = op.post("/api/orders", json=_order("BUY", 0.2, 1.0, "epex_de"))
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert error["code"] == "ENERGY_LIMIT"
            assert error["open_mwh"] == pytest.approx(0.6)
            assert error["max_quantity"] == pytest.approx(0.1)
            assert (
                op.post("/api/orders", json=_order("BUY", 0.1, 1.0, "epex_de")).status_code == 201
            )
            with new_trader(exchange) as seller:  # both bids fill: 0.7 MWh traded for the battery
                fill = seller.post("/api/orders", json=_order("SELL", 1.4, 1.0, "epex_de"))
                assert fill.json()["filled"] == pytest.approx(0.7)
                seller.delete(f"/api/orders/{fill.json()['id']}")
            again = alice.post("/api/orders", json=_order("BUY", 0.1, 1.0, "epex_de"))
            assert again.status_code == 422 and again.json()["error"]["code"] == "ENERGY_LIMIT"
            assert again.json()["error"]["traded_mwh"] == pytest.approx(0.7, abs=0.01)
        # The bought 0.7 MWh still counts (30-odd minutes to charge at 1 MW), so there is
        # room to sell 1.1 + 0.7 - 0.3 = 1.5 MWh; alice offers 0.6, resting. After a restart
        # the offer and the traded energy still use up the operator's room.
        with exchange.client(key) as alice:
            offer = alice.post("/api/orders", json=_order("SELL", 0.6, 3999.0, "epex_de"))
            assert offer.status_code == 201 and offer.json()["status"] == "ACCEPTED"
        exchange.stop()
        exchange.start()
        set_soc(exchange, 55.0)
        with exchange.client() as op:
            refused = op.post("/api/orders", json=_order("SELL", 1.0, 3999.0, "epex_de"))
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert error["open_mwh"] == pytest.approx(0.6)
            assert error["traded_mwh"] == pytest.approx(0.7, abs=0.01)
            assert error["max_quantity"] == pytest.approx(0.9, abs=0.01)
    finally:
        exchange.stop()


def test_counterparty_accounts_are_not_limited_by_the_battery(battery):
    set_soc(battery, 95.0)
    other = new_trader(battery)
    r = other.post("/api/orders", json=_order("BUY", 50.0, price=1.0))
    assert r.status_code == 201
    other.delete(f"/api/orders/{r.json()['id']}")


def test_exposure_and_realised_pnl_use_the_average_cost_method(battery):
    trader, market_maker = new_trader(battery), new_trader(battery)
    mkt = "epex_de"
    for price in (40.0, 60.0):  # buy 1 MWh at 40 and 1 MWh at 60: average 50
        market_maker.post("/api/orders", json=_order("SELL", 1.0, price, mkt))
        trader.post("/api/orders", json=_order("BUY", 1.0, price, mkt))
    market_maker.post("/api/orders", json=_order("BUY", 1.5, 70.0, mkt))
    trader.post("/api/orders", json=_order("SELL", 1.5, 70.0, mkt))  # sell 1.5 at 70
    pos = [p for p in trader.get("/api/positions").json() if p["market"] == mkt]
    assert len(pos) == 1
    p = pos[0]
    assert p["net_energy_mwh"] == pytest.approx(0.5)
    assert p["average_price"] == pytest.approx(50.0)
    assert p["realized_pnl_eur"] == pytest.approx(1.5 * (70.0 - 50.0))
    assert p["notional_eur"] == pytest.approx(25.0)
    assert (p["bought_mwh"], p["sold_mwh"]) == (2.0, 1.5)


def test_throttle_answers_429_with_retry_after(tmp_path):
    proc = ExchangeProcess(
        tmp_path, PHOENYRA_THROTTLE_RATE="1", PHOENYRA_THROTTLE_BURST="3"
    ).start()
    try:
        trader = new_trader(proc)
        codes = [
            trader.post("/api/orders", json=_order("BUY", 0.1, 1.0)).status_code for _ in range(4)
        ]
        assert codes == [201, 201, 201, 429]
        r = trader.post("/api/orders", json=_order("BUY", 0.1, 1.0))
        assert r.json()["error"]["code"] == "THROTTLED"
        assert int(r.headers["Retry-After"]) >= 1
        # the throttle is per market: another market is still open
        assert (
            trader.post("/api/orders", json=_order("BUY", 0.1, 1.0, "epex_de")).status_code == 201
        )
        assert len(trader.get("/api/orders").json()) == 4
    finally:
        proc.stop()


def test_product_orders_are_limited_by_rated_power_per_quarter_hour(battery):
    # rated 1 MW: at most 0.25 MWh per quarter-hour, whatever the SoC room
    set_soc(battery, 50.0)
    delivery = _quarter_hours_ahead(8)
    with battery.client() as op:
        r = op.post("/api/orders", json=_order("SELL", 0.3, 200.0, delivery_start=delivery))
        assert r.status_code == 422 and r.json()["error"]["code"] == "POWER_LIMIT"
        first = op.post("/api/orders", json=_order("SELL", 0.2, 200.0, delivery_start=delivery))
        assert first.status_code == 201, first.text
        r = op.post("/api/orders", json=_order("SELL", 0.1, 200.0, delivery_start=delivery))
        assert r.status_code == 422 and r.json()["error"]["code"] == "POWER_LIMIT"
        # the next quarter-hour is a separate product with its own 0.25 MWh
        other = op.post(
            "/api/orders", json=_order("SELL", 0.2, 200.0, delivery_start=_quarter_hours_ahead(9))
        )
        assert other.status_code == 201
        # buying in the same quarter-hour is the other direction: charging room is separate
        buy = op.post("/api/orders", json=_order("BUY", 0.2, 10.0, delivery_start=delivery))
        assert buy.status_code == 201
        for o in (first, other, buy):
            op.delete(f"/api/orders/{o.json()['id']}")


def _quarter_hours_ahead(n: int) -> str:
    import math
    import time
    from datetime import UTC, datetime

    start = (math.floor(time.time() / 900) + n) * 900
    return datetime.fromtimestamp(start, UTC).isoformat()


def test_a_batterys_losses_are_set_over_the_api_and_count_in_its_room(tmp_path):
    """The default battery starts with BESS_*_EFFICIENCY (0.95 each way unless set). An admin
    sets its own figures; the energy check counts with them, also after a restart. Figures
    outside (0, 1] are refused and change nothing."""
    exchange = ExchangeProcess(tmp_path, BESS_CAPACITY_MWH="2.0").start()
    try:
        with exchange.client() as op:
            status = op.get("/api/bess/status").json()
            assert (status["charge_efficiency"], status["discharge_efficiency"]) == (0.95, 0.95)
            for bad in (0, 1.2, -0.5, "abc"):
                r = op.put("/api/batteries/default", json={"discharge_efficiency": bad})
                assert r.status_code == 422, (bad, r.text)
            assert op.get("/api/bess/status").json()["discharge_efficiency"] == 0.95
            r = op.put("/api/batteries/default", json={"discharge_efficiency": 0.8})
            assert r.status_code == 200 and r.json()["discharge_efficiency"] == 0.8
        exchange.stop()
        exchange.start()
        set_soc(exchange, 20.0)  # 0.1 MWh above the 15 % floor: 0.08 MWh at the grid
        with exchange.client() as op:
            assert op.get("/api/bess/status").json()["discharge_efficiency"] == 0.8
            r = op.post("/api/orders", json=_order("SELL", 0.1))
            assert r.status_code == 422, r.text
            err = r.json()["error"]
            assert (err["code"], err["max_quantity"], err["discharge_efficiency"]) == (
                "ENERGY_LIMIT",
                0.08,
                0.8,
            )
            assert "1.25 MWh leaves the battery per MWh sold" in err["message"]
            # A battery added over the API gets the defaults, or its own figures.
            r = op.post("/api/batteries", json={"battery_id": "lossy", "charge_efficiency": 0.9})
            assert r.status_code == 201, r.text
            assert (r.json()["charge_efficiency"], r.json()["discharge_efficiency"]) == (0.9, 0.95)
    finally:
        exchange.stop()
