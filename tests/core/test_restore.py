"""Restart: restoring the stored orders in id order rebuilds the same books, with the same
priority, and new ids continue after the restored ones."""

from phoenyra.core.engine import MatchingEngine
from phoenyra.core.markets import default_markets
from phoenyra.core.orders import Order, OrderStatus, Side, TimeInForce

T0 = 1_700_000_100
DELIVERY = T0 + 3600
IOC = TimeInForce.IOC


def stored(order: Order) -> Order:
    """A fresh copy, as loaded from storage."""
    return Order(
        order.id, order.account_id, order.market, order.side, order.price, order.quantity,
        order.tif, order.delivery_start, order.created_at, order.client_order_id, order.filled,
        order.status,
    )  # fmt: skip


def restarted(engine: MatchingEngine, orders: list[Order]) -> MatchingEngine:
    fresh = MatchingEngine(engine.markets)
    for order in sorted(orders, key=lambda o: o.id):
        fresh.restore(stored(order))
    fresh.set_next_ids(engine.next_order_id, engine.next_trade_id)
    return fresh


def snapshot(engine: MatchingEngine) -> dict:
    """Per book: best prices, depth and open orders in priority order."""
    return {
        product: (
            book.best_bid(),
            book.best_ask(),
            list(book.bids.depth()),
            list(book.asks.depth()),
            [(o.id, o.filled, o.status) for o in book.open_orders()],
        )
        for product, book in engine.books.items()
        if not book.is_empty()
    }


def busy_engine() -> tuple[MatchingEngine, list[Order]]:
    """Several levels and products, same-price queues, partial fills, cancels and fills."""
    engine = MatchingEngine(default_markets())
    orders = []

    def place(account, side, price, qty, **kwargs):
        result = engine.place(account, "epex_at", side, price, qty, T0, **kwargs)
        orders.append(result.order)
        return result.order

    for account in (1, 2, 3):
        place(account, Side.BUY, 100, 2)
        place(account, Side.BUY, 99, 3)
        place(account, Side.SELL, 102, 2)
        place(account, Side.SELL, 103, 1, client_order_id=f"ask-{account}")
        place(account, Side.SELL, 105, 4, delivery_start=DELIVERY)
        place(account, Side.BUY, 101, 1, delivery_start=DELIVERY)
    place(4, Side.SELL, 100, 3)  # fills bid 1, partially fills bid 2 (1 of 2 lots)
    place(4, Side.BUY, 102, 1)  # partially fills the first ask at 102
    engine.cancel(orders[6].id, T0)  # account 2's partially filled bid at 100
    engine.cancel(orders[8].id, T0)  # account 2's first ask at 102, in the middle of the level
    return engine, orders


def test_restoring_open_orders_rebuilds_the_same_books():
    engine, orders = busy_engine()

    fresh = restarted(engine, orders)

    assert snapshot(fresh) == snapshot(engine)
    assert fresh.open_orders.keys() == engine.open_orders.keys()
    assert any(o.status is OrderStatus.PARTIALLY_FILLED for o in fresh.open_orders.values())


def test_a_restored_book_matches_in_the_same_priority_as_the_original():
    engine, orders = busy_engine()
    fresh = restarted(engine, orders)

    def sweep(e: MatchingEngine) -> list[tuple]:
        trades = e.place(9, "epex_at", Side.SELL, 1, 100, T0, IOC).trades
        trades += e.place(9, "epex_at", Side.BUY, 4000, 100, T0, IOC).trades
        trades += e.place(9, "epex_at", Side.SELL, 1, 100, T0, IOC, DELIVERY).trades
        return [(t.id, t.buy_order_id, t.sell_order_id, t.quantity, t.price_x2) for t in trades]

    original_trades = sweep(engine)

    assert len(original_trades) >= 10
    assert sweep(fresh) == original_trades


def test_the_next_order_id_continues_after_the_highest_restored_id():
    engine = MatchingEngine(default_markets())
    for order_id in (3, 7, 12):
        engine.restore(Order(order_id, 1, "epex_at", Side.BUY, 100, 1))

    assert engine.next_order_id == 13
    assert engine.place(2, "epex_at", Side.BUY, 90, 1, T0).order.id == 13


def test_every_restored_id_moves_the_next_id_past_it():
    engine = MatchingEngine(default_markets())

    engine.restore(Order(1, 1, "epex_at", Side.BUY, 100, 1))
    assert engine.next_order_id == 2
    engine.restore(Order(2, 2, "epex_at", Side.BUY, 100, 1))
    assert engine.next_order_id == 3

    assert engine.place(3, "epex_at", Side.BUY, 100, 1, T0).order.id == 3
    assert engine.open_orders.keys() == {1, 2, 3}


def test_a_closed_order_with_the_highest_id_also_advances_the_next_id():
    engine = MatchingEngine(default_markets())
    engine.restore(Order(4, 1, "epex_at", Side.BUY, 100, 1))
    engine.restore(Order(9, 1, "epex_at", Side.BUY, 100, 1, filled=1, status=OrderStatus.FILLED))

    assert engine.next_order_id == 10
    assert engine.open_orders.keys() == {4}


def test_closed_orders_are_not_put_back_in_the_book():
    engine = MatchingEngine(default_markets())
    for order_id, status in enumerate(
        [OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED], 1
    ):
        engine.restore(Order(order_id, 1, "epex_at", Side.SELL, 100, 1, status=status))

    assert engine.open_orders == {}
    assert all(book.is_empty() for book in engine.books.values())
    assert engine.place(2, "epex_at", Side.BUY, 100, 1, T0).trades == []


def test_a_restored_partially_filled_order_rests_only_its_remainder():
    engine = MatchingEngine(default_markets())
    order = Order(1, 1, "epex_at", Side.SELL, 100, 5, filled=2, status=OrderStatus.PARTIALLY_FILLED)

    engine.restore(order)
    result = engine.place(2, "epex_at", Side.BUY, 100, 5, T0)

    assert [t.quantity for t in result.trades] == [3]
    assert (order.status, order.filled) == (OrderStatus.FILLED, 5)


def test_restored_client_order_ids_are_still_recognised():
    engine, orders = busy_engine()
    fresh = restarted(engine, orders)
    original = next(o for o in orders if o.client_order_id == "ask-2")

    repeat = fresh.place(2, "epex_at", Side.SELL, 103, 1, T0, client_order_id="ask-2")

    assert repeat.duplicate
    assert repeat.order.id == original.id


def test_restored_product_orders_still_expire_at_gate_closure():
    engine, orders = busy_engine()
    fresh = restarted(engine, orders)

    expired = fresh.expire(DELIVERY - 300)

    assert expired
    assert {o.delivery_start for o in expired} == {DELIVERY}
    assert all(o.delivery_start is None for o in fresh.open_orders.values())


def test_trade_ids_continue_after_set_next_ids():
    engine, orders = busy_engine()
    fresh = restarted(engine, orders)

    (trade, *_) = fresh.place(9, "epex_at", Side.SELL, 1, 1, T0).trades

    assert trade.id == engine.next_trade_id
