"""Pydantic models of the wire contracts: requests are validated, responses are documented."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from ...core.orders import OrderStatus, Side, TimeInForce
from ..auth import ACCOUNT_NAME_MAX, ACCOUNT_NAME_PATTERN


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable code, e.g. SOC_LIMIT, INVALID_TICK, THROTTLED")
    message: str = Field(description="What went wrong and what to do, for a person")


class ErrorResponse(BaseModel):
    error: ErrorBody


def _iso_text(value: object) -> object:
    """Refuse what pydantic would read as epoch seconds (a number, or text of one): the
    wire carries ISO 8601 text, and a number's unit (seconds or milliseconds) is a guess."""
    if value is None:
        return value
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value  # not a number: pydantic reads it as ISO 8601 or refuses it
    raise ValueError(
        "must be an ISO 8601 date-time text with a time zone, e.g. 2026-06-01T10:15:00Z "
        "(not epoch seconds)"
    )


IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    market: str = Field(
        description="Market: epex_at, epex_de, epex_ch or epex_it", examples=["epex_at"]
    )
    side: Side = Field(description="BUY charges the battery, SELL discharges it")
    quantity: float = Field(
        gt=0,
        strict=True,
        description="Energy in MWh, a positive multiple of the market's lot (0.1 MWh)",
        examples=[1.5],
    )
    price: float = Field(
        strict=True,
        description="Limit price in EUR/MWh, a multiple of the tick (0.01); may be negative, "
        "within the market's bounds (-500 to 4000 EUR/MWh)",
        examples=[85.2],
    )
    time_in_force: TimeInForce = Field(
        TimeInForce.GTC,
        description="GTC rests until filled or cancelled; IOC fills what it "
        "can now and cancels the rest; FOK fills completely now or not at all",
    )
    delivery_start: IsoDateTime | None = Field(
        None,
        description="Start of the delivery quarter-hour, ISO 8601 with time zone (UTC); absent "
        "for the market's continuous book. Its book closes at gate closure (5 min before)",
    )
    client_order_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Your id for the order: resending the same order with it returns the "
        "original (a safe retry); a different order under a used id is refused (409 "
        "CLIENT_ORDER_ID_REUSED); an order refused by a risk rule leaves the id free",
    )


ID = "Unique id, assigned by the exchange"
UTC = "ISO 8601 UTC"


class TradeOut(BaseModel):
    id: int = Field(description=ID)
    market: str = Field(description="Market of the trade, e.g. epex_at")
    price: float = Field(description="Trade price in EUR/MWh")
    quantity: float = Field(description="Traded energy in MWh")
    buy_order_id: int = Field(description="Id of the buy order")
    sell_order_id: int = Field(description="Id of the sell order")
    aggressor_side: Side = Field(description="Side of the incoming order that caused the trade")
    delivery_start: str | None = Field(description=f"Delivery quarter-hour start, {UTC}, or null")
    executed_at: str = Field(description=f"Execution time, {UTC}")
    side: Side | None = Field(
        None,
        description="In answers to GET requests: your account's side in the trade (BUY, SELL), "
        "null when you are not a party; absent in live events",
    )


class OrderOut(BaseModel):
    id: int = Field(description=ID)
    account_id: int = Field(description="Account that placed the order")
    market: str = Field(description="Market, e.g. epex_at")
    side: Side = Field(description="BUY (charge) or SELL (discharge)")
    quantity: float = Field(description="Ordered energy in MWh")
    price: float = Field(description="Limit price in EUR/MWh")
    status: OrderStatus = Field(
        description="ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED or REJECTED"
    )
    filled: float = Field(description="Energy filled so far in MWh")
    remaining: float = Field(description="Energy still working in the book in MWh (0 if closed)")
    time_in_force: TimeInForce = Field(description="GTC, IOC or FOK")
    delivery_start: str | None = Field(description=f"Delivery quarter-hour start, {UTC}, or null")
    delivery_end: str | None = Field(description=f"Delivery quarter-hour end, {UTC}, or null")
    client_order_id: str | None = Field(description="The client's own id for the order")
    reject_code: str | None = Field(description="Why a REJECTED order was refused")
    created_at: str = Field(description=f"Entry time, {UTC}")
    updated_at: str = Field(description=f"Time of the last change, {UTC}")


