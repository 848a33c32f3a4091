"""Conversions between core objects, stored rows and the JSON on the wire (DESIGN.md contracts)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from ..core.markets import QUARTER_HOUR, MarketSpec
from ..core.orders import Order, OrderStatus, Side, TimeInForce, Trade


@lru_cache(maxsize=4096)  # an order's times recur: created, each fill, the trades' executed_at
def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return (
        datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def parse_iso(value: str) -> float:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("timestamps need a time zone (UTC: end with Z or +00:00)")
    return dt.timestamp()


def order_row(o: Order, spec: MarketSpec) -> dict:
    """The stored form of an order (human units: EUR/MWh, MWh, epoch seconds)."""
    lot = spec.lot
    return {
        "id": o.id,
        "account_id": o.account_id,
        "market": o.market,
        "delivery_start": o.delivery_start,
        "side": o.side.value,
        "price": round(o.price * spec.tick, 10),
        "quantity": round(o.quantity * lot, 10),
        "filled": round(o.filled * lot, 10),
        "status": o.status.value,
        "time_in_force": o.tif.value,
        "client_order_id": o.client_order_id,
        "reject_code": o.reject_code,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }


def order_from_row(row: dict, spec: MarketSpec) -> Order:
    o = Order(
        id=row["id"],
        account_id=row["account_id"],
        market=row["market"],
        side=Side(row["side"]),
        price=round(row["price"] / spec.tick),
        quantity=round(row["quantity"] / spec.lot),
        tif=TimeInForce(row["time_in_force"]),
        delivery_start=row["delivery_start"],
        created_at=row["created_at"],
        client_order_id=row["client_order_id"],
        filled=round(row["filled"] / spec.lot),
        status=OrderStatus(row["status"]),
    )
    o.updated_at = row["updated_at"]
    o.reject_code = row["reject_code"]
    return o


def order_wire(row: dict) -> dict:
    ds = row["delivery_start"]
    return {
        "id": row["id"],
        "account_id": row["account_id"],
        "market": row["market"],
        "side": row["side"],
        "quantity": row["quantity"],
        "price": row["price"],
        "status": row["status"],
        "filled": row["filled"],
        "remaining": round(row["quantity"] - row["filled"], 10)
        if row["status"] in ("ACCEPTED", "PARTIALLY_FILLED")
        else 0.0,
        "time_in_force": row["time_in_force"],
        "delivery_start": iso(ds),
        "delivery_end": iso(ds + QUARTER_HOUR) if ds is not None else None,
        "client_order_id": row["client_order_id"],
        "reject_code": row["reject_code"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


def trade_row(t: Trade, spec: MarketSpec) -> dict:
    return {
        "id": t.id,
        "market": t.market,
        "delivery_start": t.delivery_start,
        "price": round(t.price_x2 * spec.tick / 2, 10),
        "quantity": round(t.quantity * spec.lot, 10),
        "buy_order_id": t.buy_order_id,
        "sell_order_id": t.sell_order_id,
        "buy_account_id": t.buy_account_id,
        "sell_account_id": t.sell_account_id,
        "aggressor_side": t.aggressor_side.value,
        "executed_at": t.executed_at,
    }


def trade_wire(row: dict, viewer_id: int | None = None) -> dict:
    """A trade on the wire; with ``viewer_id``, ``side`` is that account's side in it (BUY, SELL,
    or null when it is not a party)."""
    ds = row["delivery_start"]
    out = {
        "id": row["id"],
        "market": row["market"],
        "price": row["price"],
        "quantity": row["quantity"],
        "buy_order_id": row["buy_order_id"],
        "sell_order_id": row["sell_order_id"],
        "aggressor_side": row["aggressor_side"],
        "delivery_start": iso(ds),
        "executed_at": iso(row["executed_at"]),
    }
    if viewer_id is not None:
        out["side"] = (
            "BUY"
            if row["buy_account_id"] == viewer_id
            else "SELL"
            if row["sell_account_id"] == viewer_id
            else None
        )
    return out
