"""Every limit of the problem, checked on the solver's answer for random instances: power,
SoC window, energy balance (recomputed here), terminal SoC, cycles per day, locked intervals."""

from __future__ import annotations

import numpy as np
import pytest

from phoenyra.optimizer import Battery, Problem, solve
from phoenyra.optimizer.lp import cycle_blocks

TOL = 1e-6


def random_problem(rng: np.random.Generator, milp: bool) -> Problem:
    n = int(rng.integers(4, 200))
    dt = float(rng.choice([0.25, 1.0]))
    lo = float(rng.uniform(0, 40))
    hi = float(rng.uniform(lo + 30, 100))
    battery = Battery(
        capacity_mwh=float(rng.uniform(0.5, 10)),
        charge_power_mw=float(rng.uniform(0.1, 5)),
        discharge_power_mw=float(rng.uniform(0.1, 5)),
        soc_min_percent=lo,
        soc_max_percent=hi,
        charge_efficiency=float(rng.uniform(0.8, 1.0)),
        discharge_efficiency=float(rng.uniform(0.8, 1.0)),
        degradation_cost_eur_per_mwh=float(rng.choice([0.0, rng.uniform(0, 10)])),
        max_cycles_per_day=None if rng.random() < 0.4 else float(rng.uniform(0.3, 3)),
    )
    prices = rng.normal(70, 60, n)  # plenty of negative prices
    soc0 = float(rng.uniform(lo + 10, hi - 20))
    # Locked leading intervals carry energy already bought, which the battery has room for
    # (≤ 15 points of SoC; the window leaves 20 above the start).
    locked = np.zeros(n, dtype=bool)
    committed = np.zeros(n)
    k = int(rng.integers(0, 4))
    locked[:k] = True
    per_interval = -np.minimum(
        rng.uniform(0, 0.05, k) * battery.capacity_mwh, battery.charge_power_mw * dt
    )
    committed[:k] = per_interval
    return Problem(
        prices=prices,
        interval_hours=dt,
        initial_soc_percent=soc0,
        battery=battery,
        terminal_soc_percent=float(rng.uniform(lo, soc0)) if rng.random() < 0.5 else None,
        committed_mwh=committed,
        locked=locked,
        forbid_simultaneous=milp,
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_schedule_respects_every_limit(seed):
    rng = np.random.default_rng(seed)
    p = random_problem(rng, milp=seed % 4 == 0)
    b = p.battery
    s = solve(p)
    c, d, dt = s.charge_mw, s.discharge_mw, p.interval_hours

    assert (c >= -TOL).all() and (c <= b.charge_power_mw + TOL).all()
    assert (d >= -TOL).all() and (d <= b.discharge_power_mw + TOL).all()

    stored = p.initial_soc_percent / 100 * b.capacity_mwh
    for t in range(p.size):
        stored += b.charge_efficiency * c[t] * dt - d[t] * dt / b.discharge_efficiency
        assert s.soc_percent[t] / 100 * b.capacity_mwh == pytest.approx(stored, abs=1e-6)
    assert (s.soc_percent >= b.soc_min_percent - TOL).all()
    assert (s.soc_percent <= b.soc_max_percent + TOL).all()

    terminal = p.terminal_soc_percent
    terminal = p.initial_soc_percent if terminal is None else terminal
    assert s.soc_percent[-1] >= terminal - TOL

    if b.max_cycles_per_day is not None:
        for a, z in cycle_blocks(p.size, dt):
            limit = b.max_cycles_per_day * b.capacity_mwh * (z - a) * dt / 24
            assert d[a:z].sum() * dt <= limit + TOL

    locked = p.locked
    assert s.net_export_mwh[locked] == pytest.approx(p.committed_mwh[locked], abs=1e-7)
    assert s.new_trades_mwh[locked] == pytest.approx(0, abs=1e-7)

    if p.forbid_simultaneous:
        assert not ((c > 1e-7) & (d > 1e-7)).any()

    assert s.revenue_eur == pytest.approx(float(np.dot(p.prices, (d - c) * dt)), abs=1e-6)
