"""What the optimiser is asked and what it answers: plain dataclasses, validated on creation.

Units as everywhere (DESIGN.md): energy MWh, power MW, price EUR/MWh, SoC percent 0–100.
Signs: power > 0 discharges (export, a SELL), < 0 charges (import, a BUY); committed energy per
interval is signed the same way (+ already sold, − already bought).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


class OptimizerError(ValueError):
    """A problem the optimiser cannot answer; ``code`` is machine-readable, the message is for a
    person and names what to change."""

    code = "OPTIMIZER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidProblem(OptimizerError):
    code = "INVALID_PARAMETERS"


class Infeasible(OptimizerError):
    code = "INFEASIBLE"


def _finite(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidProblem(f"{name} must be a finite number, got {value!r}")


@dataclass(frozen=True, slots=True)
class Battery:
    """The battery's limits and costs as the optimiser sees them."""

    capacity_mwh: float = 2.0
    charge_power_mw: float = 1.0  # at the grid connection
    discharge_power_mw: float = 1.0
    soc_min_percent: float = 15.0
    soc_max_percent: float = 90.0
    charge_efficiency: float = 0.95  # stored MWh per MWh bought
    discharge_efficiency: float = 0.95  # MWh sold per MWh taken from the cells
    # Cost of wear per MWh of throughput: energy charged plus energy discharged, at the terminals.
    degradation_cost_eur_per_mwh: float = 0.0
    # Equivalent full cycles per day: discharged MWh ≤ this × capacity in each 24 h block.
    max_cycles_per_day: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "capacity_mwh",
            "charge_power_mw",
            "discharge_power_mw",
            "soc_min_percent",
            "soc_max_percent",
            "charge_efficiency",
            "discharge_efficiency",
            "degradation_cost_eur_per_mwh",
        ):
            _finite(name, getattr(self, name))
        if self.capacity_mwh <= 0:
            raise InvalidProblem(f"capacity_mwh must be > 0, got {self.capacity_mwh}")
        if self.charge_power_mw < 0 or self.discharge_power_mw < 0:
            raise InvalidProblem("charge_power_mw and discharge_power_mw must be ≥ 0")
        if not 0 <= self.soc_min_percent < self.soc_max_percent <= 100:
            raise InvalidProblem(
                f"need 0 ≤ soc_min_percent < soc_max_percent ≤ 100, got soc_min_percent "
                f"{self.soc_min_percent} and soc_max_percent {self.soc_max_percent}"
            )
        for name in ("charge_efficiency", "discharge_efficiency"):
            if not 0 < getattr(self, name) <= 1:
                raise InvalidProblem(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.degradation_cost_eur_per_mwh < 0:
            raise InvalidProblem("degradation_cost_eur_per_mwh must be ≥ 0")
        if self.max_cycles_per_day is not None:
            _finite("max_cycles_per_day", self.max_cycles_per_day)
            if self.max_cycles_per_day <= 0:
                raise InvalidProblem(
                    f"max_cycles_per_day must be > 0 (or absent), got {self.max_cycles_per_day}"
                )

    @property
    def e_min(self) -> float:
        return self.soc_min_percent / 100.0 * self.capacity_mwh

    @property
    def e_max(self) -> float:
        return self.soc_max_percent / 100.0 * self.capacity_mwh


@dataclass(slots=True)
class Problem:
    """One horizon of prices to schedule the battery over."""

    prices: np.ndarray  # EUR/MWh per interval
    interval_hours: float  # 0.25 for PT15M, 1.0 for PT60M
    initial_soc_percent: float
    battery: Battery = field(default_factory=Battery)
    # At least this SoC at the end of the horizon; None: the initial SoC (the schedule does not
    # earn by emptying the battery).
    terminal_soc_percent: float | None = None
    # Energy already traded per interval (+ sold, − bought), MWh; None: nothing.
    committed_mwh: np.ndarray | None = None
    # Intervals that can no longer be traded (gate closed): the battery delivers exactly the
    # committed energy there. None: every interval is tradable.
    locked: np.ndarray | None = None
    # A MILP that forbids charging and discharging in the same interval. Without it the LP may
    # do both when the battery is full and prices are negative, burning energy in losses to be
    # paid for taking more from the grid.
    forbid_simultaneous: bool = False

    def __post_init__(self) -> None:
        prices = np.asarray(self.prices, dtype=float)
        if prices.ndim != 1 or prices.size == 0:
            raise InvalidProblem("prices must be a non-empty list of numbers (EUR/MWh)")
        bad = np.flatnonzero(~np.isfinite(prices))
        if bad.size:
            raise InvalidProblem(f"prices[{bad[0]}] is not a finite number")
        self.prices = prices
        _finite("interval_hours", self.interval_hours)
        if self.interval_hours <= 0:
            raise InvalidProblem(f"interval_hours must be > 0, got {self.interval_hours}")
        _finite("initial_soc_percent", self.initial_soc_percent)
        if not 0 <= self.initial_soc_percent <= 100:
            raise InvalidProblem(
                f"initial_soc_percent must be within 0–100, got {self.initial_soc_percent}"
            )
        if self.terminal_soc_percent is not None:
            _finite("terminal_soc_percent", self.terminal_soc_percent)
            if not 0 <= self.terminal_soc_percent <= 100:
                raise InvalidProblem(
                    f"terminal_soc_percent must be within 0–100, got {self.terminal_soc_percent}"
                )
        n = prices.size
        if self.committed_mwh is not None:
            committed = np.asarray(self.committed_mwh, dtype=float)
            if committed.shape != (n,) or not np.all(np.isfinite(committed)):
                raise InvalidProblem(
                    f"committed_mwh must hold one finite number per price ({n}), "
                    f"got shape {committed.shape}"
                )
            self.committed_mwh = committed
        if self.locked is not None:
            locked = np.asarray(self.locked, dtype=bool)
            if locked.shape != (n,):
                raise InvalidProblem(f"locked must hold one flag per price ({n})")
            self.locked = locked

    @property
    def size(self) -> int:
        return int(self.prices.size)


@dataclass(slots=True)
class Schedule:
    """The optimal schedule. Arrays have one value per interval; SoC is at the interval's end."""

    charge_mw: np.ndarray
    discharge_mw: np.ndarray
    soc_percent: np.ndarray
    prices: np.ndarray
    interval_hours: float
    initial_soc_percent: float
    committed_mwh: np.ndarray
    revenue_eur: float  # value of the battery's net export at the given prices
    degradation_cost_eur: float
    cycles: float  # equivalent full cycles: discharged MWh / capacity
    solve_seconds: float
    milp: bool

    @property
    def power_mw(self) -> np.ndarray:
        """Net power, + discharging (export), − charging."""
        return self.discharge_mw - self.charge_mw

    @property
    def net_export_mwh(self) -> np.ndarray:
        return self.power_mw * self.interval_hours

    @property
    def objective_eur(self) -> float:
        """What was maximised: revenue less degradation."""
        return self.revenue_eur - self.degradation_cost_eur

    @property
    def new_trades_mwh(self) -> np.ndarray:
        """Energy still to trade per interval (+ sell, − buy): the schedule less the committed."""
        return self.net_export_mwh - self.committed_mwh

    @property
    def charged_mwh(self) -> float:
        return float(self.charge_mw.sum() * self.interval_hours)

    @property
    def discharged_mwh(self) -> float:
        return float(self.discharge_mw.sum() * self.interval_hours)

    def settle(self, real_prices: np.ndarray) -> float:
        """Revenue less degradation when the schedule is delivered and paid at ``real_prices``
        (a schedule decided on a forecast is settled at the prices that really cleared)."""
        energy = float(np.dot(np.asarray(real_prices, dtype=float), self.net_export_mwh))
        return energy - self.degradation_cost_eur
