"""One order book: price–time priority matching for a single (market, delivery product).

Structure, chosen for speed in CPython:
- each side keeps ``levels`` (price in ticks → ``Level``) and a heap of its prices (bids negated),
  so the best price is ``heap[0]`` after dropping prices whose level has gone (and the heap is
  rebuilt when such stale prices outnumber the live ones);
- a level is a FIFO deque of orders; a cancel marks the order and subtracts its remaining lots
  from the level (lazy deletion), so cancelling is O(1) and the deque is cleaned when matching
  reaches the cancelled order, the level empties, or the deque grows to twice its open orders.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from heapq import heapify, heappop, heappush

from .markets import PriceRule, SelfTradePrevention
from .orders import (
    ACCEPTED,
    BUY,
    CANCELLED,
    FILLED,
    PARTIALLY_FILLED,
    Order,
    TimeInForce,
    Trade,
)

_FOK = TimeInForce.FOK
_GTC = TimeInForce.GTC


class Level:
    __slots__ = ("compact_at", "lots", "orders")

    def __init__(self) -> None:
        self.orders: deque[Order] = deque()
        self.lots = 0  # open lots resting at this price
        self.compact_at = 64  # queue length at which cancelled orders are dropped


class BookSide:
    __slots__ = ("heap", "is_bid", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self.heap: list[int] = []  # prices, negated for bids so heap[0] is the best

    def best(self) -> int | None:
        heap, levels = self.heap, self.levels
        while heap:
            key = heap[0]
            if (-key if self.is_bid else key) in levels:
                return -key if self.is_bid else key
            heappop(heap)
        return None

    def add(self, order: Order) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = Level()
            heap = self.heap
            heappush(heap, -order.price if self.is_bid else order.price)
            if len(heap) > 2 * len(self.levels) + 32:
                # An emptied level's price stays in the heap until it reaches the top, so prices
                # re-added behind the best (quote, cancel, quote again) would pile up without
                # bound. Rebuild in place: the matching loop holds a reference to this list.
                heap[:] = [-p for p in self.levels] if self.is_bid else list(self.levels)
                heapify(heap)
        orders = level.orders
        orders.append(order)
        level.lots += order.quantity - order.filled
        if len(orders) > level.compact_at:
            # Cancelled orders stay queued until matching reaches them; behind a front order
            # that never trades they would pile up without bound. Drop them, keeping the order.
            live = [o for o in orders if o.status is ACCEPTED or o.status is PARTIALLY_FILLED]
            orders.clear()
            orders.extend(live)
            level.compact_at = 2 * len(live) + 64

    def prices_best_first(self) -> list[int]:
        return sorted(self.levels, reverse=self.is_bid)

    def depth(self) -> Iterator[tuple[int, int, int]]:
        """(price, open lots, number of open orders) per level, best first."""
        for price in self.prices_best_first():
            level = self.levels[price]
            count = sum(
                1 for o in level.orders if o.status is ACCEPTED or o.status is PARTIALLY_FILLED
            )
            yield price, level.lots, count

    def open_orders(self) -> Iterator[Order]:
        for price in self.prices_best_first():
            for o in self.levels[price].orders:
                if o.status is ACCEPTED or o.status is PARTIALLY_FILLED:
                    yield o


class OrderBook:
    """Price–time priority book for one product. Pure: time is passed in, ids come from callers."""

    __slots__ = ("asks", "bids", "delivery_start", "market", "price_rule", "stp", "trade_ids")

    def __init__(
        self,
        market: str,
        delivery_start: int | None,
        price_rule: PriceRule,
        stp: SelfTradePrevention,
        trade_ids: list[int],
    ) -> None:
        self.market = market
        self.delivery_start = delivery_start
        self.price_rule = price_rule
        self.stp = stp
        # One-element list shared by all books of an engine: the next trade id. A list rather
        # than a callback: matching reads it once, counts locally and writes it back.
        self.trade_ids = trade_ids
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)

    # -- queries --------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        return self.bids.best()

    def best_ask(self) -> int | None:
        return self.asks.best()

    def open_orders(self) -> Iterator[Order]:
        yield from self.bids.open_orders()
        yield from self.asks.open_orders()

    def is_empty(self) -> bool:
        return not self.bids.levels and not self.asks.levels

    # -- commands -------------------------------------------------------------------------
    def rest(self, order: Order) -> None:
        """Put an open order into the book without matching (used when rebuilding from storage)."""
        (self.bids if order.side is BUY else self.asks).add(order)

    def cancel(self, order: Order, now: float, status=CANCELLED) -> None:
        levels = (self.bids if order.side is BUY else self.asks).levels
        price = order.price
        level = levels[price]
        level.lots -= order.quantity - order.filled
        if not level.lots:
            del levels[price]
        order.status = status
        order.updated_at = now

    def match(self, order: Order, now: float, touched: list[Order]) -> list[Trade]:
        """Match ``order`` against the opposite side; rest what is left if it is GTC.

        Resting orders whose state changed are appended to ``touched``. Returns the trades.
        """
        is_buy = order.side is BUY
        opposite = self.asks if is_buy else self.bids
        if order.tif is _FOK and not self._can_fill_completely(order, opposite):
            order.status = CANCELLED
            order.updated_at = now
            return []

        levels = opposite.levels
        heap = opposite.heap
        limit = order.price
        # Most orders do not cross: find the best opposite price (dropping prices whose level
        # has emptied) and, when it does not reach the limit, rest the order without the
        # matching loop's set-up.
        while heap:
            key = heap[0]
            if (key if is_buy else -key) in levels:
                break
            heappop(heap)
        if not heap or ((heap[0] > limit) if is_buy else (-heap[0] < limit)):
            order.updated_at = now
            if order.tif is _GTC:
                order.status = PARTIALLY_FILLED if order.filled else ACCEPTED
                (self.bids if is_buy else self.asks).add(order)
            else:
                order.status = CANCELLED
            return []

        trades: list[Trade] = []
        remaining = order.quantity - order.filled
        account = order.account_id
        average = self.price_rule is PriceRule.AVERAGE
        stp = self.stp
        incoming_stopped = False
        trade_ids = self.trade_ids
        tid = trade_ids[0]

        while remaining:
            # Best opposite price, dropping prices whose level has emptied.
            level = None
            while heap:
                key = heap[0]
                price = -key if not is_buy else key
                level = levels.get(price)
                if level is not None:
                    break
                heappop(heap)
            if level is None:
                break
            if (price > limit) if is_buy else (price < limit):
                break
            queue = level.orders
            while queue and remaining:
                resting = queue[0]
                rstatus = resting.status
                if rstatus is not ACCEPTED and rstatus is not PARTIALLY_FILLED:
                    queue.popleft()  # cancelled earlier; its lots were already removed
                    continue
                if resting.account_id == account:
                    if stp is not SelfTradePrevention.CANCEL_INCOMING:
                        queue.popleft()
                        level.lots -= resting.quantity - resting.filled
                        resting.status = CANCELLED
                        resting.updated_at = now
                        touched.append(resting)
                    if stp is not SelfTradePrevention.CANCEL_RESTING:
                        incoming_stopped = True
                        break
                    continue
                available = resting.quantity - resting.filled
                qty = remaining if remaining < available else available
                price_x2 = (limit + price) if average else (price + price)
                if is_buy:
                    trade = Trade(
                        tid,
                        self.market,
                        self.delivery_start,
                        price_x2,
                        qty,
                        order.id,
                        resting.id,
                        account,
                        resting.account_id,
                        order.side,
                        now,
                    )
                else:
                    trade = Trade(
                        tid,
                        self.market,
                        self.delivery_start,
                        price_x2,
                        qty,
                        resting.id,
                        order.id,
                        resting.account_id,
                        account,
                        order.side,
                        now,
                    )
                trades.append(trade)
                tid += 1
                remaining -= qty
                level.lots -= qty
                resting.filled += qty
                resting.updated_at = now
                if qty == available:
                    resting.status = FILLED
                    queue.popleft()
                else:
                    resting.status = PARTIALLY_FILLED
                touched.append(resting)
            if level.lots == 0:
                del levels[price]
            if incoming_stopped:
                break

        trade_ids[0] = tid
        order.filled = order.quantity - remaining
        order.updated_at = now
        if remaining == 0:
            order.status = FILLED
        elif incoming_stopped or order.tif is not _GTC:
            order.status = CANCELLED
        else:
            order.status = PARTIALLY_FILLED if order.filled else ACCEPTED
            (self.bids if is_buy else self.asks).add(order)
        return trades

    def _can_fill_completely(self, order: Order, opposite: BookSide) -> bool:
        """Whether a FOK order fills in full, walking the book in priority order with STP."""
        need = order.quantity - order.filled
        is_buy = order.side is BUY
        for price in opposite.prices_best_first():
            if (price > order.price) if is_buy else (price < order.price):
                return False
            for resting in opposite.levels[price].orders:
                if not (resting.status is ACCEPTED or resting.status is PARTIALLY_FILLED):
                    continue
                if resting.account_id == order.account_id:
                    if self.stp is SelfTradePrevention.CANCEL_RESTING:
                        continue
                    return False
                need -= resting.quantity - resting.filled
                if need <= 0:
                    return True
        return False
