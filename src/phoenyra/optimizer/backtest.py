"""Rolling daily backtest: each local delivery day the battery is scheduled on a price forecast,
and the schedule is delivered and paid at the prices that really cleared.

Strategies:
- ``perfect``: the real prices (perfect foresight, the upper bound any forecast can reach);
- ``naive_day`` / ``naive_week``: the same quarter-hours one day / one week before;
- ``learned``: gradient-boosted trees on lagged prices and calendar features (see forecast.py).

Every strategy carries its own SoC from day to day; each day ends at least at the SoC it began
with, so no strategy earns by emptying the battery at the end of the test. All strategies are
evaluated on the same days: those after ``warmup_days`` of history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .forecast import Days, LearnedForecast, naive, split_days
from .lp import solve
from .model import Battery, InvalidProblem, Problem

STRATEGIES = ("perfect", "naive_day", "naive_week", "learned")
LABELS = {
    "perfect": "perfect foresight",
    "naive_day": "naive: previous day",
    "naive_week": "naive: previous week",
    "learned": "learned (gradient boosting)",
}
YEAR_S = 365 * 86_400


@dataclass(slots=True)
class StrategyResult:
    name: str
    revenue_eur: float = 0.0  # settled at real prices, less degradation
    degradation_eur: float = 0.0
    charged_mwh: float = 0.0
    discharged_mwh: float = 0.0
    cycles: float = 0.0
    mae_eur_mwh: float = 0.0
    daily_revenue_eur: list[float] = field(default_factory=list)
    power_mw: np.ndarray | None = None  # over the evaluated window
    soc_percent: np.ndarray | None = None
    forecast: np.ndarray | None = None

    @property
    def label(self) -> str:
        return LABELS.get(self.name, self.name)


@dataclass(slots=True)
class BacktestResult:
    battery: Battery
    starts: np.ndarray  # evaluated intervals (epoch seconds)
    prices: np.ndarray
    step_s: int
    dates: list[str]  # evaluated local days
    strategies: dict[str, StrategyResult]
    elapsed_s: float
    milp: bool

    @property
    def seconds(self) -> float:
        return float(len(self.starts) * self.step_s)

    def revenue_per_mw_year(self, name: str) -> float:
        """Annualised revenue per MW of discharge power, EUR/MW/year."""
        power = self.battery.discharge_power_mw or 1.0
        return self.strategies[name].revenue_eur / power * YEAR_S / self.seconds

    def capture(self, name: str) -> float | None:
        """Share of the perfect-foresight revenue the strategy earned (None without it)."""
        perfect = self.strategies.get("perfect")
        if perfect is None or perfect.revenue_eur <= 0:
            return None
        return self.strategies[name].revenue_eur / perfect.revenue_eur

    def summary(self) -> list[dict]:
        rows = []
        for name, r in self.strategies.items():
            rows.append(
                {
                    "strategy": name,
                    "label": r.label,
                    "revenue_eur": round(r.revenue_eur, 2),
                    "degradation_eur": round(r.degradation_eur, 2),
                    "cycles": round(r.cycles, 2),
                    "charged_mwh": round(r.charged_mwh, 3),
                    "discharged_mwh": round(r.discharged_mwh, 3),
                    "revenue_eur_per_mw_year": round(self.revenue_per_mw_year(name), 2),
                    "forecast_mae_eur_mwh": round(r.mae_eur_mwh, 3),
                    "capture": None if self.capture(name) is None else round(self.capture(name), 4),
                }
            )
        return rows


def run_backtest(
    starts: np.ndarray,
    prices: np.ndarray,
    step_s: int,
    battery: Battery,
    *,
    tz: str = "Europe/Berlin",
    strategies: tuple[str, ...] = STRATEGIES,
    warmup_days: int = 14,
    retrain_days: int = 7,
    initial_soc_percent: float | None = None,
    forbid_simultaneous: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Backtest ``strategies`` over the series; ``progress(1)`` is called after each day."""
    started = time.perf_counter()
    starts = np.asarray(starts, dtype=np.int64)
    prices = np.asarray(prices, dtype=float)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise InvalidProblem(
            f"unknown strategy {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(STRATEGIES)}"
        )
    if starts.shape != prices.shape or starts.size == 0:
        raise InvalidProblem("the price series is empty")
    if not np.all(np.isfinite(prices)):
        raise InvalidProblem("the price series holds a value that is not a finite number")
    if warmup_days < 7 and ("naive_week" in strategies or "learned" in strategies):
        raise InvalidProblem("warmup_days must be ≥ 7 for the week-old and learned forecasts")
    days: Days = split_days(starts, tz)
    if len(days.bounds) <= warmup_days:
        raise InvalidProblem(
            f"the price series covers {len(days.bounds)} day(s); the backtest needs "
            f"{warmup_days} day(s) of history (warmup_days) and at least one more to trade"
        )
    soc0 = battery.soc_min_percent if initial_soc_percent is None else initial_soc_percent
    dt = step_s / 3600.0
    learned = (
        LearnedForecast(prices, days, step_s, retrain_days=retrain_days, min_train_days=7)
        if "learned" in strategies
        else None
    )
    first = days.bounds[warmup_days][0]
    window = slice(first, len(prices))
    results = {name: StrategyResult(name) for name in strategies}
    soc = dict.fromkeys(strategies, soc0)
    power = {name: np.zeros(len(prices)) for name in strategies}
    socs = {name: np.zeros(len(prices)) for name in strategies}
    fcst = {name: np.zeros(len(prices)) for name in strategies}

    for k in range(warmup_days, len(days.bounds)):
        a, z = days.bounds[k]
        real = prices[a:z]
        for name in strategies:
            if name == "perfect":
                forecast = real
            elif name == "naive_day":
                forecast = naive(prices, a, z, step_s, 1)
            elif name == "naive_week":
                forecast = naive(prices, a, z, step_s, 7)
            else:
                forecast = learned.forecast(k)
            schedule = solve(
                Problem(
                    prices=forecast,
                    interval_hours=dt,
                    initial_soc_percent=soc[name],
                    battery=battery,
                    forbid_simultaneous=forbid_simultaneous,
                )
            )
            r = results[name]
            day_revenue = schedule.settle(real)
            r.revenue_eur += day_revenue
            r.daily_revenue_eur.append(day_revenue)
            r.degradation_eur += schedule.degradation_cost_eur
            r.charged_mwh += schedule.charged_mwh
            r.discharged_mwh += schedule.discharged_mwh
            power[name][a:z] = schedule.power_mw
            socs[name][a:z] = schedule.soc_percent
            fcst[name][a:z] = forecast
            soc[name] = float(np.clip(schedule.soc_percent[-1], 0.0, 100.0))
        if progress is not None:
            progress(1)

    for name, r in results.items():
        r.cycles = r.discharged_mwh / battery.capacity_mwh
        r.mae_eur_mwh = float(np.mean(np.abs(fcst[name][window] - prices[window])))
        r.power_mw = power[name][window]
        r.soc_percent = socs[name][window]
        r.forecast = fcst[name][window]
    return BacktestResult(
        battery=battery,
        starts=starts[window],
        prices=prices[window],
        step_s=step_s,
        dates=days.dates[warmup_days:],
        strategies=results,
        elapsed_s=time.perf_counter() - started,
        milp=forbid_simultaneous,
    )


def days_to_trade(starts: np.ndarray, tz: str, warmup_days: int) -> int:
    """How many days :func:`run_backtest` will schedule (for a progress bar's length)."""
    return max(0, len(split_days(np.asarray(starts), tz).bounds) - warmup_days)
