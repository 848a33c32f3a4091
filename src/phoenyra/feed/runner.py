"""The market feed service: fetch today and tomorrow, push them to the exchange, repeat.

On failure the last good series is kept (and pushed later if the exchange missed it), the reason
is logged once per failure streak, and staleness is exposed on the feed's own /readyz and
/metrics. A series is pushed only whole: every local delivery day it covers must be complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from .model import FeedError, MalformedResponseError, NoDataError, PriceInterval, check_series

log = logging.getLogger("phoenyra.feed")

# The four markets' bidding zones all deliver in Central European time.
MARKET_TZ = ZoneInfo("Europe/Berlin")
# Bodies stay well under the exchange's 64 KiB request limit (≈ 110 bytes per period).
PUSH_CHUNK = 400


def local_days(now: float, days: int = 2, tz: ZoneInfo = MARKET_TZ) -> tuple[int, int]:
    """[start of today, start of today + ``days``) in local delivery time, as epoch seconds."""
    today = datetime.fromtimestamp(now, tz).date()
    start = datetime.combine(today, datetime.min.time(), tz)
    end = datetime.combine(today + timedelta(days=days), datetime.min.time(), tz)
    return int(start.timestamp()), int(end.timestamp())


def check_whole_days(intervals: list[PriceInterval], tz: ZoneInfo = MARKET_TZ) -> None:
    """Each local day that appears must be covered from midnight to midnight without a gap."""
    check_series(intervals)
    by_day: dict[object, list[PriceInterval]] = {}
    for iv in intervals:
        by_day.setdefault(datetime.fromtimestamp(iv.start, tz).date(), []).append(iv)
    for day, ivs in by_day.items():
        start = int(datetime.combine(day, datetime.min.time(), tz).timestamp())
        end = int(datetime.combine(day + timedelta(days=1), datetime.min.time(), tz).timestamp())
        covered = sum(iv.end - iv.start for iv in ivs)
        if ivs[0].start != start or ivs[-1].end != end or covered != end - start:
            raise MalformedResponseError(
                f"the prices for {day} are incomplete ({covered // 60} of {(end - start) // 60} "
                "minutes); the day is not pushed"
            )


class PushError(FeedError):
    reason = "push_failed"


async def push_prices(
    client: httpx.AsyncClient,
    exchange_url: str,
    api_key: str,
    market: str,
    source: str,
    simulated: bool,
    intervals: list[PriceInterval],
    progress=None,
) -> dict:
    """POST the series to the exchange in chunks; returns the summed counts."""
    totals = {"received": 0, "inserted": 0, "updated": 0, "unchanged": 0}
    url = exchange_url.rstrip("/") + "/api/market/prices"
    for i in range(0, len(intervals), PUSH_CHUNK):
        chunk = intervals[i : i + PUSH_CHUNK]
        body = {
            "market": market,
            "source": source,
            "simulated": simulated,
            "intervals": [iv.to_wire() for iv in chunk],
        }
        try:
            r = await client.post(url, json=body, headers={"X-API-Key": api_key})
        except httpx.TransportError as exc:
            raise PushError(
                f"cannot reach the exchange at {exchange_url} ({type(exc).__name__}); is it "
                "running? (EXCHANGE_URL)"
            ) from exc
        if r.status_code != 200:
            try:
                err = r.json()["error"]
                detail = f"{err['code']}: {err['message']}"
            except Exception:
                detail = r.text[:200]
            raise PushError(f"the exchange refused the prices (HTTP {r.status_code}) {detail}")
        for k, v in r.json().items():
            if k in totals:
                totals[k] += v
        if progress is not None:
            progress(len(chunk))
    return totals


class FeedRunner:
    def __init__(
        self,
        source,
        *,
        market: str,
        zone: str,
        exchange_url: str,
        api_key: str,
        interval: float = 300.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.source = source
        self.market = market
        self.zone = zone
        self.exchange_url = exchange_url
        self.api_key = api_key
        self.interval = interval
        self.client = client or httpx.AsyncClient(timeout=15.0)
        self.last_good: list[PriceInterval] = []
        self.unpushed = False
        self.last_success_at: float | None = None  # last fetch + push that fully succeeded
        self.last_error: FeedError | None = None
        self.failures = 0  # length of the current failure streak
        self.registry = CollectorRegistry()
        labels = {"market": market, "source": source.name}
        self._m_success = Gauge(
            "phoenyra_feed_last_success_timestamp_seconds",
            "When the feed last fetched and pushed prices (epoch seconds)",
            list(labels),
            registry=self.registry,
        ).labels(**labels)
        self._m_errors = Counter(
            "phoenyra_feed_fetch_errors",
            "Failed feed cycles by reason (no_data, unauthorized, rate_limited, upstream, "
            "network, malformed, bad_request, push_failed)",
            [*labels, "reason"],
            registry=self.registry,
        )
        self._m_intervals = Gauge(
            "phoenyra_feed_intervals",
            "Delivery periods in the last good series",
            list(labels),
            registry=self.registry,
        ).labels(**labels)
        self._m_stale = Gauge(
            "phoenyra_feed_stale",
            "1 when the feed has not succeeded for 3 update intervals",
            list(labels),
            registry=self.registry,
        ).labels(**labels)
        self._m_staleness = Gauge(
            "phoenyra_feed_staleness_seconds",
            "Seconds since the feed last succeeded",
            list(labels),
            registry=self.registry,
        ).labels(**labels)
        self._started = time.time()
        self._m_staleness.set_function(self.staleness)
        self._m_stale.set_function(lambda: 1.0 if self.stale else 0.0)

    def staleness(self) -> float:
        return time.time() - (self.last_success_at or self._started)

    @property
    def stale(self) -> bool:
        return self.last_success_at is None or self.staleness() > 3 * self.interval

    def _fail(self, error: FeedError) -> None:
        self._m_errors.labels(self.market, self.source.name, error.reason).inc()
        if self.failures == 0 or type(error) is not type(self.last_error):
            kept = f"; keeping the last good series ({len(self.last_good)} periods)"
            log.warning(
                "market feed failed: %s%s",
                error.message,
                kept if self.last_good else "",
                extra={"reason": error.reason, "market": self.market, "source": self.source.name},
            )
        self.failures += 1
        self.last_error = error

    async def run_once(self, now: float | None = None) -> bool:
        """One cycle; True when fresh prices were fetched and pushed."""
        now = time.time() if now is None else now
        start, end = local_days(now)
        try:
            intervals = await self.source.fetch(self.zone, start, end)
            if not intervals:
                raise NoDataError(f"{self.source.name} returned no prices for {self.zone}")
            check_whole_days(intervals)
        except FeedError as exc:
            self._fail(exc)
            if self.unpushed:  # the exchange missed the last good series: try it again
                with contextlib.suppress(PushError):
                    await self._push(self.last_good)
            return False
        self.last_good = intervals
        self._m_intervals.set(len(intervals))
        self.unpushed = True
        try:
            await self._push(intervals)
        except PushError as exc:
            self._fail(exc)
            return False
        if self.failures:
            log.info(
                "market feed recovered after %d failed cycles",
                self.failures,
                extra={"market": self.market},
            )
        self.failures = 0
        self.last_error = None
        self.last_success_at = time.time()
        self._m_success.set(self.last_success_at)
        return True

    async def _push(self, intervals: list[PriceInterval]) -> None:
        totals = await push_prices(
            self.client,
            self.exchange_url,
            self.api_key,
            self.market,
            self.source.name,
            self.source.simulated,
            intervals,
        )
        self.unpushed = False
        log.info(
            "prices pushed",
            extra={
                "market": self.market,
                "source": self.source.name,
                "simulated": self.source.simulated,
                "periods": len(intervals),
                **{k: totals[k] for k in ("inserted", "updated", "unchanged")},
            },
        )

    async def run_forever(self) -> None:
        retry = 5.0
        while True:
            started = time.monotonic()
            ok = False
            try:
                ok = await self.run_once()
            except Exception:  # a bug in one cycle must not end the service
                log.exception("market feed cycle crashed")
            # After a failure, try again sooner (5 s, doubling) than the regular interval.
            wait = self.interval if ok else min(self.interval, retry)
            retry = 5.0 if ok else retry * 2
            await asyncio.sleep(max(1.0, wait - (time.monotonic() - started)))

    def status(self) -> dict:
        return {
            "market": self.market,
            "zone": self.zone,
            "source": self.source.name,
            "simulated": self.source.simulated,
            "periods": len(self.last_good),
            "last_success_at": self.last_success_at,
            "staleness_s": round(self.staleness(), 1),
            "stale": self.stale,
            "failures": self.failures,
            "last_error": None
            if self.last_error is None
            else {"reason": self.last_error.reason, "message": self.last_error.message},
        }

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.source.aclose()
