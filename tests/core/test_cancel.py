"""Cancelling: a cancelled order leaves matching at once; only open orders can be cancelled."""

import pytest

from phoenyra.core.errors import Reject
from phoenyra.core.orders import OrderStatus, TimeInForce

LATER = 1_700_000_200.0


def test_cancel_returns_the_order_cancelled_and_removes_it_from_open_orders(engine, buy):
    order = buy(1, 100, 2).order

    cancelled = engine.cancel(order.id, LATER)

    assert cancelled is order
    assert order.status is OrderStatus.CANCELLED
    assert order.updated_at == LATER
    assert engine.open_orders == {}


def test_a_cancelled_order_is_not_matched(engine, buy, sell):
    ask = sell(1, 100, 2).order
    engine.cancel(ask.id, LATER)

    result = buy(2, 100, 2)

    assert result.trades == []
    assert result.order.status is OrderStatus.ACCEPTED
    assert ask.filled == 0


def test_cancelling_a_partially_filled_order_keeps_its_fill_and_frees_the_rest(engine, buy, sell):
    ask = sell(1, 100, 5).order
    buy(2, 100, 2)

    engine.cancel(ask.id, LATER)

    assert (ask.status, ask.filled) == (OrderStatus.CANCELLED, 2)
    assert engine.book("epex_at", None).is_empty()


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK])
def test_cancelling_an_order_that_never_rested_is_refused(engine, buy, tif):
    order = buy(1, 100, 1, tif=tif).order

    with pytest.raises(Reject) as refused:
        engine.cancel(order.id, LATER)

    assert refused.value.code == "ORDER_NOT_OPEN"


def test_cancelling_a_filled_order_is_refused_with_order_not_open(engine, buy, sell):
    ask = sell(1, 100, 1).order
    buy(2, 100, 1)

    with pytest.raises(Reject) as refused:
        engine.cancel(ask.id, LATER)

    assert refused.value.code == "ORDER_NOT_OPEN"
    assert refused.value.status == 409
    assert ask.status is OrderStatus.FILLED


def test_cancelling_twice_is_refused_and_keeps_the_first_cancel(engine, buy):
    order = buy(1, 100, 1).order
    engine.cancel(order.id, LATER)

    with pytest.raises(Reject) as refused:
        engine.cancel(order.id, LATER + 1)

    assert refused.value.code == "ORDER_NOT_OPEN"
    assert (order.status, order.updated_at) == (OrderStatus.CANCELLED, LATER)


def test_cancelling_an_unknown_order_is_refused(engine):
    with pytest.raises(Reject) as refused:
        engine.cancel(42, LATER)

    assert refused.value.code == "ORDER_NOT_OPEN"


def test_best_ask_moves_to_the_next_level_when_the_best_is_cancelled(engine, sell):
    best = sell(1, 100, 1).order
    sell(2, 101, 1)

    engine.cancel(best.id, LATER)

    assert engine.book("epex_at", None).best_ask() == 101


def test_best_bid_moves_to_the_next_level_when_the_best_is_cancelled(engine, buy):
    best = buy(1, 100, 1).order
    buy(2, 99, 1)

    engine.cancel(best.id, LATER)

    assert engine.book("epex_at", None).best_bid() == 99


def test_best_price_stays_while_another_order_rests_at_it(engine, sell):
    first = sell(1, 100, 1).order
    sell(2, 100, 1)

    engine.cancel(first.id, LATER)

    assert engine.book("epex_at", None).best_ask() == 100


def test_best_price_is_none_once_the_only_order_is_cancelled(engine, buy, sell):
    bid = buy(1, 99, 1).order
    ask = sell(2, 101, 1).order

    engine.cancel(bid.id, LATER)
    engine.cancel(ask.id, LATER)

    book = engine.book("epex_at", None)
    assert (book.best_bid(), book.best_ask()) == (None, None)
    assert book.is_empty()


