"""The schedule as a linear programme, solved with HiGHS.

Variables per interval t (length Δ hours): charge power c_t ∈ [0, P_c], discharge power
d_t ∈ [0, P_d] (both MW at the grid connection) and stored energy s_t (MWh at the end of t).

    maximise  Σ_t  p_t (d_t − c_t) Δ  −  k Σ_t (c_t + d_t) Δ          (revenue − wear)
    s.t.      s_t = s_{t−1} + η_c c_t Δ − d_t Δ / η_d                  (energy balance, s_{−1} = s₀)
              E_min ≤ s_t ≤ E_max,  s_{T−1} ≥ E_terminal
              Σ_{t ∈ day} d_t Δ ≤ cycles × capacity                    (each 24 h block)
              locked t: d_t − c_t = committed_t / Δ (delivered as traded, nothing else)
    MILP:     c_t ≤ P_c u_t,  d_t ≤ P_d (1 − u_t),  u_t ∈ {0, 1}

The constraint matrix is assembled as one sparse array with numpy (no Python loop over rows),
so a year of quarter-hours (35,040 intervals, 105k columns) is built in milliseconds.
"""

from __future__ import annotations

import os
import sys
import time

import highspy
import numpy as np
from scipy import sparse

from .model import Battery, Infeasible, InvalidProblem, Problem, Schedule

EPS = 1e-9
_banner_shown = False


