"""Price–time priority: the best price matches first; at one price, the oldest order first."""

from phoenyra.core.orders import OrderStatus


def sell_ids(trades):
    return [t.sell_order_id for t in trades]


def buy_ids(trades):
    return [t.buy_order_id for t in trades]


def test_buy_is_matched_against_lowest_ask_first(buy, sell):
    sell(1, 103, 1)
    lowest = sell(2, 101, 1).order
    sell(3, 102, 1)

    result = buy(4, 105, 1)

    assert sell_ids(result.trades) == [lowest.id]


def test_sell_is_matched_against_highest_bid_first(buy, sell):
    buy(1, 97, 1)
    highest = buy(2, 99, 1).order
    buy(3, 98, 1)

    result = sell(4, 95, 1)

    assert buy_ids(result.trades) == [highest.id]


def test_buy_sweeps_asks_from_lowest_to_highest_price(buy, sell):
    at_103 = sell(1, 103, 1).order
    at_101 = sell(2, 101, 1).order
    at_102 = sell(3, 102, 1).order

    result = buy(4, 103, 3)

    assert sell_ids(result.trades) == [at_101.id, at_102.id, at_103.id]


def test_sell_sweeps_bids_from_highest_to_lowest_price(buy, sell):
    at_97 = buy(1, 97, 1).order
    at_99 = buy(2, 99, 1).order
    at_98 = buy(3, 98, 1).order

    result = sell(4, 97, 3)

    assert buy_ids(result.trades) == [at_99.id, at_98.id, at_97.id]


def test_at_the_same_price_the_oldest_ask_is_matched_first(buy, sell):
    first = sell(1, 100, 1).order
    second = sell(2, 100, 1).order
    third = sell(3, 100, 1).order

    assert sell_ids(buy(4, 100, 1).trades) == [first.id]
    assert sell_ids(buy(4, 100, 2).trades) == [second.id, third.id]


def test_at_the_same_price_the_oldest_bid_is_matched_first(buy, sell):
    first = buy(1, 100, 1).order
    second = buy(2, 100, 1).order
    third = buy(3, 100, 1).order

    assert buy_ids(sell(4, 100, 1).trades) == [first.id]
    assert buy_ids(sell(4, 100, 2).trades) == [second.id, third.id]


def test_a_better_price_beats_an_older_order(buy, sell):
    older_worse = sell(1, 101, 1).order
    newer_better = sell(2, 100, 1).order

    result = buy(3, 101, 1)

    assert sell_ids(result.trades) == [newer_better.id]
    assert older_worse.status is OrderStatus.ACCEPTED


def test_a_better_bid_beats_an_older_bid(buy, sell):
    buy(1, 99, 1)
    newer_better = buy(2, 100, 1).order

    result = sell(3, 99, 1)

    assert buy_ids(result.trades) == [newer_better.id]


def test_an_order_never_matches_beyond_its_limit(engine, buy, sell):
    sell(1, 101, 1)

    result = buy(2, 100, 1)

    assert result.trades == []
    book = engine.book("epex_at", None)
    assert (book.best_bid(), book.best_ask()) == (100, 101)


def test_a_sweep_stops_at_the_incoming_limit(engine, buy, sell):
    sell(1, 100, 1)
    sell(2, 101, 1)
    beyond_limit = sell(3, 102, 1).order

    result = buy(4, 101, 5)

    assert [t.quantity for t in result.trades] == [1, 1]
    assert beyond_limit.filled == 0
    book = engine.book("epex_at", None)
    assert (book.best_bid(), book.best_ask()) == (101, 102)


def test_a_partially_filled_resting_order_keeps_its_place_in_the_queue(buy, sell):
    first = sell(1, 100, 5).order
    second = sell(2, 100, 5).order
    buy(3, 100, 2)  # first now has 3 lots left

    result = buy(3, 100, 4)

    assert [(t.sell_order_id, t.quantity) for t in result.trades] == [(first.id, 3), (second.id, 1)]


def test_the_remainder_of_an_incoming_order_rests_with_time_priority_from_its_arrival(buy, sell):
    older_at_100 = buy(1, 100, 1).order
    sell(2, 101, 1)
    remainder_at_101 = buy(3, 101, 2).order  # one lot fills, the other rests at 101
    newer_at_100 = buy(4, 100, 1).order

    result = sell(5, 100, 3)

    assert buy_ids(result.trades) == [remainder_at_101.id, older_at_100.id, newer_at_100.id]
