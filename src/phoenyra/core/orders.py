"""Orders and trades of the matching core.

Prices and quantities are integers in the core: a price in ticks of its market and a quantity
in lots. Integer arithmetic makes fills exact (``filled`` always equals the sum of its trades)
and comparisons cheap; the API converts to EUR/MWh and MWh at the edge (see ``markets.py``).
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class TimeInForce(StrEnum):
    GTC = "GTC"  # rests in the book until filled, cancelled or its product closes
    IOC = "IOC"  # fills what it can now; the rest is cancelled
    FOK = "FOK"  # fills completely now or not at all


class OrderStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


OPEN_STATUSES = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})

# Module-level aliases: attribute lookups on the Enum class cost time in the matching loop.
BUY = Side.BUY
SELL = Side.SELL
ACCEPTED = OrderStatus.ACCEPTED
PARTIALLY_FILLED = OrderStatus.PARTIALLY_FILLED
FILLED = OrderStatus.FILLED
CANCELLED = OrderStatus.CANCELLED
EXPIRED = OrderStatus.EXPIRED
REJECTED = OrderStatus.REJECTED


class Order:
    """A limit order. ``seq`` is the engine's arrival sequence and gives time priority."""

    __slots__ = (
        "account_id",
        "client_order_id",
        "created_at",
        "delivery_start",
        "filled",
        "id",
        "market",
        "price",
        "quantity",
        "reject_code",
        "side",
        "status",
        "tif",
        "updated_at",
    )

    def __init__(
        self,
        id: int,
        account_id: int,
        market: str,
        side: Side,
        price: int,
        quantity: int,
        tif: TimeInForce = TimeInForce.GTC,
        delivery_start: int | None = None,
        created_at: float = 0.0,
        client_order_id: str | None = None,
        filled: int = 0,
        status: OrderStatus = ACCEPTED,
    ) -> None:
        self.id = id
        self.account_id = account_id
        self.market = market
        self.side = side
        self.price = price
        self.quantity = quantity
        self.tif = tif
        self.delivery_start = delivery_start
        self.created_at = created_at
        self.updated_at = created_at
        self.client_order_id = client_order_id
        self.filled = filled
        self.status = status
        self.reject_code: str | None = None

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return self.status is ACCEPTED or self.status is PARTIALLY_FILLED

    @property
    def product(self) -> tuple[str, int | None]:
        return (self.market, self.delivery_start)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return (
            f"Order(id={self.id}, acct={self.account_id}, {self.market}/{self.delivery_start}, "
            f"{self.side.value} {self.filled}/{self.quantity} @ {self.price}, {self.status.value})"
        )


class Trade:
    """A fill between a buy and a sell order.

    ``price_x2`` is twice the trade price in ticks: the spec's rule prices a trade at the
    average of the two limits, which may fall on a half tick; doubling keeps it an integer.
    """

    __slots__ = (
        "aggressor_side",
        "buy_account_id",
        "buy_order_id",
        "delivery_start",
        "executed_at",
        "id",
        "market",
        "price_x2",
        "quantity",
        "sell_account_id",
        "sell_order_id",
    )

    def __init__(
        self,
        id: int,
        market: str,
        delivery_start: int | None,
        price_x2: int,
        quantity: int,
        buy_order_id: int,
        sell_order_id: int,
        buy_account_id: int,
        sell_account_id: int,
        aggressor_side: Side,
        executed_at: float,
    ) -> None:
        self.id = id
        self.market = market
        self.delivery_start = delivery_start
        self.price_x2 = price_x2
        self.quantity = quantity
        self.buy_order_id = buy_order_id
        self.sell_order_id = sell_order_id
        self.buy_account_id = buy_account_id
        self.sell_account_id = sell_account_id
        self.aggressor_side = aggressor_side
        self.executed_at = executed_at

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return (
            f"Trade(id={self.id}, {self.market}/{self.delivery_start}, {self.quantity} @ "
            f"{self.price_x2 / 2}, buy={self.buy_order_id}, sell={self.sell_order_id})"
        )
