"""Properties of the matching engine over random streams of place / cancel / expire / restart.

Each stream runs through the engine and through ``ReferenceExchange``, a deliberately naive model
(a flat list of orders, the best counterparty found by sorting, FOK tried on a copy) written from
the rules alone. The two must agree on every order id, status, fill and trade, and the engine's
books must keep their invariants after every step.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from phoenyra.core.engine import MatchingEngine
from phoenyra.core.errors import Reject
from phoenyra.core.markets import PriceRule, SelfTradePrevention, default_markets
from phoenyra.core.orders import Order, OrderStatus, Side, TimeInForce

T0 = 1_700_000_100  # a quarter-hour boundary
# Products closing during a stream (the default gate closure is 300 s before delivery), one far
# away, one off the quarter-hour grid and one already in the past.
VALID_DELIVERIES = [None, T0 + 900, T0 + 1800, T0 + 86_400]
DELIVERIES = [*VALID_DELIVERIES, T0 + 1000, T0 - 900]
OPEN = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
GTC = TimeInForce.GTC


def waits(max_steps: int):
    """Time steps on a 30 s grid, so that streams land exactly on gate closures."""
    return st.integers(0, max_steps).map(lambda steps: 30 * steps)


# -- the reference model ----------------------------------------------------------------------


@dataclass
class ModelOrder:
    id: int
    account: int
    market: str
    delivery: int | None
    side: Side
    price: int
    quantity: int
    tif: TimeInForce
    filled: int = 0
    status: OrderStatus = OrderStatus.ACCEPTED

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


class ModelReject(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


class ReferenceExchange:
    """Open orders in one dict; matching scans it for the best counterparty. Slow and plain."""

    def __init__(self, markets) -> None:
        self.markets = markets
        self.orders: dict[int, ModelOrder] = {}  # every order
        self.open: dict[int, ModelOrder] = {}  # the open ones
        self.client_ids: dict[tuple[int, str], int] = {}
        self.next_id = 1

    def place(self, account, market, side, price, qty, now, tif, delivery, client_id):
        """Returns (order, trades as tuples, ids of resting orders changed, duplicate)."""
        if client_id is not None and (account, client_id) in self.client_ids:
            return self.orders[self.client_ids[(account, client_id)]], [], set(), True
        if market not in self.markets:
            raise ModelReject("UNKNOWN_MARKET")
        spec = self.markets[market]
        if delivery is not None:
            if delivery % 900 != 0 or delivery <= now:
                raise ModelReject("INVALID_DELIVERY")
            if now >= delivery - spec.gate_closure_s:
                raise ModelReject("MARKET_CLOSED")
        order = ModelOrder(self.next_id, account, market, delivery, side, price, qty, tif)
        self.next_id += 1
        self.orders[order.id] = order
        if client_id is not None:
            self.client_ids[(account, client_id)] = order.id
        counterparties = [
            o
            for o in self.open.values()
            if (o.market, o.delivery) == (market, delivery) and o.side is not side
        ]
        if tif is TimeInForce.FOK:
            # FOK: try it on copies; if it would not fill completely nothing happens at all
            trial = copy.copy(order)
            self._match(trial, [copy.copy(o) for o in counterparties])
            if trial.remaining:
                order.status = OrderStatus.CANCELLED
                return order, [], set(), False
        trades, touched = self._match(order, counterparties)
        for oid in touched:
            if not self.orders[oid].is_open:
                del self.open[oid]
        if order.is_open:
            self.open[order.id] = order
        return order, trades, touched, False

    def _match(self, order: ModelOrder, counterparties: list[ModelOrder]):
        spec = self.markets[order.market]
        buying = order.side is Side.BUY
        trades, touched, stopped = [], set(), False
        while order.remaining:
            crossing = [
                o
                for o in counterparties
                if o.is_open and (o.price <= order.price if buying else o.price >= order.price)
            ]
            if not crossing:
                break
            # best price first, then arrival (ids are given in arrival order)
            resting = min(crossing, key=lambda o: (o.price if buying else -o.price, o.id))
            if resting.account == order.account:
                mode = spec.self_trade
                if mode is not SelfTradePrevention.CANCEL_INCOMING:
                    resting.status = OrderStatus.CANCELLED
                    touched.add(resting.id)
                if mode is not SelfTradePrevention.CANCEL_RESTING:
                    stopped = True
                    break
                continue
            qty = min(order.remaining, resting.remaining)
            if spec.price_rule is PriceRule.AVERAGE:
                price_x2 = order.price + resting.price
            else:
                price_x2 = 2 * resting.price
            buyer, seller = (order, resting) if buying else (resting, order)
            trades.append(
                (buyer.id, seller.id, buyer.account, seller.account, qty, price_x2, order.side)
            )
            order.filled += qty
            resting.filled += qty
            resting.status = (
                OrderStatus.PARTIALLY_FILLED if resting.remaining else OrderStatus.FILLED
            )
            touched.add(resting.id)
        if not order.remaining:
            order.status = OrderStatus.FILLED
        elif stopped or order.tif is not TimeInForce.GTC:
            order.status = OrderStatus.CANCELLED
        else:
            order.status = OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.ACCEPTED
        return trades, touched

    def cancel(self, order_id: int) -> None:
        order = self.open.pop(order_id, None)
        if order is None:
            raise ModelReject("ORDER_NOT_OPEN")
        order.status = OrderStatus.CANCELLED

    def expire(self, now: float) -> set[int]:
        expired = set()
        for order in list(self.open.values()):
            if order.delivery is not None and now >= self._gate(order):
                order.status = OrderStatus.EXPIRED
                expired.add(order.id)
                del self.open[order.id]
        return expired

    def _gate(self, order: ModelOrder) -> int:
        return order.delivery - self.markets[order.market].gate_closure_s

    def best(self, market, delivery, side) -> int | None:
        prices = [
            o.price
            for o in self.open.values()
            if (o.market, o.delivery) == (market, delivery) and o.side is side
        ]
        if not prices:
            return None
        return max(prices) if side is Side.BUY else min(prices)


def trade_tuple(t) -> tuple:
    return (
        t.buy_order_id,
        t.sell_order_id,
        t.buy_account_id,
        t.sell_account_id,
        t.quantity,
        t.price_x2,
        t.aggressor_side,
    )


def stored_copy(o: Order) -> Order:
    return Order(
        o.id, o.account_id, o.market, o.side, o.price, o.quantity, o.tif, o.delivery_start,
        o.created_at, o.client_order_id, o.filled, o.status,
    )  # fmt: skip


# -- the state machine ------------------------------------------------------------------------


class MatchingStreams(RuleBasedStateMachine):
    @initialize(
        n_markets=st.integers(1, 2),
        n_accounts=st.integers(2, 4),
        rules=st.lists(st.sampled_from(PriceRule), min_size=2, max_size=2),
        modes=st.lists(st.sampled_from(SelfTradePrevention), min_size=2, max_size=2),
        opening_book=st.lists(
            st.tuples(
                st.integers(0, 3),
                st.integers(0, 1),
                st.sampled_from(VALID_DELIVERIES),
                st.sampled_from(Side),
                st.integers(96, 104),
                st.integers(1, 6),
            ),
            max_size=25,
        ),
    )
    def set_up(self, n_markets, n_accounts, rules, modes, opening_book):
        names = ["epex_at", "epex_de"][:n_markets]
        overrides = {
            name: {"price_rule": rule, "self_trade": mode}
            for name, rule, mode in zip(names, rules, modes, strict=False)
        }
        self.markets = default_markets(**overrides)
        self.market_names = names
        self.accounts = list(range(1, n_accounts + 1))
        self.engine = MatchingEngine(self.markets)
        self.model = ReferenceExchange(self.markets)
        self.now = float(T0)
        self.orders: dict[int, Order] = {}  # every order the engine accepted, by id
        self.trades = []  # every trade, in execution order
        self.bursts = 0
        for account, market, delivery, side, price, qty in opening_book:
            self._place(account, market, delivery, side, price, qty, GTC, None)

    # -- rules --------------------------------------------------------------------------
    @rule(
        account=st.integers(0, 3),
        market=st.integers(0, 1),
        delivery=st.sampled_from(DELIVERIES),
        side=st.sampled_from(Side),
        price=st.integers(96, 104),
        qty=st.integers(1, 6),
        tif=st.sampled_from(TimeInForce),
        client_id=st.none() | st.sampled_from(["a", "b", "c"]),
        wait=waits(2),
    )
    def place(self, account, market, delivery, side, price, qty, tif, client_id, wait):
        self.now += wait
        self._place(account, market, delivery, side, price, qty, tif, client_id)

    @rule(
        account=st.integers(0, 3),
        market=st.integers(0, 1),
        delivery=st.sampled_from(VALID_DELIVERIES),
        side=st.sampled_from(Side),
        price=st.integers(96, 104),
        qty=st.integers(1, 6),
    )
    def place_gtc(self, account, market, delivery, side, price, qty):
        """Mostly liquidity: a GTC order for a product that is usually still open."""
        self._place(account, market, delivery, side, price, qty, GTC, None)

    def _place(self, account, market, delivery, side, price, qty, tif, client_id):
        account = self.accounts[account % len(self.accounts)]
        market = self.market_names[market % len(self.market_names)]
        product = (market, delivery)
        before = {
            o.id: (o.price, o.remaining, o.account_id)
            for o in self.engine.open_orders.values()
            if o.product == product and o.side is not side
        }
        all_open_before = {oid: (o.filled, o.status) for oid, o in self.engine.open_orders.items()}

        try:
            expected = self.model.place(
                account, market, side, price, qty, self.now, tif, delivery, client_id
            )
        except ModelReject as refusal:
            expected_code = refusal.code
        else:
            expected_code = None
        try:
            result = self.engine.place(
                account, market, side, price, qty, self.now, tif, delivery, client_id
            )
        except Reject as refusal:
            assert refusal.code == expected_code
            event(f"refused {refusal.code}")
            return None
        assert expected_code is None, f"engine accepted what should be {expected_code}"

        model_order, model_trades, model_touched, duplicate = expected
        order = result.order
        assert result.duplicate is duplicate
        assert order.id == model_order.id
        if duplicate:
            assert result.trades == []
            assert order is self.orders[order.id]
            return order
        assert [trade_tuple(t) for t in result.trades] == model_trades
        assert {o.id for o in result.touched} == model_touched
        self.orders[order.id] = order
        self.trades += result.trades
        event(f"{tif.value} ended {order.status.value}")
        if result.trades:
            event("traded")
        if any(o.status is OrderStatus.CANCELLED for o in result.touched):
            event("self-trade prevention cancelled a resting order")

        self._check_priority_of(order, result.trades, before)
        if tif is TimeInForce.FOK:
            assert order.status in (OrderStatus.FILLED, OrderStatus.CANCELLED)
            if order.status is OrderStatus.CANCELLED:
                assert result.trades == [] and result.touched == []
                assert order.filled == 0
                assert {
                    oid: (o.filled, o.status) for oid, o in self.engine.open_orders.items()
                } == all_open_before
        if tif is not TimeInForce.GTC:
            assert not order.is_open
        return order

    def _check_priority_of(self, incoming: Order, trades, before) -> None:
        """Each trade's resting order was the best-priced, then oldest, eligible counterparty.

        Own orders of the incoming account are not eligible: self-trade prevention takes them
        out of the way (or stops the incoming order) before any trade with them could happen.
        """
        live = {oid: list(v) for oid, v in before.items() if v[2] != incoming.account_id}
        buying = incoming.side is Side.BUY
        for trade in trades:
            resting_id = trade.sell_order_id if buying else trade.buy_order_id
            assert resting_id in live, "traded with an order that was not an open counterparty"
            best = min(live, key=lambda oid: (live[oid][0] if buying else -live[oid][0], oid))
            assert resting_id == best, f"trade with {resting_id} while {best} had priority"
            price = live[resting_id][0]
            assert (price <= incoming.price) if buying else (price >= incoming.price)
            live[resting_id][1] -= trade.quantity
            assert live[resting_id][1] >= 0
            if live[resting_id][1] == 0:
                del live[resting_id]

    @rule(index=st.integers(0, 10_000), wait=waits(1))
    def cancel(self, index, wait):
        self.now += wait
        ids = sorted(self.orders) or [1]
        self._cancel(ids[index % len(ids)])

    def _cancel(self, order_id):
        try:
            self.model.cancel(order_id)
        except ModelReject as refusal:
            expected_code = refusal.code
        else:
            expected_code = None
        try:
            cancelled = self.engine.cancel(order_id, self.now)
        except Reject as refusal:
            assert refusal.code == expected_code == "ORDER_NOT_OPEN"
            return
        assert expected_code is None
        assert cancelled is self.orders[order_id]
        assert cancelled.status is OrderStatus.CANCELLED

    @rule(
        account=st.integers(0, 3),
        market=st.integers(0, 1),
        delivery=st.sampled_from(VALID_DELIVERIES),
        side=st.sampled_from(Side),
        price=st.integers(96, 104),
        spread=st.sampled_from([1, 4]),
        keep_every=st.integers(3, 40),
    )
    def quote_and_cancel_many(self, account, market, delivery, side, price, spread, keep_every):
        """A burst of quotes, most cancelled at once: lazy deletion must clean up after itself
        (the book compacts long queues of cancelled orders and stale prices) without losing
        priority."""
        if self.bursts == 2:  # bursts are long: two per stream keep the file quick
            return
        self.bursts += 1
        for n in range(80):
            offset = n % spread
            quote_price = price - offset if side is Side.BUY else price + offset
            order = self._place(account, market, delivery, side, quote_price, 1, GTC, None)
            if order is not None and n % keep_every:
                self._cancel(order.id)

    @rule(wait=waits(10))
    def expire(self, wait):
        self.now += wait
        expected = self.model.expire(self.now)
        expired = self.engine.expire(self.now)
        assert {o.id for o in expired} == expected
        assert len(expired) == len(expected)
        assert all(o.status is OrderStatus.EXPIRED for o in expired)
        if expired:
            event("expire expired orders")

    @rule()
    def restart(self):
        """Rebuild the engine from stored copies of every order, in id order.

        Only the trade id is carried over: the next order id must follow from the restored ids.
        """
        fresh = MatchingEngine(self.markets)
        for order_id in sorted(self.orders):
            copy_ = stored_copy(self.orders[order_id])
            fresh.restore(copy_)
            self.orders[order_id] = copy_
        fresh.set_next_ids(1, self.engine.next_trade_id)
        self.engine = fresh

    # -- invariants ---------------------------------------------------------------------
    @invariant()
    def books_are_never_crossed(self):
        for book in self.engine.books.values():
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is None or ask is None or bid < ask, (book.market, bid, ask)

    @invariant()
    def best_prices_agree_with_the_reference_model(self):
        for (market, delivery), book in self.engine.books.items():
            assert book.best_bid() == self.model.best(market, delivery, Side.BUY)
            assert book.best_ask() == self.model.best(market, delivery, Side.SELL)

    @invariant()
    def every_fill_is_bounded_and_equals_the_sum_of_its_trades(self):
        traded = defaultdict(int)
        for t in self.trades:
            traded[t.buy_order_id] += t.quantity
            traded[t.sell_order_id] += t.quantity
        for order in self.orders.values():
            assert 0 <= order.filled <= order.quantity
            assert order.filled == traded[order.id]

    @invariant()
    def bought_equals_sold_per_product(self):
        bought, sold = defaultdict(int), defaultdict(int)
        for order in self.orders.values():
            (bought if order.side is Side.BUY else sold)[order.product] += order.filled
        for product in bought.keys() | sold.keys():
            assert bought[product] == sold[product], product

    @invariant()
    def no_account_ever_trades_with_itself(self):
        assert all(t.buy_account_id != t.sell_account_id for t in self.trades)

    @invariant()
    def trades_belong_to_their_orders_product(self):
        for t in self.trades:
            buy, sell = self.orders[t.buy_order_id], self.orders[t.sell_order_id]
            assert buy.side is Side.BUY and sell.side is Side.SELL
            assert buy.product == sell.product == (t.market, t.delivery_start)
            assert 2 * sell.price <= t.price_x2 <= 2 * buy.price

    @invariant()
    def trade_ids_are_unique_and_increasing(self):
        ids = [t.id for t in self.trades]
        assert ids == sorted(set(ids))

    @invariant()
    def open_orders_are_exactly_the_orders_with_open_status(self):
        open_ids = {oid for oid, o in self.orders.items() if o.status in OPEN}
        assert set(self.engine.open_orders) == open_ids
        assert all(self.engine.open_orders[oid] is self.orders[oid] for oid in open_ids)
        in_books = [o.id for book in self.engine.books.values() for o in book.open_orders()]
        assert sorted(in_books) == sorted(open_ids)

    @invariant()
    def depth_counts_exactly_the_open_orders(self):
        for book in self.engine.books.values():
            for book_side, side in ((book.bids, Side.BUY), (book.asks, Side.SELL)):
                expected = defaultdict(lambda: [0, 0])
                for o in self.engine.open_orders.values():
                    if o.product == (book.market, book.delivery_start) and o.side is side:
                        expected[o.price][0] += o.remaining
                        expected[o.price][1] += 1
                depth = [(p, lots, n) for p, (lots, n) in sorted(expected.items())]
                if side is Side.BUY:
                    depth.reverse()
                assert list(book_side.depth()) == depth

    @invariant()
    def every_order_agrees_with_the_reference_model(self):
        assert self.engine.next_order_id == self.model.next_id
        assert self.orders.keys() == self.model.orders.keys()
        for oid, order in self.orders.items():
            model = self.model.orders[oid]
            assert (order.status, order.filled) == (model.status, model.filled), oid

    def teardown(self):
        # shown by --hypothesis-show-statistics: how much each stream exercised
        for name, count in (("orders placed", len(self.orders)), ("trades", len(self.trades))):
            event(f"{name}: {next(b for b in (1000, 100, 10, 1, 0) if count >= b)}+")


# 700 streams of up to 50 steps: about 40 s of the suite in a slow VM phase (1000 took 60 s).
MatchingStreams.TestCase.settings = settings(
    max_examples=700,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMatchingStreams = MatchingStreams.TestCase
