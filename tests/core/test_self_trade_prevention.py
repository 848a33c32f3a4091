"""Self-trade prevention: an account never trades with itself. The market's mode decides what is
cancelled when an incoming order meets a resting order of the same account."""

import pytest

from phoenyra.core.markets import SelfTradePrevention, default_markets
from phoenyra.core.orders import OrderStatus, TimeInForce

CANCEL_RESTING = SelfTradePrevention.CANCEL_RESTING
CANCEL_INCOMING = SelfTradePrevention.CANCEL_INCOMING
CANCEL_BOTH = SelfTradePrevention.CANCEL_BOTH


def stp(mode: SelfTradePrevention):
    return pytest.mark.parametrize("epex_at", [{"self_trade": mode}], ids=[mode.value])


def test_the_default_mode_is_cancel_resting():
    assert all(spec.self_trade is CANCEL_RESTING for spec in default_markets().values())


# -- CANCEL_RESTING (default) ----------------------------------------------------------------


def test_cancel_resting_cancels_the_own_resting_order_and_matches_the_others(engine, buy, sell):
    own = sell(1, 100, 2).order
    other = sell(2, 100, 2).order

    result = buy(1, 100, 2)

    assert [(t.sell_order_id, t.quantity) for t in result.trades] == [(other.id, 2)]
    assert own.status is OrderStatus.CANCELLED
    assert own in result.touched
    assert result.order.status is OrderStatus.FILLED
    assert engine.open_orders == {}


def test_cancel_resting_cancels_own_orders_at_several_levels_on_the_way(engine, buy, sell):
    own_at_100 = sell(1, 100, 1).order
    own_at_101 = sell(1, 101, 1).order
    other = sell(2, 102, 1).order

    result = buy(1, 102, 1)

    assert [t.sell_order_id for t in result.trades] == [other.id]
    assert own_at_100.status is own_at_101.status is OrderStatus.CANCELLED
    assert engine.book("epex_at", None).is_empty()


def test_cancel_resting_lets_the_incoming_order_rest_when_only_own_orders_cross(engine, buy, sell):
    own = sell(1, 100, 2).order

    result = buy(1, 100, 3)

    assert result.trades == []
    assert own.status is OrderStatus.CANCELLED
    assert result.order.status is OrderStatus.ACCEPTED
    book = engine.book("epex_at", None)
    assert (book.best_bid(), book.best_ask()) == (100, None)
    assert engine.open_orders == {result.order.id: result.order}


def test_cancel_resting_applies_to_a_sell_aggressor(buy, sell):
    own = buy(1, 100, 1).order
    other = buy(2, 100, 1).order

    result = sell(1, 100, 1)

    assert [t.buy_order_id for t in result.trades] == [other.id]
    assert own.status is OrderStatus.CANCELLED


def test_cancel_resting_leaves_own_orders_that_are_not_reached(buy, sell):
    sell(2, 100, 1)
    own_beyond = sell(1, 101, 1).order

    buy(1, 100, 1)

    assert own_beyond.status is OrderStatus.ACCEPTED


# -- CANCEL_INCOMING --------------------------------------------------------------------------


@stp(CANCEL_INCOMING)
def test_cancel_incoming_cancels_the_incoming_order_and_keeps_the_resting_one(engine, buy, sell):
    own = sell(1, 100, 3).order
    other = sell(2, 100, 3).order

    result = buy(1, 100, 5)

    assert result.trades == []
    assert result.touched == []
    assert result.order.status is OrderStatus.CANCELLED
    assert own.status is other.status is OrderStatus.ACCEPTED
    assert engine.open_orders.keys() == {own.id, other.id}
    assert engine.book("epex_at", None).best_bid() is None  # a stopped GTC does not rest


@stp(CANCEL_INCOMING)
def test_cancel_incoming_keeps_the_fills_made_before_the_own_order(engine, buy, sell):
    other = sell(2, 100, 2).order
    own = sell(1, 101, 3).order

    result = buy(1, 101, 5)

    assert [(t.sell_order_id, t.quantity) for t in result.trades] == [(other.id, 2)]
    assert (result.order.status, result.order.filled) == (OrderStatus.CANCELLED, 2)
    assert own.status is OrderStatus.ACCEPTED
    assert engine.open_orders == {own.id: own}


@stp(CANCEL_INCOMING)
def test_cancel_incoming_applies_to_a_sell_aggressor(buy, sell):
    own = buy(1, 100, 1).order

    result = sell(1, 100, 1)

    assert result.trades == []
    assert result.order.status is OrderStatus.CANCELLED
    assert own.status is OrderStatus.ACCEPTED


# -- CANCEL_BOTH ------------------------------------------------------------------------------


@stp(CANCEL_BOTH)
def test_cancel_both_cancels_the_incoming_and_the_resting_order(engine, buy, sell):
    own = sell(1, 100, 2).order
    other = sell(2, 100, 2).order

    result = buy(1, 100, 2)

    assert result.trades == []
    assert result.order.status is OrderStatus.CANCELLED
    assert own.status is OrderStatus.CANCELLED
    assert result.touched == [own]
    assert other.status is OrderStatus.ACCEPTED
    assert engine.open_orders == {other.id: other}
    assert list(engine.book("epex_at", None).asks.depth()) == [(100, 2, 1)]


@stp(CANCEL_BOTH)
def test_cancel_both_keeps_the_fills_made_before_the_own_order(engine, buy, sell):
    other = sell(2, 100, 2).order
    own = sell(1, 101, 3).order

    result = buy(1, 101, 5)

    assert [(t.sell_order_id, t.quantity) for t in result.trades] == [(other.id, 2)]
    assert (result.order.status, result.order.filled) == (OrderStatus.CANCELLED, 2)
    assert own.status is OrderStatus.CANCELLED
    assert engine.open_orders == {}


# -- every mode -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "epex_at",
    [{"self_trade": mode} for mode in SelfTradePrevention],
    ids=[mode.value for mode in SelfTradePrevention],
)
@pytest.mark.parametrize("tif", list(TimeInForce))
def test_no_mode_ever_trades_an_account_with_itself(engine, buy, sell, tif):
    # Two accounts interleave resting orders on both sides at the same few prices, then both
    # send aggressive orders with the time in force under test.
    trades = []
    for step in range(24):
        account = 1 + step % 2
        place = buy if step % 3 else sell
        trades += place(account, 100 + step % 3, 1 + step % 4).trades
    for step in range(12):
        trades += sell(1 + step % 2, 99, 2, tif=tif).trades
        trades += buy(1 + (step + 1) % 2, 102, 2, tif=tif).trades

    assert trades, "the scenario must produce trades to say anything"
    assert all(t.buy_account_id != t.sell_account_id for t in trades)
