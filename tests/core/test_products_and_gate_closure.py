"""Delivery products: each quarter-hour has its own book, which closes at gate closure
(by default 300 s before delivery starts); the continuous book has no delivery_start."""

import pytest

from phoenyra.core.errors import Reject
from phoenyra.core.markets import iso_utc
from phoenyra.core.orders import OrderStatus, Side

T0 = 1_700_000_100  # a quarter-hour boundary
D1 = T0 + 3600  # delivery products an hour ahead
D2 = D1 + 900
GATE = 300  # the default gate closure, seconds before delivery


def place(engine, account, side, price, qty, now=T0, delivery_start=None, market="epex_at"):
    return engine.place(account, market, side, price, qty, now, delivery_start=delivery_start)


def refusal(engine, **kwargs) -> Reject:
    next_id = engine.next_order_id
    books = set(engine.books)
    with pytest.raises(Reject) as refused:
        place(engine, 1, Side.BUY, 100, 1, **kwargs)
    # a refused order changes nothing: no id is used and no book appears
    assert engine.next_order_id == next_id
    assert set(engine.books) == books
    assert engine.open_orders == {}
    return refused.value


# -- one book per product ---------------------------------------------------------------------


def test_orders_for_the_same_product_match(engine):
    place(engine, 1, Side.SELL, 100, 1, delivery_start=D1)

    result = place(engine, 2, Side.BUY, 100, 1, delivery_start=D1)

    assert len(result.trades) == 1
    assert result.trades[0].delivery_start == D1


def test_orders_for_different_delivery_products_never_match(engine):
    place(engine, 1, Side.SELL, 100, 1, delivery_start=D1)

    result = place(engine, 2, Side.BUY, 105, 1, delivery_start=D2)

    assert result.trades == []
    assert engine.book("epex_at", D1).best_ask() == 100
    assert engine.book("epex_at", D2).best_bid() == 105


@pytest.mark.parametrize(
    ("resting_delivery", "incoming_delivery"), [(None, D1), (D1, None)], ids=["into", "from"]
)
def test_product_orders_never_match_the_continuous_book(
    engine, resting_delivery, incoming_delivery
):
    place(engine, 1, Side.SELL, 100, 1, delivery_start=resting_delivery)

    result = place(engine, 2, Side.BUY, 105, 1, delivery_start=incoming_delivery)

    assert result.trades == []
    assert engine.book("epex_at", resting_delivery).best_ask() == 100
    assert engine.book("epex_at", incoming_delivery).best_bid() == 105


def test_the_same_delivery_in_another_market_is_another_book(engine):
    place(engine, 1, Side.SELL, 100, 1, delivery_start=D1, market="epex_de")

    result = place(engine, 2, Side.BUY, 105, 1, delivery_start=D1, market="epex_at")

    assert result.trades == []
    assert set(engine.books) == {("epex_de", D1), ("epex_at", D1)}


def test_an_order_remembers_its_product(engine):
    order = place(engine, 1, Side.SELL, 100, 1, delivery_start=D2).order

    assert order.product == ("epex_at", D2)
    assert order.delivery_start == D2


# -- refused delivery starts ------------------------------------------------------------------


@pytest.mark.parametrize("offset", [1, 60, 450, 899])
def test_a_delivery_start_not_on_a_quarter_hour_is_refused(engine, offset):
    refused = refusal(engine, delivery_start=D1 + offset)

    assert refused.code == "INVALID_DELIVERY"


@pytest.mark.parametrize("delivery_start", [T0 - 900, T0 - 86_400, T0])
def test_a_delivery_start_in_the_past_is_refused(engine, delivery_start):
    refused = refusal(engine, delivery_start=delivery_start, now=T0)

    assert refused.code == "INVALID_DELIVERY"


@pytest.mark.parametrize("before_delivery", [GATE, GATE - 1, 1])
def test_an_order_within_gate_closure_is_refused_with_market_closed(engine, before_delivery):
    refused = refusal(engine, delivery_start=D1, now=D1 - before_delivery)

    assert refused.code == "MARKET_CLOSED"
    assert refused.status == 409
    # The sentence names the product by its time, not by the field's name.
    assert iso_utc(D1) in refused.message and "delivery_start" not in refused.message


def test_an_order_just_before_gate_closure_is_accepted(engine):
    order = place(engine, 1, Side.BUY, 100, 1, delivery_start=D1, now=D1 - GATE - 1).order

    assert order.status is OrderStatus.ACCEPTED


