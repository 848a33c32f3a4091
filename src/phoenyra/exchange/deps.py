"""FastAPI dependencies: the service and the authenticated account, and JSON responses."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response

from ..core.errors import Reject
from ..core.wire import parse_iso
from .auth import (
    CAN_ADMIN,
    CAN_PUSH_PRICES,
    CAN_READ,
    CAN_SEND_TELEMETRY,
    CAN_TRADE,
    Account,
    require,
)
from .service import DEFAULT_BATTERY, ExchangeService


async def get_service(request: Request) -> ExchangeService:
    return request.app.state.service


Service = Annotated[ExchangeService, Depends(get_service)]


async def current_account(
    request: Request,
    x_api_key: Annotated[
        str | None, Header(description="API key of the account (see POST /api/accounts)")
    ] = None,
) -> Account:
    service: ExchangeService = request.app.state.service
    return await service.authenticate(x_api_key)


def _role(allowed: frozenset[str], action: str):
    async def dep(account: Annotated[Account, Depends(current_account)]) -> Account:
        require(account, allowed, action)
        return account

    return dep


Reader = Annotated[Account, Depends(_role(CAN_READ, "read orders and trades"))]
Trader = Annotated[Account, Depends(_role(CAN_TRADE, "place or cancel orders"))]
Admin = Annotated[Account, Depends(_role(CAN_ADMIN, "manage accounts and batteries"))]
TelemetrySender = Annotated[Account, Depends(_role(CAN_SEND_TELEMETRY, "send telemetry"))]
FeedSender = Annotated[Account, Depends(_role(CAN_PUSH_PRICES, "push market prices"))]
AnyAccount = Annotated[Account, Depends(current_account)]


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


# Ids and cursors are 64-bit integers in both databases; larger ones cannot name anything.
MAX_DB_ID = 2**63 - 1


def existing_order_id(order_id: int) -> int:
    """A path's order id, refused as unknown when no database column could hold it."""
    if not 0 < order_id <= MAX_DB_ID:
        raise Reject("NOT_FOUND", f"Order {order_id} does not exist.", 404)
    return order_id


def telemetry_battery(account: Account, battery_id: str | None) -> str:
    """The battery a telemetry request is about. A telemetry key linked to a battery speaks
    for that battery only (its readings move the SoC that opens and closes trading, and its
    configuration holds the device's credentials); unlinked keys and admins serve the fleet."""
    own = account.battery_id if account.role == "telemetry" else None
    battery = battery_id or own or DEFAULT_BATTERY
    if own is not None and battery != own:
        raise Reject("FORBIDDEN", f"This key serves battery {own!r} only, not {battery!r}.", 403)
    return battery


def market_filter(service, market: str | None) -> str | None:
    """A list's market filter: a name the exchange trades (422 UNKNOWN_MARKET otherwise, as
    for an order; an empty list would read as 'no orders there')."""
    if not market:  # absent or empty: every market
        return None
    service.engine.spec(market)
    return market


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    try:
        value = int(cursor)
    except ValueError:
        raise Reject(
            "INVALID_CURSOR", "cursor must be the 'next' value of a previous page."
        ) from None
    if not 0 <= value <= MAX_DB_ID:
        raise Reject("INVALID_CURSOR", "cursor must be the 'next' value of a previous page.")
    return value


def parse_time(name: str, value: str | None, code: str = "INVALID_TIME") -> float | None:
    """An ISO 8601 query parameter as epoch seconds; a clear 422 when it is not one."""
    if not value:
        return None
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise Reject(code, f"{name}: {exc}") from None