def test_a_cancelled_order_in_the_middle_of_a_level_is_skipped(engine, buy, sell):
    first = sell(1, 100, 1).order
    middle = sell(2, 100, 1).order
    last = sell(3, 100, 1).order
    engine.cancel(middle.id, LATER)

    result = buy(4, 100, 3)

    assert [t.sell_order_id for t in result.trades] == [first.id, last.id]
    assert (result.order.status, result.order.remaining) == (OrderStatus.PARTIALLY_FILLED, 1)
    assert middle.filled == 0


def test_a_cancelled_order_at_the_front_of_a_level_is_skipped(engine, buy, sell):
    front = sell(1, 100, 1).order
    behind = sell(2, 100, 1).order
    engine.cancel(front.id, LATER)

    result = buy(3, 100, 1)

    assert [t.sell_order_id for t in result.trades] == [behind.id]


def test_depth_counts_only_open_orders_after_a_cancel(engine, sell):
    sell(1, 100, 2)
    middle = sell(2, 100, 3).order
    sell(3, 100, 4)

    engine.cancel(middle.id, LATER)

    assert list(engine.book("epex_at", None).asks.depth()) == [(100, 6, 2)]


def test_a_new_order_at_a_cancelled_price_rests_and_matches_normally(engine, buy, sell):
    old = sell(1, 100, 1).order
    engine.cancel(old.id, LATER)
    new = sell(2, 100, 1).order

    result = buy(3, 100, 1)

    assert [t.sell_order_id for t in result.trades] == [new.id]
    assert engine.book("epex_at", None).is_empty()


# -- lazy deletion stays bounded ---------------------------------------------------------------


@pytest.mark.parametrize("side", ["bids", "asks"])
def test_quoting_and_cancelling_behind_the_best_price_keeps_the_book_small(engine, buy, sell, side):
    place, best, behind = (buy, 100, 90) if side == "bids" else (sell, 100, 110)
    place(1, best, 1)  # the best price never trades, so its level never empties
    for n in range(5_000):
        quote = place(2, behind + n % 3, 1).order
        engine.cancel(quote.id, LATER)

    book_side = getattr(engine.book("epex_at", None), side)
    assert list(book_side.levels) == [best]
    assert len(book_side.heap) < 100  # stale prices are dropped, not piled up


def test_cancelling_behind_a_front_order_that_never_trades_keeps_the_level_small(engine, sell):
    sell(1, 105, 1)
    for _ in range(5_000):
        engine.cancel(sell(2, 105, 1).order.id, LATER)

    level = engine.book("epex_at", None).asks.levels[105]
    assert len(level.orders) < 200
    assert level.lots == 1


def test_priority_survives_the_clean_up_of_many_cancelled_orders(engine, buy, sell):
    front = sell(1, 105, 3).order
    buy(9, 105, 1)  # the front order is now partially filled
    kept = []
    for n in range(1_000):
        order = sell(2 + n % 2, 105, 1).order
        if n % 97 == 0:
            kept.append(order)
        else:
            engine.cancel(order.id, LATER)
    asks = engine.book("epex_at", None).asks
    assert list(asks.depth()) == [(105, 2 + len(kept), 1 + len(kept))]

    result = buy(9, 105, len(kept) + 2)

    fills = [(t.sell_order_id, t.quantity) for t in result.trades]
    assert fills == [(front.id, 2)] + [(o.id, 1) for o in kept]
    assert asks.best() is None


@pytest.mark.parametrize("side", ["bids", "asks"])
def test_best_price_survives_the_clean_up_of_many_emptied_levels(engine, buy, sell, side):
    place, sweep, sign = (buy, sell, -1) if side == "bids" else (sell, buy, 1)
    live = {}
    for n in range(2_000):
        price = 100 + sign * (n * 7 % 50)
        order = place(1, price, 1).order
        if n % 13 == 0:
            live[order.id] = price
        else:
            engine.cancel(order.id, LATER)

    book = engine.book("epex_at", None)
    best = book.best_bid() if side == "bids" else book.best_ask()
    assert best == (max if side == "bids" else min)(live.values())
    trades = sweep(2, 100 + sign * 100, len(live)).trades
    expected = sorted(live.items(), key=lambda item: (sign * item[1], item[0]))
    resting_ids = [t.buy_order_id if side == "bids" else t.sell_order_id for t in trades]
    assert resting_ids == [order_id for order_id, _ in expected]
