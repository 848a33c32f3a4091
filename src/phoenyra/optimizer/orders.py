"""The orders that realise a schedule: one limit order per delivery quarter-hour.

A BUY charges the battery, a SELL discharges it. Quantities are whole lots (0.1 MWh on our
markets): within a run of consecutive quarter-hours on the same side the rounding error is
carried forward, so the run's total is within half a lot of the plan, but never past the run, so
no energy moves to a quarter-hour of another price. No quarter-hour exceeds what the battery's
power allows in 15 minutes once rounded to lots, which is what the exchange's risk check allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

QUARTER_HOUR = 900  # seconds
QH_HOURS = 0.25


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    delivery_start: int  # epoch seconds (UTC) of the delivery quarter-hour
    side: str  # "BUY" (charge) or "SELL" (discharge)
    quantity_mwh: float
    price: float  # limit, EUR/MWh
    forecast_price: float  # the price the schedule was optimised on, EUR/MWh


def lots_per_quarter_hour(power_mw: float, lot: float) -> int:
    """Whole lots the battery can deliver in one quarter-hour at ``power_mw``."""
    return math.floor(power_mw * QH_HOURS / lot + 1e-9)


def tradable_power_mw(power_mw: float, lot: float) -> float:
    """The power a schedule of whole-lot quarter-hour orders can use: a 1 MW battery moves
    0.25 MWh per quarter-hour, but orders come in 0.1 MWh lots, so 0.2 MWh (0.8 MW)."""
    return lots_per_quarter_hour(power_mw, lot) * lot / QH_HOURS


def to_quarter_hours(
    starts: np.ndarray, interval_s: int, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interval values (energy) spread evenly over their quarter-hours: (starts, values)."""
    if interval_s % QUARTER_HOUR:
        raise ValueError(f"interval of {interval_s} s is not a whole number of quarter-hours")
    k = interval_s // QUARTER_HOUR
    qh_starts = (np.asarray(starts, dtype=np.int64)[:, None] + QUARTER_HOUR * np.arange(k)).ravel()
    return qh_starts, np.repeat(np.asarray(values, dtype=float) / k, k)


def _limit_price(price: float, buy: bool, margin: float, tick: float, lo: float, hi: float):
    # A positive margin concedes that much against the forecast to be filled more surely: a BUY
    # pays up to forecast + margin, a SELL accepts down to forecast − margin.
    raw = price + margin if buy else price - margin
    ticks = math.floor(raw / tick + 1e-9) if buy else math.ceil(raw / tick - 1e-9)
    return round(min(max(ticks * tick, lo), hi), 10)


def round_to_lots(
    target_mwh: np.ndarray,
    committed_mwh: np.ndarray,
    lot: float,
    max_charge_lots: int,
    max_discharge_lots: int,
) -> np.ndarray:
    """Whole-lot trades (+ sell, − buy) per quarter-hour close to ``target_mwh``.

    ``committed_mwh`` is what each quarter-hour already holds: with it the battery may move at
    most ``max_*_lots`` in the quarter-hour.
    """
    out = np.zeros(len(target_mwh))
    cum_target = 0.0
    cum_lots = 0
    sign = 0
    for i, x in enumerate(target_mwh):
        s = 1 if x > 1e-9 else -1 if x < -1e-9 else 0
        if s != sign:  # a new run: errors are not carried across runs
            cum_target, cum_lots, sign = 0.0, 0, s
        if s == 0:
            continue
        cum_target += abs(x)
        want = math.floor(cum_target / lot + 0.5 + 1e-9) - cum_lots
        held = committed_mwh[i] / lot  # + sold, − bought, in lots
        room = (max_discharge_lots - held) if s > 0 else (max_charge_lots + held)
        lots = max(0, min(want, math.floor(room + 1e-9)))
        cum_lots += lots
        out[i] = s * lots * lot
    return out


def plan_orders(
    qh_starts: np.ndarray,
    target_mwh: np.ndarray,
    forecast: np.ndarray,
    *,
    committed_mwh: np.ndarray | None = None,
    tradable: np.ndarray | None = None,
    max_charge_mw: float,
    max_discharge_mw: float,
    lot: float = 0.1,
    tick: float = 0.01,
    margin_eur_mwh: float = 0.0,
    min_price: float = -500.0,
    max_price: float = 4000.0,
) -> list[PlannedOrder]:
    """Orders per quarter-hour for the energy still to trade (``target_mwh``: + sell, − buy)."""
    n = len(qh_starts)
    committed = np.zeros(n) if committed_mwh is None else np.asarray(committed_mwh, float)
    target = np.asarray(target_mwh, dtype=float).copy()
    if tradable is not None:
        target[~np.asarray(tradable, dtype=bool)] = 0.0
    quantities = round_to_lots(
        target,
        committed,
        lot,
        lots_per_quarter_hour(max_charge_mw, lot),
        lots_per_quarter_hour(max_discharge_mw, lot),
    )
    orders = []
    for start, q, price in zip(qh_starts, quantities, forecast, strict=True):
        if abs(q) < lot / 2:
            continue
        buy = q < 0
        orders.append(
            PlannedOrder(
                delivery_start=int(start),
                side="BUY" if buy else "SELL",
                quantity_mwh=round(float(abs(q)), 10),
                price=_limit_price(float(price), buy, margin_eur_mwh, tick, min_price, max_price),
                forecast_price=float(price),
            )
        )
    return orders
