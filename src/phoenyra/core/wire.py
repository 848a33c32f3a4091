"""Conversions between core objects, stored rows and the JSON on the wire (DESIGN.md contracts).

A stored row is a tuple in the table's column order (``ORDER_COLUMNS``, ``TRADE_COLUMNS``):
the order path builds one per changed order and trade, hands it to the writer as it is (the
SQLite driver binds it positionally) and keeps trades in the recent-trades window. Rows read
back from the database (SQLAlchemy ``Row``) index the same way.

``result_rows`` turns one placement into its rows and, on the way, brings the risk state and the
market's indicators up to date with it: the order path's bookkeeping, here so that it runs
compiled with the rest of the core.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache

from .engine import Result
from .indicators import MarketIndicators
from .markets import QUARTER_HOUR, MarketSpec
from .orders import OPEN_STATUSES, Order, OrderStatus, Side, TimeInForce, Trade
from .risk import RiskManager

ORDER_COLUMNS = (
    "id",
    "account_id",
    "market",
    "delivery_start",
    "side",
    "price",
    "quantity",
    "filled",
    "status",
    "time_in_force",
    "client_order_id",
    "reject_code",
    "created_at",
    "updated_at",
)
(
    O_ID,
    O_ACCOUNT,
    O_MARKET,
    O_DELIVERY,
    O_SIDE,
    O_PRICE,
    O_QUANTITY,
    O_FILLED,
    O_STATUS,
    O_TIF,
    O_CLIENT_ID,
    O_REJECT,
    O_CREATED,
    O_UPDATED,
) = range(len(ORDER_COLUMNS))

TRADE_COLUMNS = (
    "id",
    "market",
    "delivery_start",
    "price",
    "quantity",
    "buy_order_id",
    "sell_order_id",
    "buy_account_id",
    "sell_account_id",
    "aggressor_side",
    "executed_at",
)
(
    T_ID,
    T_MARKET,
    T_DELIVERY,
    T_PRICE,
    T_QUANTITY,
    T_BUY_ORDER,
    T_SELL_ORDER,
    T_BUY_ACCOUNT,
    T_SELL_ACCOUNT,
    T_AGGRESSOR,
    T_EXECUTED,
) = range(len(TRADE_COLUMNS))


@lru_cache(maxsize=4096)
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds, e.g. ``2026-11-29T20:43:14.120Z``.

    The same text as ``datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")``
    (microseconds rounded half-even, then cut to milliseconds), with the date and time of the
    whole second cached: the order path renders several times per order.
    """
    global _last
    if ts is None:
        return None
    last = _last  # one tuple, read and replaced whole: safe from the threadpool's endpoints too
    if ts == last[0]:  # an order's created_at, updated_at and its trades' times often agree
        return last[1]
    second = math.floor(ts)
    micros = round((ts - second) * 1e6)
    if micros >= 1_000_000:
        second += 1
        micros -= 1_000_000
    text = f"{_iso_second(second)}.{micros // 1000:03d}Z"
    _last = (ts, text)
    return text


_last: tuple[float | None, str | None] = (None, None)


def parse_iso(value: str) -> float:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("timestamps need a time zone (UTC: end with Z or +00:00)")
    return dt.timestamp()


def order_row(o: Order, spec: MarketSpec) -> tuple:
    """The stored form of an order (human units: EUR/MWh, MWh, epoch seconds)."""
    return (
        o.id,
        o.account_id,
        o.market,
        o.delivery_start,
        o.side._value_,
        spec.ticks_to_price(o.price),
        spec.lots_to_quantity(o.quantity),
        spec.lots_to_quantity(o.filled),
        o.status._value_,
        o.tif._value_,
        o.client_order_id,
        o.reject_code,
        o.created_at,
        o.updated_at,
    )


def order_from_row(row, spec: MarketSpec) -> Order:
    o = Order(
        id=row[O_ID],
        account_id=row[O_ACCOUNT],
        market=row[O_MARKET],
        side=Side(row[O_SIDE]),
        price=round(row[O_PRICE] / spec.tick),
        quantity=round(row[O_QUANTITY] / spec.lot),
        tif=TimeInForce(row[O_TIF]),
        delivery_start=row[O_DELIVERY],
        created_at=row[O_CREATED],
        client_order_id=row[O_CLIENT_ID],
        filled=round(row[O_FILLED] / spec.lot),
        status=OrderStatus(row[O_STATUS]),
    )
    o.updated_at = row[O_UPDATED]
    o.reject_code = row[O_REJECT]
    return o


def order_wire(row) -> dict:
    (
        id_,
        account_id,
        market,
        ds,
        side,
        price,
        quantity,
        filled,
        status,
        tif,
        client_order_id,
        reject_code,
        created_at,
        updated_at,
    ) = row
    return {
        "id": id_,
        "account_id": account_id,
        "market": market,
        "side": side,
        "quantity": quantity,
        "price": price,
        "status": status,
        "filled": filled,
        "remaining": round(quantity - filled, 10) if status in OPEN_STATUSES else 0.0,
        "time_in_force": tif,
        "delivery_start": iso(ds),
        "delivery_end": iso(ds + QUARTER_HOUR) if ds is not None else None,
        "client_order_id": client_order_id,
        "reject_code": reject_code,
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
    }


def trade_row(t: Trade, spec: MarketSpec) -> tuple:
    return (
        t.id,
        t.market,
        t.delivery_start,
        spec.x2_to_price(t.price_x2),
        spec.lots_to_quantity(t.quantity),
        t.buy_order_id,
        t.sell_order_id,
        t.buy_account_id,
        t.sell_account_id,
        t.aggressor_side._value_,
        t.executed_at,
    )


def trade_wire(row, viewer_id: int | None = None) -> dict:
    """A trade on the wire; with ``viewer_id``, ``side`` is that account's side in it (BUY, SELL,
    or null when it is not a party)."""
    ds = row[T_DELIVERY]
    out = {
        "id": row[T_ID],
        "market": row[T_MARKET],
        "price": row[T_PRICE],
        "quantity": row[T_QUANTITY],
        "buy_order_id": row[T_BUY_ORDER],
        "sell_order_id": row[T_SELL_ORDER],
        "aggressor_side": row[T_AGGRESSOR],
        "delivery_start": iso(ds),
        "executed_at": iso(row[T_EXECUTED]),
    }
    if viewer_id is not None:
        out["side"] = (
            "BUY"
            if row[T_BUY_ACCOUNT] == viewer_id
            else "SELL"
            if row[T_SELL_ACCOUNT] == viewer_id
            else None
        )
    return out


def trade_wires(rows: list[tuple]) -> list[dict]:
    return [trade_wire(row) for row in rows]


def result_rows(
    result: Result, spec: MarketSpec, risk: RiskManager, indicators: MarketIndicators
) -> tuple[list[tuple], list[tuple]]:
    """The stored rows of what one placement changed (the order, the resting orders it touched,
    its trades), after bringing the risk state (open energy, positions) and the market's
    indicators (VWAP, recent trade prices) up to date with it."""
    lot = spec.lot
    order = result.order
    risk.track_order(order, lot)
    order_rows = [order_row(order, spec)]
    for resting in result.touched:
        risk.track_order(resting, lot)
        order_rows.append(order_row(resting, spec))
    trade_rows = []
    for t in result.trades:
        row = trade_row(t, spec)
        price, quantity = row[T_PRICE], row[T_QUANTITY]
        risk.apply_trade(t, quantity, price)
        indicators.add_trade(t.executed_at, price, quantity)
        trade_rows.append(row)
    return order_rows, trade_rows
