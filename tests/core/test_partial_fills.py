"""Partial fills: a trade takes the smaller remainder; statuses follow filled and remaining."""

from phoenyra.core.orders import OrderStatus


def test_an_order_with_no_counterparty_is_accepted_with_nothing_filled(engine, buy):
    order = buy(1, 100, 5).order

    assert order.status is OrderStatus.ACCEPTED
    assert (order.filled, order.remaining) == (0, 5)
    assert engine.open_orders == {order.id: order}


def test_a_trade_takes_the_smaller_of_the_two_remainders(buy, sell):
    sell(1, 100, 3)

    result = buy(2, 100, 5)

    assert [t.quantity for t in result.trades] == [3]


def test_an_incoming_order_larger_than_the_book_is_partially_filled_and_rests(engine, buy, sell):
    resting = sell(1, 100, 3).order

    incoming = buy(2, 100, 5).order

    assert incoming.status is OrderStatus.PARTIALLY_FILLED
    assert (incoming.filled, incoming.remaining) == (3, 2)
    assert resting.status is OrderStatus.FILLED
    assert (resting.filled, resting.remaining) == (3, 0)
    assert engine.book("epex_at", None).best_bid() == 100
    assert engine.open_orders == {incoming.id: incoming}


def test_a_smaller_incoming_order_partially_fills_the_resting_order(engine, buy, sell):
    resting = sell(1, 100, 5).order

    result = buy(2, 100, 2)

    assert result.order.status is OrderStatus.FILLED
    assert resting.status is OrderStatus.PARTIALLY_FILLED
    assert (resting.filled, resting.remaining) == (2, 3)
    assert result.touched == [resting]
    assert engine.open_orders == {resting.id: resting}
    assert list(engine.book("epex_at", None).asks.depth()) == [(100, 3, 1)]


def test_an_exact_match_fills_both_orders_and_empties_the_book(engine, buy, sell):
    resting = sell(1, 100, 4).order

    incoming = buy(2, 100, 4).order

    assert resting.status is incoming.status is OrderStatus.FILLED
    assert resting.remaining == incoming.remaining == 0
    assert engine.open_orders == {}
    assert engine.book("epex_at", None).is_empty()


def test_an_order_filled_across_several_resting_orders_sums_their_quantities(buy, sell):
    sell(1, 100, 2)
    sell(2, 101, 3)
    sell(3, 102, 4)

    result = buy(4, 102, 7)

    assert [t.quantity for t in result.trades] == [2, 3, 2]
    assert result.order.filled == sum(t.quantity for t in result.trades) == 7
    assert result.order.status is OrderStatus.FILLED


def test_a_partially_filled_resting_order_becomes_filled_by_later_trades(engine, buy, sell):
    resting = sell(1, 100, 5).order
    buy(2, 100, 2)
    buy(3, 100, 2)
    assert resting.status is OrderStatus.PARTIALLY_FILLED
    assert resting.filled == 4

    buy(4, 100, 2)

    assert resting.status is OrderStatus.FILLED
    assert resting.filled == 5
    assert resting.id not in engine.open_orders


def test_a_partially_filled_incoming_order_can_be_filled_later_as_a_resting_order(buy, sell):
    sell(1, 100, 1)
    order = buy(2, 100, 3).order
    assert (order.status, order.filled) == (OrderStatus.PARTIALLY_FILLED, 1)

    result = sell(3, 100, 2)

    assert [t.buy_order_id for t in result.trades] == [order.id]
    assert (order.status, order.filled, order.remaining) == (OrderStatus.FILLED, 3, 0)


def test_fills_are_reported_on_both_sides_of_each_trade(buy, sell):
    first = sell(1, 100, 2).order
    second = sell(2, 100, 2).order

    result = buy(3, 100, 3)

    trades = result.trades
    assert [(t.buy_order_id, t.sell_order_id, t.quantity) for t in trades] == [
        (result.order.id, first.id, 2),
        (result.order.id, second.id, 1),
    ]
    assert [(t.buy_account_id, t.sell_account_id) for t in trades] == [(3, 1), (3, 2)]
    assert {o.id: o.filled for o in result.touched} == {first.id: 2, second.id: 1}
