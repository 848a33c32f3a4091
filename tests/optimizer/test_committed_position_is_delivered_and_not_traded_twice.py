"""Energy already traded on the exchange: delivered as traded where the gate has closed, and
subtracted from the orders elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from phoenyra.optimizer import Infeasible, Problem, solve
from phoenyra.optimizer.orders import plan_orders

T0 = 1_767_225_600


def test_a_locked_quarter_hour_delivers_exactly_what_was_sold():
    prices = np.array([300.0, 10.0, 10.0, 200.0])
    committed = np.array([0.2, 0.0, 0.0, 0.0])  # already sold in the closed first quarter-hour
    s = solve(
        Problem(
            prices=prices,
            interval_hours=0.25,
            initial_soc_percent=50,
            committed_mwh=committed,
            locked=np.array([True, False, False, False]),
        )
    )
    # The price of 300 would ask for full power, but the gate is closed: 0.2 MWh it is.
    assert s.net_export_mwh[0] == pytest.approx(0.2)
    assert s.new_trades_mwh[0] == pytest.approx(0.0)


def test_energy_already_bought_is_not_bought_again():
    prices = np.array([10.0, 10.0, 200.0, 200.0])
    committed = np.array([-0.2, 0.0, 0.0, 0.0])  # bought 0.2 MWh for the first quarter-hour
    s = solve(
        Problem(
            prices=prices,
            interval_hours=0.25,
            initial_soc_percent=50,
            committed_mwh=committed,
        )
    )
    orders = plan_orders(
        T0 + 900 * np.arange(4),
        s.new_trades_mwh,
        prices,
        committed_mwh=committed,
        max_charge_mw=1.0,
        max_discharge_mw=1.0,
    )
    first = [o for o in orders if o.delivery_start == T0]
    # The schedule charges 0.25 MWh there; 0.2 is bought, so at most a lot more may be bought,
    # and the power limit (0.2 MWh in whole lots) leaves nothing.
    assert first == []


def test_a_committed_position_beyond_the_power_limit_is_reported_as_infeasible():
    with pytest.raises(Infeasible, match="exceeds the battery's power"):
        solve(
            Problem(
                prices=np.array([50.0, 60.0]),
                interval_hours=0.25,
                initial_soc_percent=50,
                committed_mwh=np.array([0.5, 0.0]),  # 2 MW in a quarter-hour of a 1 MW battery
                locked=np.array([True, False]),
            )
        )
