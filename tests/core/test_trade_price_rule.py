"""The trade price: by default the average of the two limits; with PriceRule.MAKER the resting
order's price. ``Trade.price_x2`` is twice the price in ticks, so a half tick stays an integer."""

import pytest

from phoenyra.core.markets import PriceRule, default_markets
from phoenyra.core.orders import Side

MAKER = pytest.mark.parametrize("epex_at", [{"price_rule": PriceRule.MAKER}], ids=["maker"])


def test_the_default_price_rule_is_the_average():
    assert all(spec.price_rule is PriceRule.AVERAGE for spec in default_markets().values())


def test_default_trade_price_is_the_average_of_the_two_limits(buy, sell):
    sell(1, 100, 1)

    (trade,) = buy(2, 104, 1).trades

    assert trade.price_x2 == 204  # 102 ticks


def test_the_average_is_the_same_when_the_seller_is_the_aggressor(buy, sell):
    buy(1, 104, 1)

    (trade,) = sell(2, 100, 1).trades

    assert trade.price_x2 == 204


def test_the_average_may_fall_on_a_half_tick(engine, buy, sell):
    sell(1, 100, 1)

    (trade,) = buy(2, 101, 1).trades

    assert trade.price_x2 == 201
    assert trade.price_x2 % 2 == 1
    assert engine.markets["epex_at"].x2_to_price(trade.price_x2) == 1.005  # EUR/MWh


def test_the_average_uses_the_incoming_limit_at_every_level_it_sweeps(buy, sell):
    sell(1, 100, 1)
    sell(2, 102, 1)

    trades = buy(3, 104, 2).trades

    assert [t.price_x2 for t in trades] == [204, 206]


def test_the_average_of_negative_limits_is_negative(buy, sell):
    sell(1, -10, 1)

    (trade,) = buy(2, -5, 1).trades

    assert trade.price_x2 == -15


def test_a_trade_at_equal_limits_is_at_that_limit(buy, sell):
    sell(1, 100, 1)

    (trade,) = buy(2, 100, 1).trades

    assert trade.price_x2 == 200


@MAKER
def test_maker_rule_prices_a_buy_aggressor_at_the_resting_ask(buy, sell):
    sell(1, 100, 1)

    (trade,) = buy(2, 104, 1).trades

    assert trade.price_x2 == 200


@MAKER
def test_maker_rule_prices_a_sell_aggressor_at_the_resting_bid(buy, sell):
    buy(1, 104, 1)

    (trade,) = sell(2, 100, 1).trades

    assert trade.price_x2 == 208


@MAKER
def test_maker_rule_prices_each_swept_level_at_its_own_price(buy, sell):
    sell(1, 100, 1)
    sell(2, 101, 1)
    sell(3, 103, 1)

    trades = buy(4, 105, 3).trades

    assert [t.price_x2 for t in trades] == [200, 202, 206]
    assert all(t.price_x2 % 2 == 0 for t in trades)


@MAKER
def test_the_price_rule_is_per_market(engine):
    engine.place(1, "epex_de", Side.SELL, 100, 1, 0.0)
    engine.place(1, "epex_at", Side.SELL, 100, 1, 0.0)

    (de_trade,) = engine.place(2, "epex_de", Side.BUY, 104, 1, 0.0).trades
    (at_trade,) = engine.place(2, "epex_at", Side.BUY, 104, 1, 0.0).trades

    assert (de_trade.price_x2, at_trade.price_x2) == (204, 200)
