"""Made-up but plausible day-ahead prices, for the offline demo and tests without a network.

The shape follows what the 2024 DE-LU/AT series show: a night trough, a morning ramp, a solar dip
around midday that is deep in summer (negative on sunny days, most often at weekends when demand
is low), an evening peak, lower prices at weekends and a higher level in winter.

Every random number is a hash of (seed, zone, day or interval start), never a stream position:
a price depends only on its own interval, so re-fetching any range, or a sub-range, gives the
same prices, and the feed can ask for today again without the chart jumping.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from ..model import (
    RESOLUTION_SECONDS,
    BadRequestError,
    PriceInterval,
    check_series,
    iso_utc,
)
from . import register

PRICE_FLOOR = -500.0  # SDAC harmonised minimum clearing price
PRICE_CAP = 4000.0  # SDAC harmonised maximum clearing price, as it stood when the feed was written
QUARTER = RESOLUTION_SECONDS["PT15M"]


@dataclass(frozen=True, slots=True)
class ZoneShape:
    tz: str
    level: float  # mean EUR/MWh on a weekday in spring/autumn
    solar: float  # depth of the midday dip relative to the level, on a clear summer day
    evening: float  # height of the evening peak relative to the level


# Levels chosen so the yearly means land near the 2024 means in /work/shared/data
# (DE-LU 79, AT 82, CH 76, IT-North 107) once the midday dip is taken off.
# CH's hydro storage flattens both the dip and the peak; IT-North's price is set by gas plants
# and had no negative hour in 2024, so its dip is shallow.
ZONES = {
    "DE-LU": ZoneShape("Europe/Berlin", level=88.0, solar=1.3, evening=0.45),
    "AT": ZoneShape("Europe/Vienna", level=90.0, solar=1.05, evening=0.45),
    "CH": ZoneShape("Europe/Zurich", level=82.0, solar=0.6, evening=0.3),
    "IT-North": ZoneShape("Europe/Rome", level=114.0, solar=0.4, evening=0.35),
}

# Demand, and with it the price level, drops on Saturdays and more on Sundays.
WEEKDAY_FACTOR = (1.0, 1.0, 1.0, 1.0, 1.0, 0.88, 0.78)


def _uniforms(*key: object) -> tuple[float, float]:
    digest = hashlib.blake2b(":".join(map(str, key)).encode(), digest_size=16).digest()
    # +0.5 keeps both strictly inside (0, 1), so log() below never sees 0.
    return (
        (int.from_bytes(digest[:8], "big") + 0.5) / 2**64,
        (int.from_bytes(digest[8:], "big") + 0.5) / 2**64,
    )


def _normal(*key: object) -> float:
    u1, u2 = _uniforms(*key)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)  # Box-Muller


def _bump(hour: float, centre: float, width: float) -> float:
    # Distance around the clock, so the night trough spans midnight.
    d = abs(hour - centre) % 24.0
    d = min(d, 24.0 - d)
    return math.exp(-0.5 * (d / width) ** 2)


@dataclass(frozen=True, slots=True)
class _Day:
    level: float  # seasonal level times the day's weather/fuel factor, before the weekend cut
    weekday_factor: float
    summer: float  # 0 in mid-January … 1 in mid-July
    sun: float  # how clear the day is, 0.2 … 1.1


@register
class SyntheticSource:
    name: ClassVar[str] = "synthetic"
    simulated: ClassVar[bool] = True

    def __init__(self, *, seed: int = 42, resolution: str = "PT15M") -> None:
        if resolution not in ("PT15M", "PT60M"):
            raise BadRequestError(
                f"synthetic: resolution {resolution!r} is not supported; use PT15M or PT60M"
            )
        self.seed = int(seed)
        self.resolution = resolution
        self.step = RESOLUTION_SECONDS[resolution]

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> SyntheticSource:
        return cls(**options)

    def _day(self, zone: str, shape: ZoneShape, local_date: date) -> _Day:
        doy = local_date.timetuple().tm_yday
        winter = math.cos(2.0 * math.pi * (doy - 15) / 365.25)  # +1 mid-January, −1 mid-July
        factor = math.exp(0.12 * max(-3.0, min(3.0, _normal(self.seed, zone, local_date, "lvl"))))
        sun, _ = _uniforms(self.seed, zone, local_date, "sun")
        return _Day(
            level=shape.level * (1.0 + 0.15 * winter) * factor,
            weekday_factor=WEEKDAY_FACTOR[local_date.weekday()],
            summer=(1.0 - winter) / 2.0,
            sun=0.2 + 0.9 * sun,
        )

    def _quarter_price(self, zone: str, shape: ZoneShape, day: _Day, ts: int, hour: float) -> float:
        demand = day.level * day.weekday_factor
        profile = (
            1.0
            - 0.28 * _bump(hour, 3.5, 2.2)
            + 0.18 * _bump(hour, 8.0, 1.4)
            # The evening peak comes later in summer, when the sun sets later.
            + shape.evening * _bump(hour, 18.0 + 1.5 * day.summer, 1.8)
        )
        # Solar output does not care about weekends, so the dip is scaled by the weekday level;
        # that is what pushes sunny Sundays below zero.
        solar = (
            day.level
            * shape.solar
            * (0.25 + 0.75 * day.summer)
            * day.sun
            * _bump(hour, 13.0, 2.0 + 0.8 * day.summer)
        )
        noise = _normal(self.seed, zone, ts) * (0.03 * abs(demand) + 1.5)
        return demand * profile - solar + noise

    def _compute(self, zone: str, start: int, end: int) -> list[PriceInterval]:
        shape = ZONES[zone]
        tz = ZoneInfo(shape.tz)
        days: dict[date, _Day] = {}
        first = -(-start // self.step) * self.step  # the first period starting at or after start
        out = []
        for ts in range(first, end - self.step + 1, self.step):  # periods wholly inside
            # An hourly price is the mean of its quarter-hours, so the two resolutions agree.
            total = 0.0
            for q in range(ts, ts + self.step, QUARTER):
                local = datetime.fromtimestamp(q, UTC).astimezone(tz)
                day = days.get(local.date())
                if day is None:
                    day = days[local.date()] = self._day(zone, shape, local.date())
                hour = local.hour + (local.minute + 7.5) / 60.0  # middle of the quarter
                total += self._quarter_price(zone, shape, day, q, hour)
            price = min(PRICE_CAP, max(PRICE_FLOOR, total / (self.step // QUARTER)))
            out.append(
                PriceInterval(ts, ts + self.step, self.resolution, round(price, 2), self.name)
            )
        return out

    async def fetch(self, zone: str, start: int, end: int) -> list[PriceInterval]:
        if zone not in ZONES:
            raise BadRequestError(
                f"synthetic: unknown zone {zone!r}; choose one of {', '.join(ZONES)}"
            )
        if end <= start:
            raise BadRequestError(
                f"synthetic: empty range {iso_utc(start)} – {iso_utc(end)}; end must be after start"
            )
        intervals = self._compute(zone, start, end)
        check_series(intervals)
        return intervals

    async def aclose(self) -> None:
        pass
