"""A battery's physics, pure: SoC dynamics with losses and limits, and a first-order thermal model.

Signs as everywhere (DESIGN.md): power > 0 discharges (export), < 0 charges. Time is passed in.

Energy book-keeping: charging at P for dt stores ``|P|·dt·η_charge``; discharging delivers P·dt
at the terminals and takes ``P·dt / η_discharge`` out of the cells. The delivered power is limited
by the power ratings and by what the cells can still take or give in this step, so SoC never
leaves 0–100 %.

Temperature relaxes exponentially (time constant τ) towards ``ambient + rise_per_mw · |P|``:
losses grow with current, and the housing sheds heat in proportion to the difference to ambient.
The exact exponential step keeps it stable for any dt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class BatteryParams:
    capacity_mwh: float = 2.0
    max_charge_mw: float = 1.0
    max_discharge_mw: float = 1.0
    charge_efficiency: float = 0.95
    discharge_efficiency: float = 0.95
    ambient_c: float = 25.0
    thermal_rise_c_per_mw: float = 10.0  # steady-state rise above ambient per MW of |P|
    thermal_time_constant_s: float = 600.0

    def __post_init__(self) -> None:
        if self.capacity_mwh <= 0:
            raise ValueError("capacity_mwh must be > 0")
        if self.max_charge_mw < 0 or self.max_discharge_mw < 0:
            raise ValueError("power limits must be ≥ 0")
        for name in ("charge_efficiency", "discharge_efficiency"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1]")
        if self.thermal_time_constant_s <= 0:
            raise ValueError("thermal_time_constant_s must be > 0")

    @property
    def rated_power_mw(self) -> float:
        return max(self.max_charge_mw, self.max_discharge_mw)


@dataclass(frozen=True, slots=True)
class BatteryState:
    soc_percent: float
    power_mw: float = 0.0  # what the battery delivered during the last step
    temperature_c: float = 25.0


def step(
    params: BatteryParams, state: BatteryState, dt_s: float, setpoint_mw: float
) -> BatteryState:
    """The state after ``dt_s`` seconds of following ``setpoint_mw`` as far as the limits allow."""
    if dt_s <= 0:
        return state
    hours = dt_s / 3600.0
    stored = params.capacity_mwh * min(max(state.soc_percent, 0.0), 100.0) / 100.0
    power = min(max(setpoint_mw, -params.max_charge_mw), params.max_discharge_mw)
    if power > 0:
        power = min(power, stored * params.discharge_efficiency / hours)
        stored -= power * hours / params.discharge_efficiency
    elif power < 0:
        room = params.capacity_mwh - stored
        power = max(power, -room / params.charge_efficiency / hours)
        stored += -power * hours * params.charge_efficiency
    soc = min(max(stored / params.capacity_mwh * 100.0, 0.0), 100.0)
    target = params.ambient_c + params.thermal_rise_c_per_mw * abs(power)
    decay = math.exp(-dt_s / params.thermal_time_constant_s)
    temperature = target + (state.temperature_c - target) * decay
    return replace(state, soc_percent=soc, power_mw=power, temperature_c=temperature)
