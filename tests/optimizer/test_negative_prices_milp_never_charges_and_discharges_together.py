"""At negative prices a full battery is paid to take energy: the LP burns it in losses by
charging and discharging at once; the MILP option forbids that."""

from __future__ import annotations

import numpy as np

from phoenyra.optimizer import Battery, Problem, solve

BATTERY = Battery(charge_efficiency=0.9, discharge_efficiency=0.9)


def problem(milp: bool) -> Problem:
    prices = np.array([120.0, -50.0, -80.0, -60.0, -40.0, 30.0])
    return Problem(
        prices=prices,
        interval_hours=1.0,
        initial_soc_percent=90.0,  # full: the only way to take more energy is to waste some
        battery=BATTERY,
        forbid_simultaneous=milp,
    )


def test_the_lp_charges_and_discharges_in_the_same_hour_at_negative_prices():
    s = solve(problem(milp=False))
    both = (s.charge_mw > 1e-6) & (s.discharge_mw > 1e-6)
    assert both.any()
    assert (problem(False).prices[both] < 0).all()


def test_the_milp_never_charges_and_discharges_in_the_same_hour():
    lp = solve(problem(milp=False))
    milp = solve(problem(milp=True))
    assert milp.milp
    assert not ((milp.charge_mw > 1e-9) & (milp.discharge_mw > 1e-9)).any()
    # Forbidding something can only cost: the MILP's optimum is at most the LP's.
    assert milp.objective_eur <= lp.objective_eur + 1e-6
    # It still sells at the 120 EUR hour and is paid to charge back in the negative hours.
    assert milp.discharge_mw[0] > 0
    assert milp.charge_mw[1:5].sum() > 0