def _highs() -> highspy.Highs:
    """A silent HiGHS instance. Its first construction in a process prints a licence banner
    straight to file descriptor 1, which would corrupt JSON printed by the CLI; it is sent to
    stderr instead."""
    global _banner_shown
    if _banner_shown:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            os.dup2(2, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _banner_shown = True
    h.setOptionValue("output_flag", False)
    return h


def energy_bounds(problem: Problem) -> tuple[float, float, float]:
    """(lower, upper, terminal) bounds of stored energy, MWh.

    A battery that starts outside its SoC window may stay where it is but not move further out:
    otherwise the problem would be infeasible from its first interval.
    """
    b = problem.battery
    s0 = problem.initial_soc_percent / 100.0 * b.capacity_mwh
    lo, hi = min(b.e_min, s0), max(b.e_max, s0)
    if problem.terminal_soc_percent is None:
        terminal = s0
    else:
        terminal = problem.terminal_soc_percent / 100.0 * b.capacity_mwh
        if terminal > hi + EPS:
            raise InvalidProblem(
                f"terminal_soc_percent {problem.terminal_soc_percent} is above the highest SoC "
                f"the battery may reach ({hi / b.capacity_mwh * 100:g} %)"
            )
    return lo, hi, max(lo, terminal)


def cycle_blocks(n: int, interval_hours: float) -> list[tuple[int, int]]:
    """Consecutive 24-hour blocks of intervals from the start of the horizon."""
    per_day = max(1, round(24.0 / interval_hours))
    return [(a, min(a + per_day, n)) for a in range(0, n, per_day)]


def build(problem: Problem) -> highspy.HighsLp:
    """The HiGHS model of ``problem`` (minimisation of the negated objective)."""
    b: Battery = problem.battery
    n = problem.size
    dt = problem.interval_hours
    p = problem.prices
    milp = problem.forbid_simultaneous
    nvar = 4 * n if milp else 3 * n
    ic, id_, is_ = 0, n, 2 * n  # column offsets of c, d, s (and u at 3n)
    t = np.arange(n)

    lo_e, hi_e, terminal = energy_bounds(problem)
    s0 = problem.initial_soc_percent / 100.0 * b.capacity_mwh

    # Energy balance rows 0..n-1: s_t − s_{t−1} − η_c Δ c_t + Δ/η_d d_t = (s₀ if t = 0 else 0).
    rows = [t, t[1:], t, t]
    cols = [is_ + t, is_ + t[1:] - 1, ic + t, id_ + t]
    vals = [
        np.ones(n),
        -np.ones(n - 1),
        np.full(n, -b.charge_efficiency * dt),
        np.full(n, dt / b.discharge_efficiency),
    ]
    row_lo = [np.zeros(n)]
    row_hi = [np.zeros(n)]
    row_lo[0][0] = row_hi[0][0] = s0
    nrow = n

    if b.max_cycles_per_day is not None:
        blocks = cycle_blocks(n, dt)
        for k, (a, z) in enumerate(blocks):
            rows.append(np.full(z - a, nrow + k))
            cols.append(id_ + np.arange(a, z))
            vals.append(np.full(z - a, dt))
        limits = np.array(
            [b.max_cycles_per_day * b.capacity_mwh * (z - a) * dt / 24.0 for a, z in blocks]
        )
        row_lo.append(np.full(len(blocks), -np.inf))
        row_hi.append(limits)
        nrow += len(blocks)

    if milp:
        iu = 3 * n
        # c_t − P_c u_t ≤ 0   and   d_t + P_d u_t ≤ P_d
        rows += [nrow + t, nrow + t, nrow + n + t, nrow + n + t]
        cols += [ic + t, iu + t, id_ + t, iu + t]
        vals += [
            np.ones(n),
            np.full(n, -b.charge_power_mw),
            np.ones(n),
            np.full(n, b.discharge_power_mw),
        ]
        row_lo += [np.full(2 * n, -np.inf)]
        row_hi += [np.concatenate([np.zeros(n), np.full(n, b.discharge_power_mw)])]
        nrow += 2 * n

    matrix = sparse.csc_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(nrow, nvar),
    )

    wear = b.degradation_cost_eur_per_mwh
    cost = np.zeros(nvar)
    cost[ic : ic + n] = (p + wear) * dt
    cost[id_ : id_ + n] = (wear - p) * dt

    col_lo = np.zeros(nvar)
    col_hi = np.empty(nvar)
    col_hi[ic : ic + n] = b.charge_power_mw
    col_hi[id_ : id_ + n] = b.discharge_power_mw
    col_lo[is_ : is_ + n] = lo_e
    col_hi[is_ : is_ + n] = hi_e
    col_lo[is_ + n - 1] = terminal
    if milp:
        col_hi[3 * n :] = 1.0

    if problem.locked is not None and problem.locked.any():
        committed = problem.committed_mwh if problem.committed_mwh is not None else np.zeros(n)
        locked = np.flatnonzero(problem.locked)
        power = committed[locked] / dt
        over = locked[(power > b.discharge_power_mw + EPS) | (-power > b.charge_power_mw + EPS)]
        if over.size:
            i = int(over[0])
            raise Infeasible(
                f"interval {i} can no longer be traded and its committed "
                f"{committed[i]:+g} MWh exceeds the battery's power limits "
                f"in {dt:g} h"
            )
        # Delivered exactly as traded: one of c, d carries the committed energy, the other is 0.
        dis = np.maximum(power, 0.0)
        chg = np.maximum(-power, 0.0)
        col_lo[id_ + locked] = col_hi[id_ + locked] = dis
        col_lo[ic + locked] = col_hi[ic + locked] = chg

    lp = highspy.HighsLp()
    lp.num_col_ = nvar
    lp.num_row_ = nrow
    lp.col_cost_ = cost
    lp.col_lower_ = col_lo
    lp.col_upper_ = col_hi
    lp.row_lower_ = np.concatenate(row_lo)
    lp.row_upper_ = np.concatenate(row_hi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    if milp:
        integrality = [highspy.HighsVarType.kContinuous] * (3 * n)
        integrality += [highspy.HighsVarType.kInteger] * n
        lp.integrality_ = integrality
    return lp


def solve(
    problem: Problem, *, solver: str = "choose", time_limit_s: float | None = None
) -> Schedule:
    """The revenue-maximising schedule, or :class:`Infeasible` saying why there is none."""
    started = time.perf_counter()
    b = problem.battery
    n = problem.size
    dt = problem.interval_hours
    lp = build(problem)
    h = _highs()
    h.setOptionValue("solver", solver)
    if time_limit_s is not None:
        h.setOptionValue("time_limit", float(time_limit_s))
    if problem.forbid_simultaneous:
        h.setOptionValue("mip_rel_gap", 1e-9)
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        text = h.modelStatusToString(status)
        if status in (
            highspy.HighsModelStatus.kInfeasible,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            raise Infeasible(
                "no schedule satisfies the limits: the committed position, the terminal SoC "
                "and the power and SoC limits contradict each other "
                f"(HiGHS: {text})"
            )
        raise Infeasible(f"HiGHS did not find an optimal schedule (status: {text})")
    x = np.asarray(h.getSolution().col_value)
    # Solver noise of 1e-12 MW would otherwise turn into orders and signs.
    charge = np.where(x[:n] > EPS, x[:n], 0.0)
    discharge = np.where(x[n : 2 * n] > EPS, x[n : 2 * n], 0.0)
    stored = x[2 * n : 3 * n]
    export = (discharge - charge) * dt
    revenue = float(np.dot(problem.prices, export))
    wear = b.degradation_cost_eur_per_mwh * float((charge + discharge).sum()) * dt
    committed = problem.committed_mwh if problem.committed_mwh is not None else np.zeros(n)
    return Schedule(
        charge_mw=charge,
        discharge_mw=discharge,
        soc_percent=stored / b.capacity_mwh * 100.0,
        prices=problem.prices,
        interval_hours=dt,
        initial_soc_percent=problem.initial_soc_percent,
        committed_mwh=committed,
        revenue_eur=revenue,
        degradation_cost_eur=wear,
        cycles=float(discharge.sum() * dt / b.capacity_mwh),
        solve_seconds=time.perf_counter() - started,
        milp=problem.forbid_simultaneous,
    )