@pytest.mark.parametrize("epex_at", [{"gate_closure_s": 3600}], ids=["gate_1h"])
def test_gate_closure_follows_the_market_spec(engine):
    assert engine.markets["epex_de"].gate_closure_s == GATE
    refused = refusal(engine, delivery_start=D1, now=D1 - 1800)
    accepted = place(engine, 1, Side.BUY, 100, 1, delivery_start=D1, now=D1 - 3601).order

    assert refused.code == "MARKET_CLOSED"
    assert accepted.status is OrderStatus.ACCEPTED


# -- expiry at gate closure -------------------------------------------------------------------


def test_expire_expires_the_open_orders_of_closed_products_only(engine):
    closing_bid = place(engine, 1, Side.BUY, 99, 2, delivery_start=D1).order
    closing_ask = place(engine, 2, Side.SELL, 101, 2, delivery_start=D1).order
    later_product = place(engine, 1, Side.BUY, 99, 2, delivery_start=D2).order
    continuous = place(engine, 1, Side.BUY, 99, 2).order

    expired = engine.expire(D1 - GATE)

    assert {o.id for o in expired} == {closing_bid.id, closing_ask.id}
    assert closing_bid.status is closing_ask.status is OrderStatus.EXPIRED
    assert closing_bid.updated_at == D1 - GATE
    assert engine.open_orders.keys() == {later_product.id, continuous.id}
    assert later_product.status is continuous.status is OrderStatus.ACCEPTED
    assert engine.book("epex_at", D2).best_bid() == 99


def test_expire_closes_the_product_in_every_market_whose_gate_has_passed(engine):
    at = place(engine, 1, Side.BUY, 99, 2, delivery_start=D1).order
    de = place(engine, 1, Side.BUY, 99, 2, delivery_start=D1, market="epex_de").order

    expired = engine.expire(D1 - GATE + 1)

    assert {o.id for o in expired} == {at.id, de.id}


def test_expire_before_gate_closure_expires_nothing(engine):
    order = place(engine, 1, Side.BUY, 99, 2, delivery_start=D1).order

    assert engine.expire(D1 - GATE - 1) == []
    assert order.status is OrderStatus.ACCEPTED
    assert engine.open_orders == {order.id: order}


def test_expire_keeps_the_fill_of_a_partially_filled_order(engine):
    bid = place(engine, 1, Side.BUY, 100, 5, delivery_start=D1).order
    place(engine, 2, Side.SELL, 100, 2, delivery_start=D1)

    engine.expire(D1)

    assert (bid.status, bid.filled, bid.remaining) == (OrderStatus.EXPIRED, 2, 3)


def test_expire_leaves_filled_and_cancelled_orders_as_they_were(engine):
    filled = place(engine, 1, Side.BUY, 100, 1, delivery_start=D1).order
    place(engine, 2, Side.SELL, 100, 1, delivery_start=D1)
    cancelled = place(engine, 1, Side.BUY, 90, 1, delivery_start=D1).order
    engine.cancel(cancelled.id, T0)

    expired = engine.expire(D1)

    assert expired == []
    assert filled.status is OrderStatus.FILLED
    assert (cancelled.status, cancelled.updated_at) == (OrderStatus.CANCELLED, T0)


def test_an_expired_order_is_expired_once_and_cannot_be_cancelled(engine):
    order = place(engine, 1, Side.BUY, 99, 2, delivery_start=D1).order
    engine.expire(D1 - GATE)

    assert engine.expire(D1 + 3600) == []
    with pytest.raises(Reject) as refused:
        engine.cancel(order.id, D1)
    assert refused.value.code == "ORDER_NOT_OPEN"
    assert order.status is OrderStatus.EXPIRED


def test_orders_of_a_closed_product_are_not_refused_by_other_products(engine):
    place(engine, 1, Side.BUY, 99, 2, delivery_start=D1)
    engine.expire(D1 - GATE)

    order = place(engine, 1, Side.BUY, 99, 2, delivery_start=D2, now=D1 - GATE).order

    assert order.status is OrderStatus.ACCEPTED
    assert engine.book("epex_at", D2).best_bid() == 99


@pytest.mark.parametrize("epex_at", [{"gate_closure_s": 3600}], ids=["gate_1h"])
def test_expiry_follows_each_markets_own_gate_closure(engine):
    at = place(engine, 1, Side.BUY, 99, 2, delivery_start=D1, now=T0 - 60).order
    de = place(engine, 1, Side.BUY, 99, 2, delivery_start=D1, now=T0 - 60, market="epex_de").order

    expired = engine.expire(D1 - 3600)

    assert [o.id for o in expired] == [at.id]
    assert de.status is OrderStatus.ACCEPTED
