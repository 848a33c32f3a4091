"""Pydantic models of the wire contracts: requests are validated, responses are documented."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ...core.orders import OrderStatus, Side, TimeInForce

class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable code, e.g. SOC_LIMIT, INVALID_TICK, THROTTLED")
    message: str = Field(description="What went wrong and what to do, for a person")


class ErrorResponse(BaseModel):
    error: ErrorBody


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    market: str = Field(
        description="Market: epex_at, epex_de, epex_ch or epex_it", examples=["epex_at"]
    )
    side: Side = Field(description="BUY charges the battery, SELL discharges it")
    quantity: float = Field(
        gt=0, strict=True, description="Energy in MWh, a positive multiple of the market's lot (0.1 MWh)",
        examples=[1.5],
    )
    price: float = Field(
        strict=True,
        description="Limit price in EUR/MWh, a multiple of the tick (0.01); may be negative, "
        "within the market's bounds (-500 to 4000 EUR/MWh)",
        examples=[85.2],
    )
    time_in_force: TimeInForce = Field(
        TimeInForce.GTC, description="GTC rests until filled or cancelled; IOC fills what it "
        "can now and cancels the rest; FOK fills completely now or not at all",
    )
    delivery_start: AwareDatetime | None = Field(
        None,
        description="Start of the delivery quarter-hour, ISO 8601 with time zone (UTC); absent "
        "for the market's continuous book. Its book closes at gate closure (5 min before)",
    )
    client_order_id: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Your id for the order; repeating it returns the original order",
    )


class TradeOut(BaseModel):
    id: int
    market: str
    price: float = Field(description="Trade price in EUR/MWh")
    quantity: float = Field(description="Traded energy in MWh")
    buy_order_id: int
    sell_order_id: int
    aggressor_side: Side = Field(description="Side of the incoming order that caused the trade")
    delivery_start: str | None = Field(description="Delivery quarter-hour start (UTC) or null")
    executed_at: str = Field(description="Execution time, ISO 8601 UTC")


class OrderOut(BaseModel):
    id: int
    account_id: int
    market: str
    side: Side
    quantity: float = Field(description="Ordered energy in MWh")
    price: float = Field(description="Limit price in EUR/MWh")
    status: OrderStatus
    filled: float = Field(description="Energy filled so far in MWh")
    remaining: float = Field(description="Energy still working in the book in MWh (0 if closed)")
    time_in_force: TimeInForce
    delivery_start: str | None = Field(description="Delivery quarter-hour start (UTC) or null")
    delivery_end: str | None = Field(description="Delivery quarter-hour end (UTC) or null")
    client_order_id: str | None
    reject_code: str | None = Field(description="Why a REJECTED order was refused")
    created_at: str = Field(description="ISO 8601 UTC")
    updated_at: str = Field(description="ISO 8601 UTC")


class OrderWithTrades(OrderOut):
    trades: list[TradeOut] = Field(description="Trades this request caused")


class OrderPage(BaseModel):
    items: list[OrderOut]
    next: str | None = Field(description="Cursor for the next page, or null at the end")


class TradePage(BaseModel):
    items: list[TradeOut]
    next: str | None = Field(description="Cursor for the next page, or null at the end")


class PositionOut(BaseModel):
    account_id: int
    account: str | None
    market: str
    net_energy_mwh: float = Field(description="Bought minus sold energy in MWh")
    average_price: float = Field(description="Average cost of the open position in EUR/MWh")
    notional_eur: float = Field(description="Open position × average price, EUR")
    bought_mwh: float
    sold_mwh: float
    realized_pnl_eur: float = Field(description="Realised PnL, average-cost method, EUR")
    mark_price: float | None = Field(description="Mark price in EUR/MWh when known")
    unrealized_pnl_eur: float | None = Field(description="(mark − average) × position, EUR")


class BookLevel(BaseModel):
    price: float = Field(description="EUR/MWh")
    quantity: float = Field(description="MWh")
    orders: int


class BookOut(BaseModel):
    market: str
    delivery_start: str | None
    bids: list[BookLevel]
    asks: list[BookLevel]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@\- ]+$")
    role: Literal["admin", "trader", "viewer", "telemetry"]
    battery_id: str | None = Field(
        None, max_length=64,
        description="The battery this account trades for; its orders then pass the SoC checks",
    )


class AccountOut(BaseModel):
    id: int
    name: str
    role: str
    battery_id: str | None


class AccountCreated(AccountOut):
    api_key: str = Field(description="Shown once; store it safely")


class KeyRotated(BaseModel):
    id: int
    api_key: str = Field(description="The new key, shown once")
    previous_keys_valid_until: str = Field(description="The old keys stop working then (UTC)")


class TelemetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    battery_id: str = Field("default", max_length=64)
    soc_percent: float = Field(ge=0, le=100, strict=True, description="State of charge in percent")
    power_mw: float = Field(strict=True, description="Active power in MW, + discharging / − charging")
    temperature_c: float = Field(ge=-40, le=80, strict=True, description="Temperature in °C")
    timestamp: AwareDatetime | None = Field(
        None, strict=False, description="Time of the reading, ISO 8601 UTC; default: now"
    )


class BatteryStatus(BaseModel):
    battery_id: str
    soc_percent: float | None = Field(description="State of charge in percent")
    power_mw: float | None = Field(description="Active power in MW, + discharging / − charging")
    temperature_c: float | None = Field(description="°C")
    online: bool = Field(description="A reading arrived within 3 update intervals")
    updated_at: str | None = Field(description="Time of the reading, ISO 8601 UTC")
    source: str | None
    capacity_mwh: float
    rated_power_mw: float
    soc_min_percent: float
    soc_max_percent: float


class BatteryLimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    capacity_mwh: float | None = Field(None, gt=0, le=100_000, description="Usable energy, MWh")
    power_mw: float | None = Field(None, gt=0, le=100_000, description="Rated power, MW")
    soc_min_percent: float | None = Field(None, ge=0, le=100)
    soc_max_percent: float | None = Field(None, ge=0, le=100)
