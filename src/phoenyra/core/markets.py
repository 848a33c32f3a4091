"""Market specifications: tick, lot, price bounds, trade-price rule, self-trade prevention.

The core keeps prices as integer ticks and quantities as integer lots; ``MarketSpec`` owns the
conversion from the wire's EUR/MWh and MWh, refusing values that are off the grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from .errors import Reject


class PriceRule(StrEnum):
    AVERAGE = "average"  # the spec's rule: the mean of the two limit prices
    MAKER = "maker"  # the resting order's price, as on EPEX continuous intraday


class MarkSource(StrEnum):
    DAYAHEAD = "dayahead"  # the day-ahead price of the period containing now
    LAST_TRADE = "last_trade"  # the latest trade price on this exchange


class SelfTradePrevention(StrEnum):
    CANCEL_RESTING = "cancel_resting"
    CANCEL_INCOMING = "cancel_incoming"
    CANCEL_BOTH = "cancel_both"


# Bidding zones by default; the market feed maps them to ENTSO-E EIC codes.
DEFAULT_MARKETS = {
    "epex_at": "AT",
    "epex_de": "DE-LU",
    "epex_ch": "CH",
    "epex_it": "IT-North",
}

QUARTER_HOUR = 900  # seconds; delivery products are quarter-hours


@dataclass(frozen=True)
class MarketSpec:
    name: str
    zone: str = ""
    tick: float = 0.01  # EUR/MWh
    lot: float = 0.1  # MWh
    min_price: float = -500.0  # EUR/MWh, SDAC harmonised minimum
    max_price: float = 4000.0  # EUR/MWh, SDAC harmonised maximum
    price_rule: PriceRule = PriceRule.AVERAGE
    self_trade: SelfTradePrevention = SelfTradePrevention.CANCEL_RESTING
    gate_closure_s: int = 300  # product books close this long before delivery starts
    mark_source: MarkSource = MarkSource.DAYAHEAD
    max_quantity: float = 10_000.0  # MWh per order: a fat-finger guard
    # Products trade at most this far ahead (EPEX lists the next day's; the optimiser plans
    # up to 7 days): a guard against mistyped years, which would open books nobody trades.
    max_horizon_s: int = 7 * 86_400
    # Derived integer bounds, filled in by __post_init__.
    min_ticks: int = field(init=False, default=0)
    max_ticks: int = field(init=False, default=0)
    max_lots: int = field(init=False, default=0)
    # Ticks and lots per unit when the step divides one exactly (0.01 -> 100): an integer
    # divided by it gives the step's decimal value correctly rounded, the same float as
    # round(n * step, 10), at a twentieth of the cost. 0 when the step is not 1/k.
    ticks_per_eur: int = field(init=False, default=0)
    lots_per_mwh: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if not (self.tick > 0 and self.lot > 0):
            raise ValueError(f"market {self.name}: tick and lot must be positive")
        object.__setattr__(self, "mark_source", MarkSource(self.mark_source))
        if self.min_price >= self.max_price:
            raise ValueError(f"market {self.name}: min_price must be below max_price")
        if not 0 < self.max_horizon_s <= 366 * 86_400:
            raise ValueError(f"market {self.name}: max_horizon_s must be 1 s to 366 days")
        object.__setattr__(self, "min_ticks", round(self.min_price / self.tick))
        object.__setattr__(self, "max_ticks", round(self.max_price / self.tick))
        object.__setattr__(self, "max_lots", round(self.max_quantity / self.lot))
        object.__setattr__(self, "ticks_per_eur", _per_unit(self.tick))
        object.__setattr__(self, "lots_per_mwh", _per_unit(self.lot))

    # -- conversions ------------------------------------------------------------------------
    def price_to_ticks(self, price: float) -> int:
        if not math.isfinite(price):
            raise Reject("INVALID_PRICE", "Price must be a finite number in EUR/MWh.")
        half = self.tick / 2
        if not self.min_price - half <= price <= self.max_price + half:
            raise self._out_of_bounds(price)  # checked first: 1e308 / tick is not an integer
        ticks = round(price / self.tick)
        if abs(ticks * self.tick - price) > self.tick * 1e-6:
            raise Reject(
                "INVALID_TICK",
                f"Price {price} EUR/MWh is not a multiple of the tick size {self.tick} EUR/MWh "
                f"on {self.name}.",
                market=self.name,
                price=price,
                tick=self.tick,
            )
        if not self.min_ticks <= ticks <= self.max_ticks:
            raise self._out_of_bounds(price)
        return ticks

    def _out_of_bounds(self, price: float) -> Reject:
        return Reject(
            "PRICE_OUT_OF_BOUNDS",
            f"Price {price} EUR/MWh is outside the bounds of {self.name} "
            f"({self.min_price} to {self.max_price} EUR/MWh).",
            market=self.name,
            price=price,
            min_price=self.min_price,
            max_price=self.max_price,
        )

    def quantity_to_lots(self, quantity: float) -> int:
        if not math.isfinite(quantity) or quantity <= 0:
            raise Reject("INVALID_QUANTITY", "Quantity must be a positive finite number of MWh.")
        if quantity > self.max_quantity + self.lot / 2:
            raise self._too_large(quantity)  # checked first: 1e308 / lot is not an integer
        lots = round(quantity / self.lot)
        if lots <= 0 or abs(lots * self.lot - quantity) > self.lot * 1e-6:
            raise Reject(
                "INVALID_LOT",
                f"Quantity {quantity} MWh is not a multiple of the lot size {self.lot} MWh "
                f"on {self.name}.",
                market=self.name,
                quantity=quantity,
                lot=self.lot,
            )
        if lots > self.max_lots:
            raise self._too_large(quantity)
        return lots

    def _too_large(self, quantity: float) -> Reject:
        return Reject(
            "QUANTITY_TOO_LARGE",
            f"Quantity {quantity} MWh exceeds the per-order maximum of {self.max_quantity} MWh "
            f"on {self.name}.",
            market=self.name,
            quantity=quantity,
            max_quantity=self.max_quantity,
        )

    def ticks_to_price(self, ticks: int) -> float:
        k = self.ticks_per_eur
        return ticks / k if k else round(ticks * self.tick, 10)

    def x2_to_price(self, price_x2: int) -> float:
        k = self.ticks_per_eur
        return price_x2 / (2 * k) if k else round(price_x2 * self.tick / 2, 10)

    def lots_to_quantity(self, lots: int) -> float:
        k = self.lots_per_mwh
        return lots / k if k else round(lots * self.lot, 10)

    def check_delivery_start(self, delivery_start: int, now: float) -> None:
        """A product is a quarter-hour; its book closes ``gate_closure_s`` before delivery."""
        if delivery_start % QUARTER_HOUR:
            raise Reject(
                "INVALID_DELIVERY",
                "delivery_start must be the start of a quarter-hour (minute 00, 15, 30 or 45, "
                "zero seconds, UTC).",
                reason="not_quarter_hour",
            )
        if delivery_start <= now:
            raise Reject("INVALID_DELIVERY", "delivery_start is in the past.", reason="past")
        if delivery_start - now > self.max_horizon_s:
            raise Reject(
                "INVALID_DELIVERY",
                f"delivery_start is too far ahead: {self.name} trades products at most "
                f"{self.max_horizon_s / 86_400:g} days before delivery.",
                reason="too_far_ahead",
                max_horizon_days=self.max_horizon_s / 86_400,
            )
        if delivery_start - self.gate_closure_s <= now:
            raise Reject(
                "MARKET_CLOSED",
                f"The {self.name} product starting at {iso_utc(delivery_start)} has passed gate "
                f"closure ({self.gate_closure_s // 60} minutes before delivery).",
                status=409,
                market=self.name,
                delivery_start=iso_utc(delivery_start),
                gate_closure_minutes=self.gate_closure_s // 60,
            )


def iso_utc(epoch_s: int) -> str:
    """A refusal's time, as the wire writes times: ISO 8601 UTC, e.g. 2026-06-01T10:15:00.000Z."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _per_unit(step: float) -> int:
    """k when ``step`` is the decimal 1/k (0.01 -> 100, 0.25 -> 4), else 0."""
    k = round(1 / step)
    return k if k > 0 and repr(1 / k) == repr(step) else 0


def default_markets(**overrides: dict) -> dict[str, MarketSpec]:
    """The four EPEX markets, with optional per-market field overrides."""
    return {
        name: MarketSpec(name=name, zone=zone, **overrides.get(name, {}))
        for name, zone in DEFAULT_MARKETS.items()
    }
