"""The matching engine: one book per (market, delivery product), gate closure, idempotency.

Pure and single-writer: the caller serialises commands and passes the time in. Each command
returns everything that changed so that the caller can persist it and publish events.
"""

from __future__ import annotations

from heapq import heappop, heappush

from .book import OrderBook
from .errors import Reject
from .markets import MarketSpec
from .orders import (
    ACCEPTED,
    EXPIRED,
    PARTIALLY_FILLED,
    REJECTED,
    Order,
    OrderStatus,
    Side,
    TimeInForce,
    Trade,
)

Product = tuple[str, int | None]


class Result:
    """What one ``place`` changed: the order, its trades and the resting orders it touched."""

    __slots__ = ("duplicate", "order", "touched", "trades")

    def __init__(
        self,
        order: Order,
        trades: list[Trade],
        touched: list[Order],  # resting orders that changed
        duplicate: bool = False,  # a repeated client_order_id: ``order`` is the original
    ) -> None:
        self.order = order
        self.trades = trades
        self.touched = touched
        self.duplicate = duplicate


class MatchingEngine:
    def __init__(
        self,
        markets: dict[str, MarketSpec],
        next_order_id: int = 1,
        next_trade_id: int = 1,
    ) -> None:
        self.markets = markets
        self.books: dict[Product, OrderBook] = {}
        self.open_orders: dict[int, Order] = {}
        self._next_order_id = next_order_id
        self._trade_ids = [next_trade_id]  # shared with every book (see OrderBook.trade_ids)
        self._closing: list[tuple[float, int, str]] = []  # (gate closure, delivery, market)
        self._client_ids: dict[tuple[int, str], Order] = {}

    # -- ids ------------------------------------------------------------------------------
    def _order_id(self) -> int:
        oid = self._next_order_id
        self._next_order_id = oid + 1
        return oid

    @property
    def next_order_id(self) -> int:
        return self._next_order_id

    @property
    def next_trade_id(self) -> int:
        return self._trade_ids[0]

    # -- books ----------------------------------------------------------------------------
    def book(self, market: str, delivery_start: int | None) -> OrderBook:
        key = (market, delivery_start)
        book = self.books.get(key)
        if book is None:
            spec = self.markets[market]
            book = OrderBook(
                market, delivery_start, spec.price_rule, spec.self_trade, self._trade_ids
            )
            self.books[key] = book
            if delivery_start is not None:
                heappush(
                    self._closing, (delivery_start - spec.gate_closure_s, delivery_start, market)
                )
        return book

    def spec(self, market: str) -> MarketSpec:
        spec = self.markets.get(market)
        if spec is None:
            raise Reject(
                "UNKNOWN_MARKET",
                f"Unknown market {market!r}; known markets: {', '.join(sorted(self.markets))}.",
            )
        return spec

    def find_client_order(self, account_id: int, client_order_id: str) -> Order | None:
        return self._client_ids.get((account_id, client_order_id))

    # -- commands -------------------------------------------------------------------------
    def _new_order(
        self,
        account_id: int,
        market: str,
        side: Side,
        price: int,
        quantity: int,
        now: float,
        tif: TimeInForce,
        delivery_start: int | None,
        client_order_id: str | None,
    ) -> Order:
        """A new order with the next id."""
        return Order(
            self._order_id(), account_id, market, side, price, quantity, tif, delivery_start,
            now, client_order_id,
        )  # fmt: skip

    def place(
        self,
        account_id: int,
        market: str,
        side: Side,
        price: int,
        quantity: int,
        now: float,
        tif: TimeInForce = TimeInForce.GTC,
        delivery_start: int | None = None,
        client_order_id: str | None = None,
    ) -> Result:
        """Accept a limit order (price in ticks, quantity in lots) and match it at once."""
        if quantity <= 0:  # the API refuses these first; a direct caller must not rest 0 lots
            raise Reject("INVALID_LOT", f"quantity must be at least one lot, not {quantity}.")
        if client_order_id is not None:
            original = self._client_ids.get((account_id, client_order_id))
            if original is not None:
                return Result(original, [], [], duplicate=True)
        spec = self.markets.get(market)
        if spec is None:
            spec = self.spec(market)  # raises UNKNOWN_MARKET
        if delivery_start is not None:
            spec.check_delivery_start(delivery_start, now)
        # _new_order's two steps written out: its call would add several percent to a passive place.
        oid = self._next_order_id
        self._next_order_id = oid + 1
        order = Order(
            oid, account_id, market, side, price, quantity, tif, delivery_start, now,
            client_order_id,
        )  # fmt: skip
        if client_order_id is not None:  # taken: a repeat returns this order (idempotent entry)
            self._client_ids[(account_id, client_order_id)] = order
        key = (market, delivery_start)
        book = self.books.get(key)
        if book is None:
            book = self.book(market, delivery_start)
        touched: list[Order] = []
        trades = book.match(order, now, touched)
        open_orders = self.open_orders
        for resting in touched:
            status = resting.status
            if status is not ACCEPTED and status is not PARTIALLY_FILLED:
                del open_orders[resting.id]
        status = order.status
        if status is ACCEPTED or status is PARTIALLY_FILLED:
            open_orders[oid] = order
        return Result(order, trades, touched)

    def reject(
        self,
        account_id: int,
        market: str,
        side: Side,
        price: int,
        quantity: int,
        now: float,
        code: str,
        tif: TimeInForce = TimeInForce.GTC,
        delivery_start: int | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Record an order refused by a risk rule: it gets an id and status REJECTED, no book.
        Its client id stays free: a retry with it is judged afresh, not answered with this."""
        order = self._new_order(
            account_id, market, side, price, quantity, now, tif, delivery_start, client_order_id
        )
        order.status = REJECTED
        order.reject_code = code
        return order

    def cancel(self, order_id: int, now: float) -> Order:
        order = self.open_orders.pop(order_id, None)
        if order is None:
            raise Reject("ORDER_NOT_OPEN", f"Order {order_id} is not open.", status=409)
        self.books[order.market, order.delivery_start].cancel(order, now)
        return order

    def expire(self, now: float) -> list[Order]:
        """Close every product book whose gate closure has passed; its open orders expire."""
        expired: list[Order] = []
        closing = self._closing
        while closing and closing[0][0] <= now:
            _, delivery_start, market = heappop(closing)
            self._close_book((market, delivery_start), now, expired)
        return expired

    def expire_beyond_horizon(self, now: float) -> list[Order]:
        """Expire the orders of product books further ahead than their market trades (a
        mistyped year stored before the horizon was checked, or a shortened horizon)."""
        expired: list[Order] = []
        for market, delivery_start in list(self.books):
            if delivery_start is None:
                continue
            if delivery_start - now > self.markets[market].max_horizon_s:
                self._close_book((market, delivery_start), now, expired)
        return expired

    def _close_book(self, key: tuple, now: float, expired: list[Order]) -> None:
        """Remove a product book; its open orders expire (appended to ``expired``)."""
        book = self.books.pop(key, None)
        if book is None:
            return
        for order in list(book.open_orders()):
            book.cancel(order, now, status=EXPIRED)
            del self.open_orders[order.id]
            expired.append(order)

    def restore(self, order: Order) -> None:
        """Put back an order loaded from storage (in id order, so time priority is kept)."""
        if order.client_order_id is not None:
            self._client_ids[(order.account_id, order.client_order_id)] = order
        if order.id >= self._next_order_id:
            self._next_order_id = order.id + 1
        if order.status is OrderStatus.ACCEPTED or order.status is OrderStatus.PARTIALLY_FILLED:
            self.book(order.market, order.delivery_start).rest(order)
            self.open_orders[order.id] = order

    def remember_client_id(self, order: Order) -> None:
        """Index a closed order's client id (restoring from storage) without touching books."""
        if order.client_order_id is not None and order.status is not REJECTED:
            self._client_ids[(order.account_id, order.client_order_id)] = order

    def set_next_ids(self, next_order_id: int, next_trade_id: int) -> None:
        self._next_order_id = max(self._next_order_id, next_order_id)
        self._trade_ids[0] = max(self._trade_ids[0], next_trade_id)
