"""Trades: recent and all (paginated)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...core.errors import Reject
from ...core.orders import Side
from ...core.wire import T_ID, T_MARKET, trade_wire
from ..deps import Reader, Service, json_response, market_filter, parse_cursor, parse_time
from .models import TradeOut, TradePage
from .orders import ERRORS

router = APIRouter(tags=["trades"])


@router.get(
    "/api/trades",
    response_model=list[TradeOut],
    responses=ERRORS,
    summary="Recent trades, newest first",
)
async def recent_trades(
    account: Reader,
    service: Service,
    market: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    market = market_filter(service, market)
    out = []
    for row in reversed(service.recent_trades):
        if market and row[T_MARKET] != market:
            continue
        out.append(trade_wire(row, account.id))
        if len(out) >= limit:
            break
    return json_response(out)


@router.get(
    "/trades",
    response_model=TradePage,
    responses=ERRORS,
    summary="All trades, newest first, paginated; filter by market and time",
)
def all_trades(
    account: Reader,
    service: Service,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    market: str | None = None,
    since: Annotated[str | None, Query(description="ISO 8601 UTC, inclusive")] = None,
    until: Annotated[str | None, Query(description="ISO 8601 UTC, exclusive")] = None,
    mine: Annotated[bool, Query(description="Only trades of your own account")] = False,
    side: Annotated[
        Side | None, Query(description="With mine: only your BUY or SELL trades")
    ] = None,
):
    if side is not None and not mine:
        raise Reject("INVALID_FILTER", "side filters your own trades: add mine=true.")
    rows = service.store.page_trades(
        parse_cursor(cursor),
        limit,
        market_filter(service, market),
        account.id if mine else None,
        parse_time("since", since),
        parse_time("until", until),
        side.value if side else None,
    )
    nxt = str(rows[-1][T_ID]) if len(rows) == limit else None
    return json_response({"items": [trade_wire(r, account.id) for r in rows], "next": nxt})
