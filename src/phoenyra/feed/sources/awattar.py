"""aWattar's public market-data API: the day-ahead price for Austria and Germany/Luxembourg.

No token is needed, which makes it the default source when no ENTSO-E token is configured.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from ...config import describe_invalid
from ..http import PoliteClient
from ..model import (
    SECONDS_RESOLUTION,
    BadRequestError,
    MalformedResponseError,
    NoDataError,
    PriceInterval,
    check_series,
    iso_utc,
)
from . import register

DEFAULT_BASE_URLS = {
    "AT": "https://api.awattar.at",
    "DE-LU": "https://api.awattar.de",
}

# Multipliers to EUR/MWh, keyed by the unit with case and spaces dropped. aWattar has always sent
# "Eur/MWh"; the others are what an end-customer price API would plausibly switch to, and a
# factor-of-1000 error is worse than a refused answer, so anything else is refused.
UNIT_TO_EUR_MWH = {
    "eur/mwh": 1.0,
    "eur/kwh": 1000.0,
    "ct/kwh": 10.0,
    "eurct/kwh": 10.0,
    "cent/kwh": 10.0,
}


class _Point(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # Strict ints: a float or string timestamp means the format changed under us.
    start_timestamp: StrictInt
    end_timestamp: StrictInt
    marketprice: float = Field(allow_inf_nan=False)
    unit: str


class _MarketData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: list[_Point]


def parse_marketdata(body: bytes | str, source: str = "awattar") -> list[PriceInterval]:
    """All intervals of a ``/v1/marketdata`` answer, sorted, in EUR/MWh."""
    try:
        doc = _MarketData.model_validate_json(body)
    except ValidationError as exc:
        problems = describe_invalid(exc, "body", values=False, limit=3)
        raise MalformedResponseError(f"{source}: unexpected answer ({problems})") from None
    if not doc.data:
        raise NoDataError(f"{source}: the provider has no prices for this range")
    intervals = []
    for i, point in enumerate(doc.data):
        factor = UNIT_TO_EUR_MWH.get(point.unit.replace(" ", "").lower())
        if factor is None:
            raise MalformedResponseError(
                f"{source}: data[{i}] has unit {point.unit!r}; expected EUR/MWh (or EUR/kWh, "
                "ct/kWh, which are converted)"
            )
        start_s, start_ms = divmod(point.start_timestamp, 1000)
        end_s, end_ms = divmod(point.end_timestamp, 1000)
        if start_ms or end_ms:
            raise MalformedResponseError(
                f"{source}: data[{i}] timestamps are not whole seconds "
                f"({point.start_timestamp}, {point.end_timestamp})"
            )
        resolution = SECONDS_RESOLUTION.get(end_s - start_s)
        if resolution is None:
            raise MalformedResponseError(
                f"{source}: data[{i}] at {iso_utc(start_s)} lasts {end_s - start_s} s; "
                "expected 15 or 60 minutes"
            )
        price = point.marketprice * factor
        if not math.isfinite(price):
            raise MalformedResponseError(f"{source}: data[{i}] has no finite price")
        # Rounding drops the float dust of a unit conversion (0.08313 * 1000 = 83.13000000000001)
        # so converted prices compare equal to the published EUR/MWh values.
        intervals.append(PriceInterval(start_s, end_s, resolution, round(price, 6), source))
    intervals.sort(key=lambda iv: iv.start)
    check_series(intervals)
    return intervals


@register
class AwattarSource:
    name: ClassVar[str] = "awattar"
    simulated: ClassVar[bool] = False

    def __init__(
        self,
        *,
        base_url: str | None = None,
        min_interval: float = 1.0,
        attempts: int = 5,
        backoff: float = 1.0,
        client: PoliteClient | None = None,
    ) -> None:
        # One base URL for every zone: used to point at a mirror or the test server.
        self.base_url = base_url.rstrip("/") if base_url else None
        self.client = client or PoliteClient(
            self.name, min_interval=min_interval, attempts=attempts, backoff=backoff
        )

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> AwattarSource:
        options.setdefault("base_url", getattr(settings, "awattar_base_url", None))
        return cls(**options)

    def url_for(self, zone: str) -> str:
        if zone not in DEFAULT_BASE_URLS:
            raise BadRequestError(
                f"awattar: no prices for zone {zone!r}; aWattar serves only "
                f"{' and '.join(DEFAULT_BASE_URLS)} (use the entsoe source for other zones)"
            )
        return f"{self.base_url or DEFAULT_BASE_URLS[zone]}/v1/marketdata"

    async def fetch(self, zone: str, start: int, end: int) -> list[PriceInterval]:
        url = self.url_for(zone)
        if end <= start:
            raise BadRequestError(
                f"awattar: empty range {iso_utc(start)} – {iso_utc(end)} (end must be after start)"
            )
        response = await self.client.get(url, {"start": start * 1000, "end": end * 1000})
        intervals = parse_marketdata(response.content, self.name)
        # aWattar answers with whole products overlapping the range; keep only those wholly
        # inside it, the rule every source follows, so a caller never gets a period it did not
        # ask for the whole of.
        inside = [iv for iv in intervals if iv.start >= start and iv.end <= end]
        if not inside:
            raise NoDataError(
                f"awattar: no prices for {zone} inside {iso_utc(start)} – {iso_utc(end)}"
            )
        return inside

    async def aclose(self) -> None:
        await self.client.aclose()
