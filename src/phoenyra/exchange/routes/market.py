"""Market data: day-ahead prices (ingested from the feed), Mark / EMA / VWAP."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ...core.errors import Reject
from ...core.indicators import EMA_LOOKBACK, ema_series
from ...core.wire import iso
from ..deps import AnyAccount, FeedSender, Service, json_response, parse_time
from ..market import RESOLUTIONS
from .models import IndicatorPoint, MarketData, PriceOut, PricesIn, PricesStored, VwapPoint
from .orders import ERRORS

router = APIRouter(tags=["market"])

MARKET_Q = Query(description="Market: epex_at, epex_de, epex_ch or epex_it (default MARKET)")
# One year of quarter-hours plus a DST hour.
MAX_PRICES = 35_140


DAY = 86_400


def _window(start: str | None, end: str | None, max_days: float) -> tuple[float, float]:
    """The asked time range; by default yesterday 00:00 UTC to the day after tomorrow (what a
    chart of today and tomorrow needs). At most ``max_days`` long."""
    now = time.time()
    lo = parse_time("start", start)
    hi = parse_time("end", end)
    lo = (now // DAY - 1) * DAY if lo is None else lo
    hi = (now // DAY + 3) * DAY if hi is None else hi
    if hi <= lo:
        raise Reject("INVALID_TIME", "end must be after start.")
    if hi - lo > max_days * DAY:
        raise Reject("INVALID_TIME", f"Ask for at most {max_days:g} days per request.")
    return lo, hi


@router.get(
    "/api/market-data",
    response_model=MarketData,
    responses=ERRORS,
    summary="Mark, EMA and VWAP of a market, with the data source and its staleness",
)
async def market_data(
    account: AnyAccount, service: Service, market: Annotated[str | None, MARKET_Q] = None
):
    return json_response(service.market.data(market or service.settings.market))


@router.get(
    "/api/market/vwap",
    response_model=list[VwapPoint],
    responses=ERRORS,
    summary="VWAP of the exchange's trades per quarter-hour over the last 96 quarter-hours",
)
async def vwap_series(
    account: AnyAccount, service: Service, market: Annotated[str | None, MARKET_Q] = None
):
    return json_response(service.market.vwap_series(market or service.settings.market))


@router.get(
    "/market/prices",
    response_model=list[PriceOut],
    responses=ERRORS,
    summary="Day-ahead prices of a market (default: yesterday to the day after tomorrow)",
)
async def prices(
    account: AnyAccount,
    service: Service,
    market: Annotated[str | None, MARKET_Q] = None,
    start: Annotated[str | None, Query(description="ISO 8601 UTC, periods ending after it")] = None,
    end: Annotated[
        str | None, Query(description="ISO 8601 UTC, periods starting before it")
    ] = None,
    resolution: Annotated[
        Literal["PT15M", "PT30M", "PT60M"] | None,
        Query(description="Only periods of this length; default all"),
    ] = None,
    from_: Annotated[str | None, Query(alias="from", description="Same as start")] = None,
    to: Annotated[str | None, Query(description="Same as end")] = None,
):
    market = market or service.settings.market
    service.market.spec(market)
    lo, hi = _window(start or from_, end or to, 366 + 1 / 24)  # a leap year plus a DST hour
    rows = await asyncio.to_thread(
        service.store.prices,
        market,
        lo,
        hi,
        RESOLUTIONS[resolution] if resolution else None,
        MAX_PRICES,
    )
    names = {v: k for k, v in RESOLUTIONS.items()}
    return json_response(
        [
            {
                "start": iso(r["start"]),
                "end": iso(r["start"] + r["resolution"]),
                "resolution": names.get(r["resolution"], f"PT{r['resolution'] // 60}M"),
                "price": r["price"],
                "source": r["source"],
            }
            for r in rows
        ]
    )


@router.get(
    "/api/market/indicators",
    response_model=list[IndicatorPoint],
    responses=ERRORS,
    summary="Mark and EMA per delivery period (the market chart's lines), finest resolution",
)
async def indicator_series(
    account: AnyAccount,
    service: Service,
    market: Annotated[str | None, MARKET_Q] = None,
    start: Annotated[str | None, Query(description="ISO 8601 UTC; default yesterday 00:00")] = None,
    end: Annotated[str | None, Query(description="ISO 8601 UTC; default in 3 days")] = None,
):
    market = market or service.settings.market
    service.market.spec(market)
    lo, hi = _window(start, end, 31)
    # The EMA at the first period needs the marks before it (EMA_LOOKBACK of the coarsest
    # resolution, one hour, covers every finer one).
    rows = await asyncio.to_thread(
        service.store.prices, market, lo - EMA_LOOKBACK * 3600, hi, None, MAX_PRICES
    )
    if not rows:
        return json_response([])
    finest = min(r["resolution"] for r in rows)
    rows = [r for r in rows if r["resolution"] == finest]
    emas = ema_series([r["price"] for r in rows])
    names = {v: k for k, v in RESOLUTIONS.items()}
    return json_response(
        [
            {
                "start": iso(r["start"]),
                "end": iso(r["start"] + finest),
                "resolution": names.get(finest, f"PT{finest // 60}M"),
                "mark": r["price"],
                "ema": round(e, 6),
            }
            for r, e in zip(rows, emas, strict=True)
            if r["start"] + finest > lo
        ]
    )


@router.post(
    "/api/market/prices",
    response_model=PricesStored,
    responses=ERRORS,
    summary="Store day-ahead prices (feed role); a period already stored is replaced",
)
async def ingest_prices(body: PricesIn, account: FeedSender, service: Service):
    result = await service.market.ingest(body.market, body.source, body.simulated, body.intervals)
    return json_response(result)
