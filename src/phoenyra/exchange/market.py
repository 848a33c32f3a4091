"""Market data inside the exchange: the price store, Mark / EMA / VWAP, and their events.

Prices arrive from the market feed (``POST /api/market/prices``); trades arrive from the matching
engine. Indicators are computed by the pure core (``core.indicators``) from what is held here.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

from ..core.errors import Reject
from ..core.indicators import MarketIndicators, Snapshot
from ..core.markets import QUARTER_HOUR, MarketSpec
from ..core.wire import iso

if TYPE_CHECKING:
    from .events import EventBus
    from .store import Store

RESOLUTIONS = {"PT15M": 900, "PT30M": 1800, "PT60M": 3600}
RESOLUTION_NAMES = {v: k for k, v in RESOLUTIONS.items()}
# Prices held in memory for the indicators: the EMA looks back at most 100 periods (≈ 4 days at
# PT60M); older history stays in the database for /market/prices.
HOLD_S = 5 * 86_400


class MarketData:
    def __init__(
        self, markets: dict[str, MarketSpec], store: Store, bus: EventBus, stale_s: float
    ) -> None:
        self.markets = markets
        self.store = store
        self.bus = bus
        self.stale_s = stale_s
        self.indicators: dict[str, MarketIndicators] = {}
        self.feeds: dict[str, dict] = {}
        self._published: dict[str, tuple] = {}
        self.reset()

    def reset(self) -> None:
        self.indicators = {
            name: MarketIndicators(spec.mark_source.value) for name, spec in self.markets.items()
        }
        self._published.clear()

    def load(self, now: float) -> None:
        """Prices and feed state from storage (trades are added by the service's rebuild)."""
        for row in self.store.prices_since(now - HOLD_S):
            ind = self.indicators.get(row["market"])
            if ind is not None:
                ind.curve.put(row["start"], row["start"] + row["resolution"], row["price"])
        self.feeds = {row["market"]: row for row in self.store.load_market_feeds()}

    def add_trade(self, market: str, executed_at: float, price: float, quantity: float) -> None:
        self.indicators[market].add_trade(executed_at, price, quantity)

    # -- ingest ---------------------------------------------------------------------------
    def _validate(self, market: str, intervals: list) -> list[tuple[int, int, float]]:
        spec = self.markets.get(market)
        if spec is None:
            raise Reject(
                "UNKNOWN_MARKET",
                f"Unknown market {market!r}; markets are {', '.join(sorted(self.markets))}.",
            )
        rows: list[tuple[int, int, float]] = []
        seen: set[tuple[int, int]] = set()
        for i, iv in enumerate(intervals):
            where = f"intervals[{i}]"
            start = iv.start.timestamp()
            res = RESOLUTIONS[iv.resolution]
            if iv.end.timestamp() - start != res:
                raise Reject(
                    "INVALID_PRICES", f"{where}: end − start must equal its {iv.resolution}."
                )
            if start % res:
                raise Reject(
                    "INVALID_PRICES",
                    f"{where}: start must be on a {iv.resolution} boundary (UTC).",
                )
            if not math.isfinite(iv.price) or not spec.min_price <= iv.price <= spec.max_price:
                raise Reject(
                    "INVALID_PRICES",
                    f"{where}: price {iv.price} EUR/MWh is outside {spec.min_price} … "
                    f"{spec.max_price} EUR/MWh.",
                )
            key = (int(start), res)
            if key in seen:
                raise Reject("INVALID_PRICES", f"{where}: the same period appears twice.")
            seen.add(key)
            rows.append((int(start), res, float(iv.price)))
        return rows

    async def ingest(self, market: str, source: str, simulated: bool, intervals: list) -> dict:
        """Validate everything first, then store in one transaction: a bad interval stores
        nothing."""
        rows = self._validate(market, intervals)
        now = time.time()
        inserted, updated = await asyncio.to_thread(
            self.store.upsert_prices, market, source, simulated, rows, now
        )
        curve = self.indicators[market].curve
        for start, res, price in rows:
            curve.put(start, start + res, price)
        curve.drop_before(int(now - HOLD_S))
        self.feeds[market] = {
            "market": market,
            "source": source,
            "simulated": int(simulated),
            "updated_at": now,
        }
        result = {
            "market": market,
            "received": len(rows),
            "inserted": inserted,
            "updated": updated,
            "unchanged": len(rows) - inserted - updated,
        }
        if inserted or updated:
            self.bus.publish(
                {
                    "type": "market.prices",
                    "data": {
                        **result,
                        "source": source,
                        "simulated": simulated,
                        "start": iso(min(r[0] for r in rows)),
                        "end": iso(max(r[0] + r[1] for r in rows)),
                    },
                }
            )
        self.tick(now, force=market)
        return result

    # -- reads ----------------------------------------------------------------------------
    def spec(self, market: str) -> MarketSpec:
        spec = self.markets.get(market)
        if spec is None:
            raise Reject(
                "UNKNOWN_MARKET",
                f"Unknown market {market!r}; markets are {', '.join(sorted(self.markets))}.",
                404,
            )
        return spec

    def snapshot(self, market: str, now: float) -> Snapshot:
        return self.indicators[market].snapshot(now)

    def data(self, market: str, now: float | None = None) -> dict:
        """The wire form of ``GET /api/market-data``."""
        spec = self.spec(market)
        now = time.time() if now is None else now
        snap = self.snapshot(market, now)
        feed = self.feeds.get(market)
        reason = code = age = None
        if feed is None:
            code, reason = "NO_FEED", "No prices have been received from the market feed."
        elif now - feed["updated_at"] > self.stale_s:
            age = int(now - feed["updated_at"])
            code = "FEED_STALE"
            reason = (
                f"The market feed last delivered prices {age} s ago (limit {int(self.stale_s)} s)."
            )
        elif snap.mark is None:
            if spec.mark_source.value == "last_trade":
                code, reason = "NO_TRADE", "No trade yet to take the mark from."
            else:
                code, reason = "NO_PRICE_NOW", "No day-ahead price covers the current period."
        return {
            "market": market,
            "mark": snap.mark,
            "mark_start": iso(snap.mark_start),
            "mark_end": iso(snap.mark_end),
            "mark_source": spec.mark_source.value,
            "ema": None if snap.ema is None else round(snap.ema, 6),
            "vwap": None if snap.vwap is None else round(snap.vwap, 6),
            "vwap_volume_mwh": round(snap.vwap_volume, 10),
            "unit": "EUR/MWh",
            "source": feed["source"] if feed else None,
            "simulated": bool(feed["simulated"]) if feed else False,
            "updated_at": iso(feed["updated_at"]) if feed else None,
            "stale": reason is not None,
            "stale_reason": reason,
            "stale_code": code,
            "stale_age_s": age,
            "stale_limit_s": int(self.stale_s),
        }

    def vwap_series(self, market: str, now: float | None = None) -> list[dict]:
        self.spec(market)
        now = time.time() if now is None else now
        return [
            {
                "start": iso(qh),
                "end": iso(qh + QUARTER_HOUR),
                "vwap": round(v, 6),
                "volume_mwh": round(q, 10),
            }
            for qh, v, q in self.indicators[market].vwap.series(now)
        ]

    def tick(self, now: float, force: str | None = None) -> dict[str, float]:
        """Publish market data that changed (a new period began, a trade moved the VWAP, prices
        arrived); returns the current marks for the risk manager's unrealised PnL."""
        marks = {}
        for market, ind in self.indicators.items():
            ind.vwap.trim(now)
            snap = ind.snapshot(now)
            if snap.mark is not None:
                marks[market] = snap.mark
            key = (snap.mark, snap.mark_start, snap.ema, snap.vwap, snap.vwap_volume)
            if market == force or self._published.get(market) != key:
                first = market not in self._published
                self._published[market] = key
                if not first or market == force:
                    self.bus.publish({"type": "market", "data": self.data(market, now)})
        return marks
