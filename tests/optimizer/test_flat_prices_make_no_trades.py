"""With nothing to earn, the battery stays put: losses make every cycle cost money."""

from __future__ import annotations

import numpy as np

from phoenyra.optimizer import Battery, Problem, solve
from phoenyra.optimizer.orders import plan_orders


def test_flat_prices_leave_the_battery_idle_and_place_no_orders():
    prices = np.full(96, 63.5)
    s = solve(Problem(prices=prices, interval_hours=0.25, initial_soc_percent=40.0))
    assert not s.charge_mw.any() and not s.discharge_mw.any()
    assert s.revenue_eur == 0 and s.cycles == 0
    assert np.allclose(s.soc_percent, 40.0)
    starts = 1_700_000_100 // 900 * 900 + 900 * np.arange(96)
    assert plan_orders(starts, s.new_trades_mwh, prices, max_charge_mw=1, max_discharge_mw=1) == []


def test_flat_prices_without_losses_but_with_wear_are_not_traded_either():
    b = Battery(charge_efficiency=1, discharge_efficiency=1, degradation_cost_eur_per_mwh=0.01)
    s = solve(
        Problem(prices=np.full(24, 50.0), interval_hours=1, initial_soc_percent=50, battery=b)
    )
    assert s.charged_mwh == 0 and s.discharged_mwh == 0
