"""POST /api/schedule/optimize and /execute against a real exchange process: prices from its
price store, SoC from its battery status, orders through the normal order path."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest

from support import new_trader, push_swinging_prices, set_soc

QH = 900


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def priced(exchange):
    """Two days of quarter-hour prices from now on epex_at: two peaks and troughs a day."""
    push_swinging_prices(exchange)
    return exchange


def _own_battery(exchange) -> str:
    """A battery of its own, at 50 %: the other tests' open orders for the default battery
    use up its room (the room is the battery's, over all its accounts)."""
    battery_id = f"opt-{next(_batteries)}"
    with exchange.client() as admin:
        r = admin.post("/api/batteries", json={"battery_id": battery_id})
        assert r.status_code == 201, r.text
    set_soc(exchange, 50, battery_id)
    return battery_id


_batteries = itertools.count(1)


def test_optimize_returns_a_chartable_schedule_within_the_battery_limits(priced):
    with new_trader(priced, battery_id=_own_battery(priced)) as c:
        r = c.post("/api/schedule/optimize", json={"price_margin_eur_per_mwh": 1})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["initial_soc_percent"] == 50 and s["resolution"] == "PT15M"
    assert s["battery"]["tradable_power_mw"] == pytest.approx(0.8)  # 1 MW in 0.1 MWh lots
    intervals = s["intervals"]
    assert ts(intervals[0]["start"]) <= time.time() < ts(intervals[0]["end"])
    assert len(intervals) >= 180
    for iv in intervals:
        assert -0.8 - 1e-6 <= iv["power_mw"] <= 0.8 + 1e-6
        assert 15 - 1e-6 <= iv["soc_percent"] <= 90 + 1e-6
        if not iv["tradable"]:
            assert iv["order_mwh"] == 0
    revenue = sum(iv["price"] * iv["power_mw"] * 0.25 for iv in intervals)
    assert s["expected_revenue_eur"] == pytest.approx(revenue, abs=1e-2)
    assert s["expected_revenue_eur"] > 0 and s["cycles"] > 0
    prices = {iv["start"]: iv for iv in intervals}
    assert s["orders"]
    for o in s["orders"]:
        iv = prices[o["delivery_start"]]
        assert iv["tradable"]
        assert o["side"] == ("BUY" if iv["power_mw"] < 0 else "SELL")
        assert o["price"] == pytest.approx(iv["price"] + (1 if o["side"] == "BUY" else -1))


def test_execute_places_orders_through_the_order_path_and_reports_refusals(priced):
    battery_id = _own_battery(priced)
    with new_trader(priced, battery_id=battery_id) as c:
        r = c.post("/api/schedule/execute", json={})
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["placed"] > 0 and out["placed"] + out["refused"] == len(out["results"])
        open_ids = {o["id"] for o in c.get("/api/orders").json()}
        placed = [x for x in out["results"] if x["outcome"] == "placed"]
        assert {x["order"]["id"] for x in placed} == open_ids
        for x in placed:
            assert x["order"]["delivery_start"] == x["delivery_start"]
            assert x["order"]["status"] == "ACCEPTED"
        # The exchange's risk check counts every open order as if it filled: a whole
        # schedule does not fit into the battery's room at once, and says why.
        refused = [x for x in out["results"] if x["outcome"] == "refused"]
        assert refused and {x["error"]["code"] for x in refused} <= {"ENERGY_LIMIT"}

        # The operator's own quarter-hour order, placed by hand: no run may cancel it. (The
        # schedule uses up the room to sell: the battery charged meanwhile, from 50 to 60 %.)
        set_soc(priced, 60, battery_id)
        first = min(x["delivery_start"] for x in placed)
        mine = c.post(
            "/api/orders",
            json={
                "market": "epex_at",
                "side": "SELL",
                "quantity": 0.1,
                "price": 3999.0,
                "delivery_start": first,
            },
        )
        assert mine.status_code == 201, mine.text
        # A second run replaces the first one's open orders instead of adding to them.
        again = c.post("/api/schedule/execute", json={}).json()
        assert set(again["cancelled_order_ids"]) == open_ids
        now_open = {o["id"] for o in c.get("/api/orders").json()}
        kept = {mine.json()["id"]}
        assert now_open == {x["order"]["id"] for x in again["results"] if x["order"]} | kept


def test_a_battery_above_its_max_soc_gets_its_buys_refused_with_soc_limit(priced):
    set_soc(priced, 95)
    with new_trader(priced, battery_id="default") as c:
        out = c.post("/api/schedule/execute", json={}).json()
    buys = [x for x in out["results"] if x["side"] == "BUY"]
    assert buys and all(x["error"]["code"] == "SOC_LIMIT" for x in buys)
    set_soc(priced, 50)


def test_the_given_orders_are_placed_as_they_are(priced):
    start = (int(time.time() // QH) + 4) * QH
    with new_trader(priced, battery_id=_own_battery(priced)) as c:
        r = c.post(
            "/api/schedule/execute",
            json={
                "orders": [
                    {"side": "SELL", "quantity": 0.1, "price": 99.5, "delivery_start": iso(start)}
                ]
            },
        )
        out = r.json()
        assert out["schedule"] is None and out["placed"] == 1, r.text
        order = out["results"][0]["order"]
        assert (order["side"], order["quantity"], order["price"]) == ("SELL", 0.1, 99.5)


def test_bad_parameters_are_refused_and_change_nothing(priced):
    with new_trader(priced, battery_id=_own_battery(priced)) as c:
        first = c.post("/api/schedule/execute", json={}).json()
        before = {o["id"] for o in c.get("/api/orders").json()}
        assert before
        r = c.post("/api/schedule/execute", json={"soc_min_percent": 80, "soc_max_percent": 20})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "INVALID_PARAMETERS"
        assert "soc_min_percent < soc_max_percent" in r.json()["error"]["message"]
        r = c.post("/api/schedule/execute", json={"charge_efficiency": 1.5})
        assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
        assert {o["id"] for o in c.get("/api/orders").json()} == before
    assert first["placed"]


def test_no_prices_no_battery_and_wrong_roles_are_clear_refusals(priced):
    with new_trader(priced, battery_id=_own_battery(priced)) as c:
        r = c.post("/api/schedule/optimize", json={"market": "epex_ch"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "NO_PRICES"
    with new_trader(priced) as unlinked:
        r = unlinked.post("/api/schedule/execute", json={})
        assert r.status_code == 409 and r.json()["error"]["code"] == "NO_BATTERY"
    with new_trader(priced, role="viewer") as viewer:
        assert viewer.post("/api/schedule/optimize", json={}).status_code == 403
    with priced.client("wrong-key") as anonymous:
        assert anonymous.post("/api/schedule/optimize", json={}).status_code == 401


def test_the_loop_re_optimises_when_switched_on_and_stops_when_switched_off(priced):
    battery_id = _own_battery(priced)
    with new_trader(priced, battery_id=battery_id) as c:
        # A switch that starts trading takes a JSON boolean, not a word that looks like one.
        for loose in ("yes", "on", 1, "true"):
            r = c.put("/api/schedule/auto", json={"enabled": loose, "min_interval_s": 1})
            assert r.status_code == 422, (loose, r.text)
        assert c.get("/api/schedule/auto").json()["enabled"] is False
        r = c.put("/api/schedule/auto", json={"enabled": True, "min_interval_s": 1})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 15
        state = r.json()
        while time.monotonic() < deadline and not state["runs"]:
            time.sleep(0.3)
            state = c.get("/api/schedule/auto").json()
        assert state["runs"] >= 1 and state["last_placed"], state
        runs = state["runs"]
        set_soc(priced, 60, battery_id)  # SoC moved ≥ 2 points: a new run
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and state["runs"] == runs:
            time.sleep(0.3)
            state = c.get("/api/schedule/auto").json()
        assert state["runs"] > runs
        assert state["last_reason"] in ("SoC moved +10.0 points", "position changed")
        off = c.put("/api/schedule/auto", json={"enabled": False}).json()
        assert off["enabled"] is False


def test_a_terminal_soc_above_the_limit_is_refused_before_open_orders_are_cancelled(priced):
    with new_trader(priced, battery_id=_own_battery(priced)) as c:
        c.post("/api/schedule/execute", json={})
        before = {o["id"] for o in c.get("/api/orders").json()}
        r = c.post("/api/schedule/execute", json={"terminal_soc_percent": 99})
        assert r.status_code == 422 and "terminal_soc_percent" in r.json()["error"]["message"]
        assert {o["id"] for o in c.get("/api/orders").json()} == before


def test_phoenyra_optimize_prints_tomorrow_from_the_exchange_prices(exchange, tmp_path):
    import json
    import os
    import subprocess
    import sys
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from support import ROOT

    zone = ZoneInfo("Europe/Berlin")
    tomorrow = datetime.now(zone).date() + timedelta(days=1)
    lo = int(datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone).timestamp())
    after = tomorrow + timedelta(days=1)
    hi = int(datetime(after.year, after.month, after.day, tzinfo=zone).timestamp())
    hours = (hi - lo) // 3600
    intervals = [
        {
            "start": iso(lo + h * 3600),
            "end": iso(lo + (h + 1) * 3600),
            "resolution": "PT60M",
            "price": [40.0, 120.0][h // 12 % 2] if h < 24 else 80.0,
        }
        for h in range(hours)
    ]
    with exchange.client("demo-feed") as c:
        r = c.post(
            "/api/market/prices",
            json={"market": "epex_de", "source": "test", "simulated": True, "intervals": intervals},
        )
        assert r.status_code == 200, r.text
    env = {
        **os.environ,
        "EXCHANGE_URL": exchange.base_url,
        "PHOENYRA_ENV": "development",
        "MARKET": "epex_de",
    }
    r = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "optimize", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["day"] == tomorrow.isoformat() and out["market"] == "epex_de"
    assert len(out["intervals"]) == hours
    # Cheap first half, dear second half: it buys in the morning and sells in the afternoon.
    sides = {o["side"] for o in out["orders"] if ts(o["delivery_start"]) < lo + 12 * 3600}
    assert sides == {"BUY"}
    sides = {o["side"] for o in out["orders"] if ts(o["delivery_start"]) >= lo + 12 * 3600}
    assert sides == {"SELL"}
    assert out["expected_revenue_eur"] > 0
    assert date.fromisoformat(out["day"]) == tomorrow