class OrderWithTrades(OrderOut):
    trades: list[TradeOut] = Field(
        description="Trades of this order (caused by this request when placing)"
    )


class OrderPage(BaseModel):
    items: list[OrderOut] = Field(description="Orders, newest first")
    next: str | None = Field(description="Cursor for the next page, or null at the end")


class TradePage(BaseModel):
    items: list[TradeOut] = Field(description="Trades, newest first")
    next: str | None = Field(description="Cursor for the next page, or null at the end")


class PositionOut(BaseModel):
    account_id: int = Field(description="Account id")
    account: str | None = Field(description="Account name")
    market: str = Field(description="Market, e.g. epex_at")
    net_energy_mwh: float = Field(description="Bought minus sold energy in MWh")
    average_price: float = Field(description="Average cost of the open position in EUR/MWh")
    notional_eur: float = Field(description="Open position × average price, EUR")
    bought_mwh: float = Field(description="Energy bought in MWh")
    sold_mwh: float = Field(description="Energy sold in MWh")
    realized_pnl_eur: float = Field(description="Realised PnL, average-cost method, EUR")
    mark_price: float | None = Field(description="Mark price in EUR/MWh when known")
    unrealized_pnl_eur: float | None = Field(description="(mark − average) × position, EUR")


class BookLevel(BaseModel):
    price: float = Field(description="Price level in EUR/MWh")
    quantity: float = Field(description="Open energy at this price in MWh")
    orders: int = Field(description="Number of open orders at this price")


class BookOut(BaseModel):
    market: str = Field(description="Market, e.g. epex_at")
    delivery_start: str | None = Field(description=f"Product start, {UTC}, or null (continuous)")
    bids: list[BookLevel] = Field(description="Buy levels, best (highest) first")
    asks: list[BookLevel] = Field(description="Sell levels, best (lowest) first")


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(
        min_length=1,
        max_length=ACCOUNT_NAME_MAX,
        # Documented here, checked by the exchange, which says what is wrong in a sentence
        # (INVALID_NAME) instead of pydantic's "should match pattern '^[A-Za-z…'".
        json_schema_extra={"pattern": ACCOUNT_NAME_PATTERN},
        description="Unique account name (compared without case); letters, digits, . _ @ - "
        "and inner spaces",
    )
    role: Literal["admin", "trader", "viewer", "telemetry", "feed"] = Field(
        description="admin: everything; trader: own orders; viewer: read; telemetry: send "
        "battery telemetry; feed: push market prices"
    )
    battery_id: str | None = Field(
        None,
        max_length=64,
        description="The battery this account trades for (its orders then pass the SoC "
        "checks); for a telemetry account, the only battery its key may report",
    )


class AccountOut(BaseModel):
    id: int = Field(description=ID)
    name: str = Field(description="Unique account name")
    role: str = Field(description="admin, trader, viewer, telemetry or feed")
    battery_id: str | None = Field(description="Battery the account trades for, or null")


class AccountCreated(AccountOut):
    api_key: str = Field(description="Shown once; store it safely")


class RotateKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    overlap_s: float | None = Field(
        None,
        ge=0,
        le=30 * 86_400,
        description="How long the old keys keep working, seconds (default "
        "PHOENYRA_KEY_ROTATION_OVERLAP_S); 0 cuts them off now, for a leaked key",
    )


class KeyRotated(BaseModel):
    id: int = Field(description="Account id")
    api_key: str = Field(description="The new key, shown once")
    previous_keys_valid_until: str = Field(description="The old keys stop working then (UTC)")


class TelemetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    battery_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Battery the reading is for (default: the key's battery, else 'default'). "
        "A telemetry key linked to a battery reports that battery only.",
    )
    soc_percent: float = Field(ge=0, le=100, strict=True, description="State of charge in percent")
    power_mw: float = Field(
        strict=True, description="Active power in MW, + discharging / − charging"
    )
    temperature_c: float | None = Field(
        ge=-40,
        le=80,
        strict=True,
        description="Temperature in °C; null for a device that does not report one (the Tesla "
        "Powerwall's local API)",
    )
    timestamp: IsoDateTime | None = Field(
        None,
        description="Time of the reading, ISO 8601 with a time zone (not epoch seconds); "
        "default: now",
    )
    source: Literal["rest", "modbus", "mqtt", "https"] = Field(
        "rest",
        description="How the reading was taken: rest (pushed by a client), or modbus / mqtt "
        "when relayed by the telemetry service",
    )


