"""Cases solvable by hand: one cheap hour then one dear hour is one charge and one discharge."""

from __future__ import annotations

import numpy as np
import pytest

from phoenyra.optimizer import Battery, Problem, solve


@pytest.mark.parametrize("eta", [1.0, 0.95, 0.9])
def test_cheap_then_dear_hour_buys_one_hour_and_sells_what_survives_the_losses(eta):
    low, high = 10.0, 100.0
    battery = Battery(
        capacity_mwh=2.0,
        charge_power_mw=1.0,
        discharge_power_mw=1.0,
        soc_min_percent=0.0,
        soc_max_percent=100.0,
        charge_efficiency=eta,
        discharge_efficiency=eta,
    )
    s = solve(
        Problem(
            prices=np.array([low, high]),
            interval_hours=1.0,
            initial_soc_percent=0.0,
            battery=battery,
            terminal_soc_percent=0.0,
        )
    )
    # By hand: buy 1 MWh (the power limit) at 10, store 1·η, sell all of it: 1·η·η MWh at 100.
    assert s.charge_mw == pytest.approx([1.0, 0.0], abs=1e-9)
    assert s.discharge_mw == pytest.approx([0.0, eta * eta], abs=1e-9)
    assert s.revenue_eur == pytest.approx(high * eta * eta - low * 1.0, abs=1e-6)
    assert s.soc_percent == pytest.approx([eta / 2.0 * 100.0, 0.0], abs=1e-7)
    assert s.cycles == pytest.approx(eta * eta / 2.0)


def test_a_spread_smaller_than_the_losses_is_not_traded():
    # 0.95² = 0.9025: selling at 100 what was bought at 91 loses money.
    s = solve(Problem(prices=np.array([91.0, 100.0]), interval_hours=1.0, initial_soc_percent=15))
    assert s.charged_mwh == 0 and s.discharged_mwh == 0


def test_degradation_cost_is_charged_on_both_directions_of_throughput():
    battery = Battery(
        soc_min_percent=0,
        soc_max_percent=100,
        charge_efficiency=1,
        discharge_efficiency=1,
        degradation_cost_eur_per_mwh=5.0,
    )
    s = solve(
        Problem(
            prices=np.array([10.0, 100.0]),
            interval_hours=1.0,
            initial_soc_percent=0,
            battery=battery,
        )
    )
    # 1 MWh in and 1 MWh out at 5 EUR each: 90 − 10.
    assert s.objective_eur == pytest.approx(80.0)
    assert s.degradation_cost_eur == pytest.approx(10.0)
