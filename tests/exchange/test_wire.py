"""The order path's fast conversions give exactly what the plain library calls give."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from phoenyra.core.markets import MarketSpec
from phoenyra.core.wire import ORDER_COLUMNS, TRADE_COLUMNS, iso
from phoenyra.exchange.store import orders, trades


def reference_iso(ts: float) -> str:
    text = datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@given(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False))
def test_iso_matches_datetime_for_any_time(ts):
    assert iso(ts) == reference_iso(ts)


def test_iso_at_the_edges_of_a_second_and_repeated():
    # Microseconds round half-even before the milliseconds are cut, as datetime does.
    for ts in (1764447794.9999995, 1764447794.9999994, 1764447794.0005, 1764447794.999, 0.0):
        assert iso(ts) == reference_iso(ts)
        assert iso(ts) == reference_iso(ts)  # the remembered last value
    assert iso(1764447794) == "2025-11-29T20:23:14.000Z"
    assert iso(None) is None


@given(st.integers(min_value=-50_000, max_value=400_000))
def test_ticks_to_price_is_the_decimal_price(ticks):
    spec = MarketSpec(name="m")  # tick 0.01, prices -500 ... 4000 EUR/MWh
    # The float nearest to the decimal price, and what the earlier round(n * tick, 10) gave.
    assert spec.ticks_to_price(ticks) == float(Fraction(ticks, 100)) == round(ticks * 0.01, 10)
    assert spec.x2_to_price(ticks) == float(Fraction(ticks, 200)) == round(ticks * 0.005, 10)


@given(st.integers(min_value=0, max_value=100_000_000))
def test_lots_to_quantity_is_the_decimal_quantity(lots):
    spec = MarketSpec(name="m")  # lot 0.1, at most 100,000 lots an order
    assert spec.lots_to_quantity(lots) == float(Fraction(lots, 10))
    if lots <= spec.max_lots:
        assert spec.lots_to_quantity(lots) == round(lots * 0.1, 10)


def test_steps_that_do_not_divide_one_fall_back_to_rounding():
    assert MarketSpec(name="m", tick=0.05).ticks_per_eur == 20
    spec = MarketSpec(name="m", tick=0.3, lot=2.5)
    assert spec.ticks_per_eur == 0 and spec.lots_per_mwh == 0
    assert spec.ticks_to_price(7) == 2.1
    assert spec.lots_to_quantity(3) == 7.5


def test_row_tuples_are_in_the_tables_column_order():
    assert tuple(c.name for c in orders.columns) == ORDER_COLUMNS
    assert tuple(c.name for c in trades.columns) == TRADE_COLUMNS
