"""What every price source returns, and the typed errors every source raises.

Times are epoch seconds (UTC), as everywhere in the core; the wire form uses ISO 8601 with ``Z``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

RESOLUTION_SECONDS = {"PT15M": 900, "PT30M": 1800, "PT60M": 3600}
SECONDS_RESOLUTION = {v: k for k, v in RESOLUTION_SECONDS.items()}

# Bidding zones the feed serves, by their ENTSO-E EIC codes.
ZONE_EIC = {
    "AT": "10YAT-APG------L",
    "DE-LU": "10Y1001A1001A82H",
    "CH": "10YCH-SWISSGRIDZ",
    "IT-North": "10Y1001A1001A73I",
}


@dataclass(frozen=True, slots=True)
class PriceInterval:
    """One delivery period's price."""

    start: int  # epoch seconds, UTC, inclusive
    end: int  # epoch seconds, UTC, exclusive
    resolution: str  # ISO 8601 duration: "PT15M" or "PT60M"
    price: float  # EUR/MWh
    source: str  # provider name: "entsoe", "awattar", "csv", "synthetic"

    def to_wire(self) -> dict:
        return {
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "resolution": self.resolution,
            "price": self.price,
            "source": self.source,
        }


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def parse_utc(value: str) -> int:
    """An ISO 8601 timestamp with a zone (or a plain date, taken as UTC midnight) → epoch s."""
    text = value.strip().replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        if len(text) == 10:  # a bare date
            dt = dt.replace(tzinfo=UTC)
        else:
            raise ValueError(f"{value!r} has no time zone (end UTC times with Z)")
    return int(dt.timestamp())


class FeedError(Exception):
    """A source could not deliver prices. ``reason`` is a short label used in metrics and logs."""

    reason = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoDataError(FeedError):
    """The provider answered that it has no data for the request (e.g. ENTSO-E Acknowledgement)."""

    reason = "no_data"


class AuthError(FeedError):
    """The provider refused the credentials (HTTP 401/403)."""

    reason = "unauthorized"


class RateLimitedError(FeedError):
    """The provider kept answering 429 after all retries."""

    reason = "rate_limited"


class UpstreamError(FeedError):
    """The provider failed (HTTP 5xx) after all retries."""

    reason = "upstream"


class NetworkError(FeedError):
    """The provider could not be reached (connection refused, timeout, DNS) after all retries."""

    reason = "network"


class MalformedResponseError(FeedError):
    """The provider's answer could not be understood (bad XML/JSON, unsafe XML, missing fields)."""

    reason = "malformed"


class BadRequestError(FeedError):
    """The request itself is wrong (unknown zone, bad range, other 4xx): retrying cannot help."""

    reason = "bad_request"


def check_series(intervals: list[PriceInterval]) -> None:
    """Refuse a garbled series: unordered or overlapping periods, non-finite prices."""
    prev_end = None
    for iv in intervals:
        if not iv.end > iv.start:
            raise MalformedResponseError(f"interval at {iso_utc(iv.start)} ends before it starts")
        if iv.price != iv.price or iv.price in (float("inf"), float("-inf")):
            raise MalformedResponseError(f"interval at {iso_utc(iv.start)} has no finite price")
        if prev_end is not None and iv.start < prev_end:
            raise MalformedResponseError(
                f"interval at {iso_utc(iv.start)} overlaps or is out of order"
            )
        prev_end = iv.end