class BatteryStatus(BaseModel):
    battery_id: str = Field(description="Battery id")
    soc_percent: float | None = Field(description="State of charge in percent")
    power_mw: float | None = Field(description="Active power in MW, + discharging / − charging")
    temperature_c: float | None = Field(description="Temperature in °C")
    online: bool = Field(description="A reading arrived within 3 update intervals")
    updated_at: str | None = Field(description="Time of the reading, ISO 8601 UTC")
    age_s: float | None = Field(
        description="Seconds since the reading, by the exchange's clock when it answered"
    )
    max_age_s: float = Field(
        description="Age in seconds from which the battery is offline and its orders are refused"
    )
    source: str | None = Field(description="Where the reading came from: rest, modbus, mqtt")
    capacity_mwh: float = Field(description="Usable energy in MWh")
    rated_power_mw: float = Field(description="Rated power in MW")
    soc_min_percent: float = Field(description="Selling (discharging) stops below this, percent")
    soc_max_percent: float = Field(description="Buying (charging) stops above this, percent")
    charge_efficiency: float = Field(
        description="MWh stored per MWh bought (0–1]; the energy check counts with it"
    )
    discharge_efficiency: float = Field(
        description="MWh sold per MWh taken from the battery (0–1]; the energy check counts with it"
    )


class BatteryLimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    capacity_mwh: float | None = Field(None, gt=0, le=100_000, description="Usable energy, MWh")
    power_mw: float | None = Field(None, gt=0, le=100_000, description="Rated power, MW")
    soc_min_percent: float | None = Field(
        None, ge=0, le=100, description="Selling (discharging) stops below this SoC, percent"
    )
    soc_max_percent: float | None = Field(
        None, ge=0, le=100, description="Buying (charging) stops above this SoC, percent"
    )
    charge_efficiency: float | None = Field(
        None,
        gt=0,
        le=1,
        description="MWh stored per MWh bought, (0–1] (default BESS_CHARGE_EFFICIENCY, 0.95)",
    )
    discharge_efficiency: float | None = Field(
        None,
        gt=0,
        le=1,
        description="MWh sold per MWh taken from the battery, (0–1] (default "
        "BESS_DISCHARGE_EFFICIENCY, 0.95)",
    )


class BatteryIn(BatteryLimitsIn):
    battery_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._\-]+$",
        description="Id of the new battery (letters, digits, . _ -)",
    )


class BatteryReading(BaseModel):
    at: str = Field(description=f"Time of the reading, {UTC}")
    soc_percent: float = Field(description="State of charge in percent")
    power_mw: float = Field(description="Active power in MW, + discharging / − charging")
    temperature_c: float | None = Field(description="Temperature in °C, null if not reported")
    source: str = Field(description="Where the reading came from: rest, modbus, mqtt")


# -- market data ------------------------------------------------------------------------------
class PriceIntervalIn(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    start: IsoDateTime = Field(description=f"Start of the delivery period, {UTC}, inclusive")
    end: IsoDateTime = Field(description=f"End of the delivery period, {UTC}, exclusive")
    resolution: Literal["PT15M", "PT30M", "PT60M"] = Field(
        description="Length of the period (ISO 8601 duration)"
    )
    price: float = Field(description="Day-ahead price in EUR/MWh; may be negative")


class PricesIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    market: str = Field(description="Market: epex_at, epex_de, epex_ch or epex_it")
    source: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z0-9_\-]+$",
        description="Provider of the prices: entsoe, awattar, csv, synthetic",
    )
    simulated: bool = Field(False, description="True when the prices are made up (synthetic)")
    intervals: list[PriceIntervalIn] = Field(
        min_length=1,
        max_length=5000,
        description="Delivery periods with their prices, any order (at least one: an empty "
        "push would mark stale data as fresh)",
    )


