"""Time in force: GTC rests, IOC never rests, FOK fills completely or not at all."""

import pytest

from phoenyra.core.markets import SelfTradePrevention
from phoenyra.core.orders import OrderStatus, TimeInForce

GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK


def book_state(engine):
    """Every open order's (id, side, price, filled, status), per book, in priority order."""
    return {
        product: [(o.id, o.side, o.price, o.filled, o.status) for o in book.open_orders()]
        for product, book in engine.books.items()
    }


# -- GTC -------------------------------------------------------------------------------------


def test_gtc_is_the_default(buy):
    assert buy(1, 100, 1).order.tif is GTC


def test_gtc_without_counterparty_rests_in_the_book(engine, buy):
    order = buy(1, 100, 2, tif=GTC).order

    assert order.status is OrderStatus.ACCEPTED
    assert engine.book("epex_at", None).best_bid() == 100
    assert order.id in engine.open_orders


def test_gtc_remainder_rests_after_a_partial_fill(engine, buy, sell):
    sell(1, 100, 1)

    order = buy(2, 101, 3, tif=GTC).order

    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert list(engine.book("epex_at", None).bids.depth()) == [(101, 2, 1)]


# -- IOC -------------------------------------------------------------------------------------


def test_ioc_fills_what_it_can_and_cancels_the_rest(engine, buy, sell):
    sell(1, 100, 3)

    result = buy(2, 100, 5, tif=IOC)

    assert [t.quantity for t in result.trades] == [3]
    order = result.order
    assert order.status is OrderStatus.CANCELLED
    assert (order.filled, order.remaining) == (3, 2)
    assert order.id not in engine.open_orders
    assert engine.book("epex_at", None).best_bid() is None


def test_ioc_without_counterparty_is_cancelled_and_never_rests(engine, buy, sell):
    sell(1, 101, 3)

    order = buy(2, 100, 5, tif=IOC).order

    assert order.status is OrderStatus.CANCELLED
    assert order.filled == 0
    assert engine.open_orders.keys() == {1}
    assert engine.book("epex_at", None).best_bid() is None


def test_ioc_remainder_is_not_matched_by_a_later_order(engine, buy, sell):
    sell(1, 100, 1)
    ioc = buy(2, 100, 3, tif=IOC).order

    later = sell(3, 100, 1)

    assert later.trades == []
    assert ioc.filled == 1
    assert engine.book("epex_at", None).best_ask() == 100


def test_ioc_that_fills_completely_is_filled(buy, sell):
    sell(1, 100, 3)

    order = buy(2, 100, 3, tif=IOC).order

    assert order.status is OrderStatus.FILLED


def test_a_sell_ioc_fills_what_it_can_and_cancels_the_rest(engine, buy, sell):
    buy(1, 100, 1)
    buy(2, 99, 1)

    result = sell(3, 100, 4, tif=IOC)

    assert [t.buy_order_id for t in result.trades] == [1]
    assert (result.order.status, result.order.filled) == (OrderStatus.CANCELLED, 1)
    assert engine.book("epex_at", None).best_ask() is None
    assert engine.book("epex_at", None).best_bid() == 99


# -- FOK -------------------------------------------------------------------------------------


def test_fok_fills_completely_when_enough_quantity_is_within_its_limit(engine, buy, sell):
    sell(1, 100, 2)
    sell(2, 101, 3)

    result = buy(3, 101, 5, tif=FOK)

    assert [t.quantity for t in result.trades] == [2, 3]
    assert result.order.status is OrderStatus.FILLED
    assert engine.open_orders == {}


def test_fok_that_cannot_fill_completely_trades_nothing_and_changes_nothing(engine, buy, sell):
    sell(1, 100, 2)
    sell(2, 100, 1)
    sell(3, 102, 3)  # beyond the FOK limit: must not count
    before = book_state(engine)
    open_before = dict(engine.open_orders)
    next_trade_id = engine.next_trade_id

    result = buy(4, 101, 5, tif=FOK)

    assert result.trades == []
    assert result.touched == []
    assert result.order.status is OrderStatus.CANCELLED
    assert result.order.filled == 0
    assert book_state(engine) == before
    assert engine.open_orders == open_before
    assert engine.next_trade_id == next_trade_id


