"""The orders: BUY where the schedule charges, SELL where it discharges, one per delivery
quarter-hour, whole 0.1 MWh lots within the quarter-hour's power, limit = forecast ± margin."""

from __future__ import annotations

import numpy as np
import pytest

from phoenyra.optimizer import Battery, Problem, solve
from phoenyra.optimizer.orders import (
    lots_per_quarter_hour,
    plan_orders,
    to_quarter_hours,
    tradable_power_mw,
)

T0 = 1_767_225_600  # 2026-01-01T00:00Z, a quarter-hour boundary


def test_a_one_mw_battery_trades_at_most_two_lots_per_quarter_hour():
    assert lots_per_quarter_hour(1.0, 0.1) == 2
    assert tradable_power_mw(1.0, 0.1) == pytest.approx(0.8)
    assert tradable_power_mw(2.0, 0.1) == pytest.approx(2.0)


def test_orders_follow_the_schedule_sides_and_energy():
    rng = np.random.default_rng(7)
    prices = np.round(rng.normal(80, 40, 96), 2)
    power = tradable_power_mw(1.0, 0.1)
    battery = Battery(charge_power_mw=power, discharge_power_mw=power)
    s = solve(Problem(prices=prices, interval_hours=0.25, initial_soc_percent=50, battery=battery))
    starts = T0 + 900 * np.arange(96)
    orders = plan_orders(
        starts, s.new_trades_mwh, prices, max_charge_mw=1.0, max_discharge_mw=1.0, margin_eur_mwh=2
    )
    assert orders, "a day of random prices is worth trading"
    by_start = {o.delivery_start: o for o in orders}
    for t, start in enumerate(starts):
        o = by_start.get(int(start))
        energy = s.net_export_mwh[t]
        if o is None:
            assert abs(energy) < 0.05 + 1e-9  # less than half a lot
            continue
        assert o.side == ("SELL" if energy > 0 else "BUY")
        lots = o.quantity_mwh / 0.1
        assert lots == pytest.approx(round(lots)) and 1 <= round(lots) <= 2
        # A positive margin concedes against the forecast to be filled.
        expected = prices[t] + 2 if o.side == "BUY" else prices[t] - 2
        assert o.price == pytest.approx(expected, abs=0.005)
    sold = sum(o.quantity_mwh for o in orders if o.side == "SELL")
    bought = sum(o.quantity_mwh for o in orders if o.side == "BUY")
    assert sold == pytest.approx(s.discharged_mwh, abs=0.05 * 10)
    assert bought == pytest.approx(s.charged_mwh, abs=0.05 * 10)


def test_a_run_of_partial_quarter_hours_carries_the_rounding_and_keeps_its_total():
    target = np.array([-0.13, -0.13, -0.13, -0.13, 0.0, 0.17])
    orders = plan_orders(
        T0 + 900 * np.arange(6),
        target,
        np.full(6, 50.0),
        max_charge_mw=1.0,
        max_discharge_mw=1.0,
    )
    buys = [o.quantity_mwh for o in orders if o.side == "BUY"]
    assert sum(buys) == pytest.approx(0.5)  # 0.52 planned: within half a lot, never 0.4 or 0.8
    sells = [o for o in orders if o.side == "SELL"]
    assert [o.quantity_mwh for o in sells] == [pytest.approx(0.2)]
    assert sells[0].delivery_start == T0 + 5 * 900  # the error never moves to the next run


def test_an_hourly_schedule_is_split_into_four_quarter_hour_orders():
    starts, energy = to_quarter_hours(np.array([T0, T0 + 3600]), 3600, np.array([-0.8, 0.8]))
    assert list(starts) == [T0 + 900 * i for i in range(8)]
    orders = plan_orders(
        starts, energy, np.repeat([20.0, 90.0], 4), max_charge_mw=1.0, max_discharge_mw=1.0
    )
    assert [(o.side, o.quantity_mwh, o.price) for o in orders] == [
        *[("BUY", pytest.approx(0.2), 20.0)] * 4,
        *[("SELL", pytest.approx(0.2), 90.0)] * 4,
    ]


def test_limit_prices_stay_on_the_tick_and_within_the_market_bounds():
    orders = plan_orders(
        T0 + 900 * np.arange(3),
        np.array([-0.2, 0.2, -0.2]),
        np.array([-499.999, 3999.5, 12.345]),
        max_charge_mw=1,
        max_discharge_mw=1,
        margin_eur_mwh=5,
    )
    assert orders[0].price == pytest.approx(-495.0)  # -499.999 + 5, rounded down to the tick
    assert orders[1].price == pytest.approx(3994.5)
    assert orders[2].price == pytest.approx(17.34)  # BUY rounds down: never pays above limit
