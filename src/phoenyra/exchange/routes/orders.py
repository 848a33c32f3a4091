"""Orders: place, list, get, cancel; the order book; positions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ...core.errors import Reject
from ...core.orders import OrderStatus, Side
from ...core.wire import O_ACCOUNT, O_ID, order_wire, trade_wire
from ..auth import CAN_TRADE, require
from ..deps import (
    Reader,
    Service,
    Trader,
    existing_order_id,
    json_response,
    market_filter,
    parse_cursor,
    parse_time,
)
from ..service import OrderRequest
from .models import (
    BookOut,
    ErrorResponse,
    OrderIn,
    OrderOut,
    OrderPage,
    OrderWithTrades,
    PositionOut,
)

router = APIRouter(tags=["orders"])

ERRORS = {
    401: {"model": ErrorResponse, "description": "Missing or invalid API key"},
    403: {"model": ErrorResponse, "description": "The key's role may not do this"},
    409: {
        "model": ErrorResponse,
        "description": "Conflict: market closed, battery status unknown or stale, order not "
        "open, client_order_id used by a different order",
    },
    422: {
        "model": ErrorResponse,
        "description": "Invalid input or refused by a risk rule "
        "(SOC_LIMIT, ENERGY_LIMIT, INVALID_TICK, ...)",
    },
    429: {"model": ErrorResponse, "description": "Throttled; see Retry-After"},
}


@router.post(
    "/api/orders",
    status_code=201,
    response_model=OrderWithTrades,
    responses={
        200: {"model": OrderWithTrades, "description": "A repeated client_order_id: the original"},
        **ERRORS,
        413: {"model": ErrorResponse, "description": "Body over 64 KiB (BODY_TOO_LARGE)"},
        415: {
            "model": ErrorResponse,
            "description": "Body sent as another media type than JSON (UNSUPPORTED_MEDIA_TYPE)",
        },
    },
    summary="Place a limit order; it is matched at once and stored before the answer",
    # The body and key are read in the handler: FastAPI's body and dependency machinery cost
    # more CPU than matching and storing the order. Both are documented here by hand; OrderIn's
    # schema is added to the components in app.create_app.
    openapi_extra={
        "parameters": [
            {
                "name": "x-api-key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "API key of the account (see POST /api/accounts)",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrderIn"}}},
        },
    },
)
async def place_order(request: Request):
    service = request.app.state.service
    account = await trading_account(service, request.headers.get("x-api-key"))
    if not is_json(request.headers.get("content-type")):
        raise Reject(
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the order as JSON with the header Content-Type: application/json.",
            415,
        )
    try:
        body = OrderIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from None
    req = order_request(body)
    if req is None:
        raise Reject(
            "INVALID_DELIVERY",
            "delivery_start must be a whole quarter-hour.",
            reason="not_quarter_hour",
        )
    status, out = await service.place_order(account, req)
    return json_response(out, status)


def is_json(content_type: str | None) -> bool:
    """Whether a body's Content-Type is JSON: application/json or application/*+json, with any
    parameters; a missing or empty one counts as JSON, as FastAPI's JSON routes take it."""
    if not content_type or content_type == "application/json":  # nearly every order
        return True
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def trading_account(service, api_key: str | None):
    account = await service.authenticate(api_key)
    require(account, CAN_TRADE, "place or cancel orders")
    return account


def order_request(body: OrderIn) -> OrderRequest | None:
    """The service's request for a valid body; None when delivery_start is not a whole second
    (never a quarter-hour). Also used by the order gateways (gateway.py), which parse bodies."""
    delivery = body.delivery_start
    if delivery is not None:
        delivery = delivery.timestamp()
        if delivery % 1:
            return None
        delivery = int(delivery)
    return OrderRequest(
        market=body.market,
        side=body.side,
        quantity=body.quantity,
        price=body.price,
        time_in_force=body.time_in_force,
        delivery_start=delivery,
        client_order_id=body.client_order_id,
    )


@router.get(
    "/api/orders",
    response_model=list[OrderOut],
    responses=ERRORS,
    summary="Active (open) orders; traders see their own",
)
async def active_orders(
    account: Reader,
    service: Service,
    market: str | None = None,
    side: Side | None = None,
    status: Annotated[OrderStatus | None, Query(description="ACCEPTED or PARTIALLY_FILLED")] = None,
):
    if status is not None and status.value not in ("ACCEPTED", "PARTIALLY_FILLED"):
        # An empty list would read as "none of them": they are only not active.
        raise Reject(
            "VALIDATION_ERROR",
            f"/api/orders lists active orders, which are ACCEPTED or PARTIALLY_FILLED; orders "
            f"that are {status.value} are listed by GET /orders?status={status.value}.",
        )
    return json_response(
        service.open_orders(
            account,
            market_filter(service, market),
            side.value if side else None,
            status.value if status else None,
        )
    )


@router.get(
    "/api/orders/{order_id}",
    response_model=OrderWithTrades,
    responses=ERRORS,
    summary="One order with all its trades",
)
def get_order(order_id: int, account: Reader, service: Service):
    row = service.store.get_order(existing_order_id(order_id))
    if row is None or not (account.sees_all or row[O_ACCOUNT] == account.id):
        raise Reject("NOT_FOUND", f"Order {order_id} does not exist.", 404)
    live = service.engine.open_orders.get(order_id)
    body = order_wire(service._row(live) if live is not None else row)
    body["trades"] = [trade_wire(t) for t in service.store.trades_for_order(order_id)]
    return json_response(body)


@router.delete(
    "/api/orders/{order_id}",
    response_model=OrderOut,
    responses=ERRORS,
    summary="Cancel an open order",
)
async def cancel_order(order_id: int, account: Trader, service: Service):
    return json_response(await service.cancel_order(account, existing_order_id(order_id)))


@router.get(
    "/orders",
    response_model=OrderPage,
    responses=ERRORS,
    summary="All orders, newest first, paginated",
)
def all_orders(
    account: Reader,
    service: Service,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    market: str | None = None,
    side: Side | None = None,
    status: OrderStatus | None = None,
):
    filters = {
        "market": market_filter(service, market),
        "side": side.value if side else None,
        "status": status.value if status else None,
        "account_id": None if account.sees_all else account.id,
    }
    rows = service.store.page_orders(parse_cursor(cursor), limit, filters)
    nxt = str(rows[-1][O_ID]) if len(rows) == limit else None
    return json_response({"items": [order_wire(r) for r in rows], "next": nxt})


@router.get(
    "/api/book", response_model=BookOut, responses=ERRORS, summary="Aggregated depth of one book"
)
async def book(
    account: Reader,
    service: Service,
    market: str = "epex_at",
    delivery_start: str | None = None,
    levels: Annotated[int, Query(ge=1, le=1000)] = 10,
):
    ds = parse_time("delivery_start", delivery_start, "INVALID_DELIVERY")
    return json_response(service.book_depth(market, None if ds is None else int(ds), levels))


@router.get(
    "/api/positions",
    response_model=list[PositionOut],
    responses=ERRORS,
    summary="Exposure and PnL per account and market",
)
async def positions(account: Reader, service: Service):
    return json_response(service.positions(account))