def test_a_sell_fok_that_cannot_fill_completely_changes_nothing(engine, buy, sell):
    buy(1, 100, 4)
    before = book_state(engine)

    result = sell(2, 100, 5, tif=FOK)

    assert (result.trades, result.order.status) == ([], OrderStatus.CANCELLED)
    assert book_state(engine) == before


def test_fok_for_exactly_the_available_quantity_fills(buy, sell):
    sell(1, 100, 2)
    sell(2, 100, 3)

    result = buy(3, 100, 5, tif=FOK)

    assert result.order.status is OrderStatus.FILLED
    assert sum(t.quantity for t in result.trades) == 5


def test_fok_never_rests(engine, buy):
    order = buy(1, 100, 5, tif=FOK).order

    assert order.status is OrderStatus.CANCELLED
    assert engine.open_orders == {}
    assert engine.book("epex_at", None).best_bid() is None


def test_fok_does_not_count_cancelled_orders(engine, buy, sell):
    cancelled = sell(1, 100, 3).order
    sell(2, 100, 2)
    engine.cancel(cancelled.id, 0.0)

    result = buy(3, 100, 5, tif=FOK)

    assert result.trades == []
    assert result.order.status is OrderStatus.CANCELLED


# -- FOK and self-trade prevention ------------------------------------------------------------


def test_fok_does_not_count_own_resting_orders_under_cancel_resting(engine, buy, sell):
    own = sell(1, 100, 3).order
    sell(2, 100, 2)
    before = book_state(engine)

    result = buy(1, 100, 5, tif=FOK)

    assert result.trades == []
    assert result.order.status is OrderStatus.CANCELLED
    # no fill, so no side effect either: the own resting order is not cancelled
    assert own.status is OrderStatus.ACCEPTED
    assert book_state(engine) == before


def test_fok_under_cancel_resting_fills_from_others_and_cancels_own_orders_in_the_way(
    engine, buy, sell
):
    own = sell(1, 100, 3).order
    other = sell(2, 101, 5).order

    result = buy(1, 101, 5, tif=FOK)

    assert [(t.sell_order_id, t.quantity) for t in result.trades] == [(other.id, 5)]
    assert result.order.status is OrderStatus.FILLED
    assert own.status is OrderStatus.CANCELLED
    assert engine.open_orders == {}


@pytest.mark.parametrize(
    "epex_at",
    [
        {"self_trade": SelfTradePrevention.CANCEL_INCOMING},
        {"self_trade": SelfTradePrevention.CANCEL_BOTH},
    ],
    ids=["cancel_incoming", "cancel_both"],
)
def test_fok_fails_when_an_own_order_comes_before_enough_quantity(engine, buy, sell):
    own = sell(1, 100, 1).order
    sell(2, 100, 5)
    before = book_state(engine)

    result = buy(1, 100, 5, tif=FOK)

    assert result.trades == []
    assert result.touched == []
    assert result.order.status is OrderStatus.CANCELLED
    assert own.status is OrderStatus.ACCEPTED  # not cancelled: the FOK had no effect at all
    assert book_state(engine) == before


@pytest.mark.parametrize(
    "epex_at",
    [
        {"self_trade": SelfTradePrevention.CANCEL_INCOMING},
        {"self_trade": SelfTradePrevention.CANCEL_BOTH},
    ],
    ids=["cancel_incoming", "cancel_both"],
)
def test_fok_fills_when_others_cover_it_before_an_own_order_is_reached(engine, buy, sell):
    other = sell(2, 100, 5).order
    own = sell(1, 101, 1).order

    result = buy(1, 101, 5, tif=FOK)

    assert [t.sell_order_id for t in result.trades] == [other.id]
    assert result.order.status is OrderStatus.FILLED
    assert own.status is OrderStatus.ACCEPTED
    assert engine.open_orders == {own.id: own}
