"""Physical plausibility of a reading, the same for every transport (the exchange checks again)."""

from __future__ import annotations

import math

from .model import BadPayload, ConfigInvalid, OutOfRange

SOC_RANGE = (0.0, 100.0)  # percent
TEMPERATURE_RANGE = (-40.0, 80.0)  # °C
POWER_MARGIN = 1.2  # × rated power


def number(name: str, value: object) -> float:
    """A finite float from an int/float/numeric string; BadPayload otherwise (bool is refused)."""
    if isinstance(value, bool):
        raise BadPayload(f"{name}: {value!r} is not a number")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, (str, bytes, bytearray)):
        text = value if isinstance(value, str) else value.decode(errors="replace")
        try:
            out = float(text.strip())
        except ValueError:
            raise BadPayload(f"{name}: {text[:40]!r} is not a number") from None
    else:
        raise BadPayload(f"{name}: {type(value).__name__} is not a number")
    if not math.isfinite(out):
        raise BadPayload(f"{name}: {out} is not a finite number")
    return out


def setpoint(power_mw: float, rated_power_mw: float) -> float:
    """The power to write to a device (MW, + discharging), cut to its rated power; ConfigInvalid
    for a power that is not a number (min/max would turn NaN into full discharge)."""
    if not math.isfinite(power_mw):
        raise ConfigInvalid(f"the setpoint {power_mw} MW is not a number of MW")
    return max(-rated_power_mw, min(rated_power_mw, power_mw))


def check_reading(
    soc_percent: float, power_mw: float, temperature_c: float | None, rated_power_mw: float
) -> None:
    """Raise OutOfRange when a value cannot be a real battery's."""
    lo, hi = SOC_RANGE
    if not lo <= soc_percent <= hi:
        raise OutOfRange(f"soc_percent {soc_percent:g} is outside {lo:g}–{hi:g} %")
    lo, hi = TEMPERATURE_RANGE
    if temperature_c is not None and not lo <= temperature_c <= hi:
        raise OutOfRange(f"temperature_c {temperature_c:g} is outside {lo:g}…{hi:g} °C")
    limit = POWER_MARGIN * rated_power_mw
    if abs(power_mw) > limit:
        raise OutOfRange(
            f"power_mw {power_mw:g} is outside ±{limit:g} MW "
            f"({POWER_MARGIN:g} × the rated {rated_power_mw:g} MW)"
        )
