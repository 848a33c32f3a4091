"""MarketSpec converts the wire's EUR/MWh and MWh to ticks and lots, refusing anything off the
grid or out of bounds with a specific code. Defaults: tick 0.01 EUR/MWh, lot 0.1 MWh, prices
from -500 to 4000 EUR/MWh."""

import math

import pytest

from phoenyra.core.engine import MatchingEngine
from phoenyra.core.errors import Reject
from phoenyra.core.markets import DEFAULT_MARKETS, MarketSpec, default_markets
from phoenyra.core.orders import Side

SPEC = default_markets()["epex_at"]


def refusal_code(convert, value) -> str:
    with pytest.raises(Reject) as refused:
        convert(value)
    assert refused.value.status == 422
    assert refused.value.message
    return refused.value.code


def test_default_markets_are_the_four_epex_zones_with_the_default_grid():
    markets = default_markets()

    assert set(markets) == set(DEFAULT_MARKETS) == {"epex_at", "epex_de", "epex_ch", "epex_it"}
    assert markets["epex_de"].zone == "DE-LU"
    assert all((s.tick, s.lot) == (0.01, 0.1) for s in markets.values())
    assert all((s.min_price, s.max_price) == (-500.0, 4000.0) for s in markets.values())


# -- prices -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "ticks"),
    [(85.2, 8520), (0.01, 1), (0.0, 0), (1234.56, 123456), (0.1 + 0.2, 30), (3999.99, 399999)],
)
def test_a_price_on_the_tick_converts_to_whole_ticks(price, ticks):
    assert SPEC.price_to_ticks(price) == ticks


@pytest.mark.parametrize("price", [85.205, 0.001, 0.005, -12.345, 100.0001])
def test_an_off_tick_price_is_refused_with_invalid_tick(price):
    assert refusal_code(SPEC.price_to_ticks, price) == "INVALID_TICK"


@pytest.mark.parametrize("price", [math.nan, math.inf, -math.inf])
def test_a_non_finite_price_is_refused_with_invalid_price(price):
    assert refusal_code(SPEC.price_to_ticks, price) == "INVALID_PRICE"


@pytest.mark.parametrize("price", [-500.01, 4000.01, -1000.0, 10_000.0])
def test_a_price_outside_the_bounds_is_refused_with_price_out_of_bounds(price):
    assert refusal_code(SPEC.price_to_ticks, price) == "PRICE_OUT_OF_BOUNDS"


def test_the_price_bounds_themselves_are_allowed():
    assert SPEC.price_to_ticks(-500.0) == -50_000
    assert SPEC.price_to_ticks(4000.0) == 400_000


@pytest.mark.parametrize(("price", "ticks"), [(-12.34, -1234), (-0.01, -1), (-499.99, -49_999)])
def test_negative_prices_within_the_bounds_are_allowed(price, ticks):
    assert SPEC.price_to_ticks(price) == ticks


# -- quantities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "lots"), [(1.5, 15), (0.1, 1), (0.3, 3), (0.1 + 0.2, 3), (10_000.0, 100_000)]
)
def test_a_quantity_on_the_lot_converts_to_whole_lots(quantity, lots):
    assert SPEC.quantity_to_lots(quantity) == lots


@pytest.mark.parametrize("quantity", [1.55, 0.05, 0.01, 2.25, 1e-9])
def test_an_off_lot_quantity_is_refused_with_invalid_lot(quantity):
    assert refusal_code(SPEC.quantity_to_lots, quantity) == "INVALID_LOT"


@pytest.mark.parametrize("quantity", [math.nan, math.inf, -math.inf, 0.0, -0.0, -0.1, -5.0])
def test_a_non_positive_or_non_finite_quantity_is_refused_with_invalid_quantity(quantity):
    assert refusal_code(SPEC.quantity_to_lots, quantity) == "INVALID_QUANTITY"


def test_a_quantity_above_the_per_order_maximum_is_refused_with_quantity_too_large():
    assert refusal_code(SPEC.quantity_to_lots, 10_000.1) == "QUANTITY_TOO_LARGE"


# -- per-market overrides ---------------------------------------------------------------------


def test_tick_and_lot_can_be_set_per_market_through_overrides():
    markets = default_markets(epex_de={"tick": 0.1, "lot": 1.0})
    de, at = markets["epex_de"], markets["epex_at"]

    assert de.price_to_ticks(85.2) == 852
    assert refusal_code(de.price_to_ticks, 85.25) == "INVALID_TICK"
    assert de.quantity_to_lots(2.0) == 2
    assert refusal_code(de.quantity_to_lots, 1.5) == "INVALID_LOT"
    # the other markets keep the default grid
    assert at.price_to_ticks(85.25) == 8525
    assert at.quantity_to_lots(1.5) == 15


def test_price_bounds_can_be_set_per_market_and_are_kept_in_ticks():
    spec = MarketSpec(name="x", tick=0.5, min_price=-10.0, max_price=10.0)

    assert (spec.min_ticks, spec.max_ticks) == (-20, 20)
    assert spec.price_to_ticks(-10.0) == -20
    assert refusal_code(spec.price_to_ticks, 10.5) == "PRICE_OUT_OF_BOUNDS"


@pytest.mark.parametrize(
    "fields",
    [
        {"tick": 0.0},
        {"lot": -0.1},
        {"min_price": 10.0, "max_price": 10.0},
        {"max_horizon_s": 0},
        {"max_horizon_s": 10**12},
    ],
    ids=["zero_tick", "negative_lot", "empty_range", "no_horizon", "endless_horizon"],
)
def test_an_inconsistent_market_spec_cannot_be_built(fields):
    with pytest.raises(ValueError):
        MarketSpec(name="x", **fields)


def test_ticks_and_lots_convert_back_to_prices_and_quantities():
    assert SPEC.ticks_to_price(8520) == 85.2
    assert SPEC.ticks_to_price(-1234) == -12.34
    assert SPEC.x2_to_price(17041) == 85.205
    assert SPEC.lots_to_quantity(15) == 1.5


# -- unknown market ---------------------------------------------------------------------------


def test_an_unknown_market_is_refused_by_the_engine_and_changes_nothing():
    engine = MatchingEngine(default_markets())

    with pytest.raises(Reject) as refused:
        engine.place(1, "nord_pool", Side.BUY, 100, 1, 0.0)

    assert refused.value.code == "UNKNOWN_MARKET"
    assert "epex_at" in refused.value.message  # the refusal names the known markets
    assert engine.next_order_id == 1
    assert engine.books == {}
    with pytest.raises(Reject) as spec_refused:
        engine.spec("nord_pool")
    assert spec_refused.value.code == "UNKNOWN_MARKET"


def test_a_known_market_spec_is_returned_by_the_engine():
    markets = default_markets()
    engine = MatchingEngine(markets)

    assert engine.spec("epex_ch") is markets["epex_ch"]
