"""Idempotent placement: a client_order_id repeated by the same account returns the original
order and does nothing else; client ids are scoped per account."""

import pytest

from phoenyra.core.errors import Reject
from phoenyra.core.orders import OrderStatus, Side, TimeInForce

T0 = 1_700_000_100
DELIVERY = T0 + 3600


def test_a_repeated_client_order_id_returns_the_original_order(engine, buy):
    original = buy(1, 100, 2, client_order_id="abc")
    next_id = engine.next_order_id

    repeat = buy(1, 100, 2, client_order_id="abc")

    assert repeat.duplicate is True
    assert original.duplicate is False
    assert repeat.order is original.order
    assert repeat.trades == []
    assert repeat.touched == []
    assert engine.next_order_id == next_id
    assert engine.open_orders == {original.order.id: original.order}
    assert list(engine.book("epex_at", None).bids.depth()) == [(100, 2, 1)]


def test_a_repeat_with_different_terms_still_returns_the_original(engine, buy):
    original = buy(1, 100, 2, client_order_id="abc").order

    repeat = engine.place(1, "epex_de", Side.SELL, 90, 7, 0.0, client_order_id="abc")

    assert repeat.duplicate
    assert repeat.order is original
    assert ("epex_de", None) not in engine.books


def test_a_repeat_of_an_order_that_traded_does_not_trade_again(engine, buy, sell):
    bid = buy(2, 100, 5).order
    original = sell(1, 100, 2, client_order_id="x")
    assert len(original.trades) == 1

    repeat = sell(1, 100, 2, client_order_id="x")

    assert repeat.duplicate
    assert repeat.trades == []
    assert (bid.filled, bid.remaining) == (2, 3)
    assert engine.next_trade_id == 2


def test_a_repeat_returns_the_original_even_after_it_was_cancelled(engine, buy):
    original = buy(1, 100, 2, client_order_id="abc").order
    engine.cancel(original.id, 0.0)

    repeat = buy(1, 100, 2, client_order_id="abc")

    assert repeat.duplicate
    assert repeat.order.status is OrderStatus.CANCELLED
    assert engine.open_orders == {}


def test_a_repeat_of_an_ioc_returns_the_cancelled_original(engine, buy, sell):
    sell(2, 100, 1)
    original = buy(1, 100, 3, tif=TimeInForce.IOC, client_order_id="ioc").order

    repeat = buy(1, 100, 3, tif=TimeInForce.IOC, client_order_id="ioc")

    assert repeat.duplicate
    assert repeat.order is original
    assert (original.status, original.filled) == (OrderStatus.CANCELLED, 1)


def test_the_same_client_order_id_from_another_account_is_a_new_order(engine, buy, sell):
    first = sell(1, 100, 2, client_order_id="abc")

    second = buy(2, 100, 2, client_order_id="abc")

    assert second.duplicate is False
    assert second.order.id != first.order.id
    assert second.order.account_id == 2
    assert [t.sell_order_id for t in second.trades] == [first.order.id]
    assert engine.find_client_order(1, "abc") is first.order
    assert engine.find_client_order(2, "abc") is second.order


def test_orders_without_a_client_order_id_are_never_duplicates(engine, buy):
    first = buy(1, 100, 1)
    second = buy(1, 100, 1)

    assert not first.duplicate and not second.duplicate
    assert first.order.id != second.order.id
    assert len(engine.open_orders) == 2


def test_different_client_order_ids_of_one_account_are_different_orders(buy):
    first = buy(1, 100, 1, client_order_id="a").order
    second = buy(1, 100, 1, client_order_id="b").order

    assert first is not second


def test_a_refused_placement_does_not_reserve_its_client_order_id(engine):
    with pytest.raises(Reject):
        engine.place(
            1, "epex_at", Side.BUY, 100, 1, DELIVERY - 60, delivery_start=DELIVERY,
            client_order_id="late",
        )  # fmt: skip
    assert engine.find_client_order(1, "late") is None

    result = engine.place(
        1, "epex_at", Side.BUY, 100, 1, T0, delivery_start=DELIVERY, client_order_id="late"
    )

    assert result.duplicate is False
    assert result.order.status is OrderStatus.ACCEPTED


def test_an_order_rejected_by_a_risk_rule_leaves_its_client_order_id_free(engine, buy):
    rejected = engine.reject(1, "epex_at", Side.BUY, 100, 1, 0.0, "SOC_LIMIT", client_order_id="r")
    assert (rejected.status, rejected.reject_code) == (OrderStatus.REJECTED, "SOC_LIMIT")
    assert engine.find_client_order(1, "r") is None

    retry = buy(1, 100, 1, client_order_id="r")  # judged afresh once the battery allows it

    assert not retry.duplicate and retry.order is not rejected
    assert retry.order.status is OrderStatus.ACCEPTED
    assert buy(1, 100, 1, client_order_id="r").order is retry.order  # now the id is taken