class PricesStored(BaseModel):
    market: str = Field(description="Market the prices were stored for")
    received: int = Field(description="Periods in the request")
    inserted: int = Field(description="Periods stored for the first time")
    updated: int = Field(description="Periods whose stored price or source was replaced")
    unchanged: int = Field(description="Periods already stored with the same price")


class PriceOut(BaseModel):
    start: str = Field(description=f"Start of the delivery period, {UTC}")
    end: str = Field(description=f"End of the delivery period, {UTC}")
    resolution: str = Field(description="PT15M or PT60M")
    price: float = Field(description="Day-ahead price in EUR/MWh")
    source: str = Field(description="Provider: entsoe, awattar, csv or synthetic")


class IndicatorPoint(BaseModel):
    start: str = Field(description=f"Start of the delivery period, {UTC}")
    end: str = Field(description=f"End of the delivery period, {UTC}")
    resolution: str = Field(description="PT15M or PT60M (the finest stored)")
    mark: float = Field(description="Mark: the day-ahead price of the period, EUR/MWh")
    ema: float = Field(description="EMA (α = 0.2) of the marks up to this period, EUR/MWh")


class MarketData(BaseModel):
    market: str = Field(description="Market, e.g. epex_at")
    mark: float | None = Field(
        description="Mark price in EUR/MWh: the day-ahead price of the period containing now "
        "(or the last trade price where the market is configured so); null without data"
    )
    mark_start: str | None = Field(description=f"Start of the mark's period, {UTC}")
    mark_end: str | None = Field(description=f"End of the mark's period, {UTC}")
    mark_source: str = Field(description="dayahead or last_trade")
    ema: float | None = Field(description="EMA (alpha 0.2) over successive marks, EUR/MWh")
    vwap: float | None = Field(
        description="Volume-weighted average price of this exchange's trades over the last 96 "
        "quarter-hours, EUR/MWh; null without trades"
    )
    vwap_volume_mwh: float = Field(description="Energy traded in the VWAP window, MWh")
    unit: Literal["EUR/MWh"] = Field(description="Unit of mark, ema and vwap")
    source: str | None = Field(description="Provider of the day-ahead prices, or null")
    simulated: bool = Field(description="True when the prices are synthetic (demo data)")
    updated_at: str | None = Field(description=f"When the feed last delivered prices, {UTC}")
    stale: bool = Field(description="True when the data cannot be trusted as current")
    stale_reason: str | None = Field(description="Why the data is stale, for a person")
    stale_code: str | None = Field(
        description="Why, for a program: NO_FEED (no prices received), FEED_STALE (the feed's "
        "last delivery is older than stale_limit_s), NO_TRADE (mark from the last trade, none "
        "yet) or NO_PRICE_NOW (no day-ahead price covers the current period); null when fresh"
    )
    stale_age_s: int | None = Field(
        description="FEED_STALE: seconds since the feed last delivered prices"
    )
    stale_limit_s: int = Field(
        description="Seconds after the feed's last delivery from which the data counts as stale"
    )


class VwapPoint(BaseModel):
    start: str = Field(description=f"Start of the quarter-hour, {UTC}")
    end: str = Field(description=f"End of the quarter-hour, {UTC}")
    vwap: float = Field(description="VWAP of the trades executed in the quarter-hour, EUR/MWh")
    volume_mwh: float = Field(description="Energy traded in the quarter-hour, MWh")


class DispatchInterval(BaseModel):
    start: str = Field(description="Start, ISO 8601 UTC")
    end: str = Field(description="End, ISO 8601 UTC")
    power_mw: float = Field(description="Power in MW, + discharging (sold) / − charging (bought)")


class DispatchPlan(BaseModel):
    battery_id: str = Field(description="Battery id")
    generated_at: str = Field(description="When the exchange made this plan, ISO 8601 UTC")
    power_mw: float = Field(
        description="The power the trades ask for now, MW, + discharging / − charging"
    )
    rated_power_mw: float = Field(description="Rated power in MW; no interval asks for more")
    limited: bool = Field(
        description="Overlapping deliveries asked for more than the rated power somewhere and "
        "were cut to it"
    )
    intervals: list[DispatchInterval] = Field(
        description="Consecutive intervals of constant power from now to the end of the last "
        "delivery traded (idle gaps included, 0 MW); empty when nothing is to be delivered"
    )
