"""The optimum equals an independent formulation solved with scipy's linprog.

Ours has the stored energy as variables and one balance row per interval; this one eliminates
it: s_t = s₀ + Σ_{τ≤t} (η_c c_τ − d_τ/η_d) Δ, a dense lower-triangular matrix, with the SoC
window and the terminal SoC as inequalities on those sums.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from phoenyra.optimizer import Battery, Problem, solve
from phoenyra.optimizer.lp import cycle_blocks


def linprog_optimum(p: Problem) -> float:
    b, n, dt = p.battery, p.size, p.interval_hours
    s0 = p.initial_soc_percent / 100 * b.capacity_mwh
    lower = np.tril(np.ones((n, n)))
    # Stored energy as a linear map of x = [c, d]: s = s₀ + A x.
    a = np.hstack([lower * b.charge_efficiency * dt, -lower * dt / b.discharge_efficiency])
    rows, rhs = [a, -a], [np.full(n, b.e_max - s0), np.full(n, s0 - b.e_min)]
    terminal = (
        s0 if p.terminal_soc_percent is None else p.terminal_soc_percent / 100 * (b.capacity_mwh)
    )
    rows.append(-a[-1:])
    rhs.append(np.array([s0 - terminal]))
    if b.max_cycles_per_day is not None:
        for lo, hi in cycle_blocks(n, dt):
            row = np.zeros(2 * n)
            row[n + lo : n + hi] = dt
            rows.append(row[None, :])
            rhs.append(np.array([b.max_cycles_per_day * b.capacity_mwh * (hi - lo) * dt / 24]))
    wear = b.degradation_cost_eur_per_mwh
    cost = np.concatenate([(p.prices + wear) * dt, (wear - p.prices) * dt])
    bounds = [(0, b.charge_power_mw)] * n + [(0, b.discharge_power_mw)] * n
    res = linprog(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), bounds=bounds)
    assert res.status == 0, res.message
    return -res.fun


@pytest.mark.parametrize("seed", range(25))
def test_highs_model_and_linprog_find_the_same_optimum(seed):
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(2, 120))
    lo = float(rng.uniform(0, 30))
    battery = Battery(
        capacity_mwh=float(rng.uniform(0.5, 5)),
        charge_power_mw=float(rng.uniform(0.2, 3)),
        discharge_power_mw=float(rng.uniform(0.2, 3)),
        soc_min_percent=lo,
        soc_max_percent=float(rng.uniform(lo + 10, 100)),
        charge_efficiency=float(rng.uniform(0.8, 1)),
        discharge_efficiency=float(rng.uniform(0.8, 1)),
        degradation_cost_eur_per_mwh=float(rng.uniform(0, 5)),
        max_cycles_per_day=None if seed % 2 else float(rng.uniform(0.5, 2)),
    )
    p = Problem(
        prices=rng.normal(80, 50, n),
        interval_hours=float(rng.choice([0.25, 1.0])),
        initial_soc_percent=float(rng.uniform(battery.soc_min_percent, battery.soc_max_percent)),
        battery=battery,
    )
    ours = solve(p).objective_eur
    theirs = linprog_optimum(p)
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-6)
