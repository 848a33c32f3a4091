"""Mark, EMA (α = 0.2) and VWAP (96 quarter-hours), checked against values computed by hand."""

from __future__ import annotations

import pytest

from phoenyra.core.indicators import MarketIndicators, PriceCurve, VwapWindow, ema

QH = 900
T0 = 1_764_547_200  # 2025-12-01T00:00:00Z, a quarter-hour (and day) boundary


def test_ema_is_seeded_with_the_first_value_and_weights_new_values_by_alpha():
    # 100 → 0.2·110 + 0.8·100 = 102 → 0.2·90 + 0.8·102 = 99.6
    assert ema([100.0, 110.0, 90.0]) == pytest.approx(99.6)
    assert ema([50.0]) == 50.0
    assert ema([]) is None


def test_ema_of_negative_prices():
    # −20 → 0.2·10 + 0.8·(−20) = −14
    assert ema([-20.0, 10.0]) == pytest.approx(-14.0)


def test_mark_is_the_price_of_the_period_containing_now():
    curve = PriceCurve()
    for i, p in enumerate([80.0, 90.0, 70.0]):
        curve.put(T0 + i * QH, T0 + (i + 1) * QH, p)
    assert curve.at(T0 + QH)[2] == 90.0  # the start is inside its period
    assert curve.at(T0 + 2 * QH - 1)[2] == 90.0  # the end is not
    assert curve.at(T0 + 2 * QH)[2] == 70.0
    assert curve.at(T0 - 1) is None
    assert curve.at(T0 + 3 * QH) is None


def test_mark_prefers_the_finest_resolution_that_covers_now():
    curve = PriceCurve()
    curve.put(T0, T0 + 3600, 100.0)  # the hourly price
    curve.put(T0 + QH, T0 + 2 * QH, 60.0)  # one quarter-hour of that hour
    assert curve.at(T0 + QH + 10)[2] == 60.0
    assert curve.at(T0 + 10)[2] == 100.0  # no quarter-hour covers it: the hour does


def test_a_corrected_price_replaces_the_old_one_and_a_repeat_changes_nothing():
    curve = PriceCurve()
    assert curve.put(T0, T0 + QH, 80.0)
    assert not curve.put(T0, T0 + QH, 80.0)
    assert curve.put(T0, T0 + QH, 81.5)
    assert len(curve) == 1
    assert curve.at(T0)[2] == 81.5


def test_ema_runs_over_successive_marks_up_to_the_current_period():
    ind = MarketIndicators()
    for i, p in enumerate([100.0, 110.0, 90.0, 500.0]):  # 500 is in the future
        ind.curve.put(T0 + i * QH, T0 + (i + 1) * QH, p)
    snap = ind.snapshot(T0 + 2 * QH + 5)
    assert snap.mark == 90.0
    assert (snap.mark_start, snap.mark_end) == (T0 + 2 * QH, T0 + 3 * QH)
    assert snap.ema == pytest.approx(99.6)


def test_vwap_is_volume_weighted_over_the_trades_of_the_window():
    w = VwapWindow()
    w.add(T0 + 10, 100.0, 1.0)
    w.add(T0 + 20, 40.0, 3.0)  # (100·1 + 40·3) / 4 = 55
    w.add(T0 + QH + 1, 70.0, 1.0)  # (220 + 70) / 5 = 58
    vwap, volume = w.value(T0 + QH + 2)
    assert vwap == pytest.approx(58.0)
    assert volume == pytest.approx(5.0)
    assert w.series(T0 + QH + 2) == [
        (T0, pytest.approx(55.0), pytest.approx(4.0)),
        (T0 + QH, pytest.approx(70.0), pytest.approx(1.0)),
    ]


def test_vwap_forgets_trades_older_than_96_quarter_hours():
    w = VwapWindow()
    w.add(T0, 100.0, 1.0)
    w.add(T0 + 95 * QH, 50.0, 1.0)
    # At the start of quarter-hour 95 both are inside the window of 96 quarter-hours.
    assert w.value(T0 + 95 * QH)[0] == pytest.approx(75.0)
    # One quarter-hour later the first trade's quarter-hour has left it.
    assert w.value(T0 + 96 * QH)[0] == pytest.approx(50.0)
    w.trim(T0 + 96 * QH)
    assert len(w.series(T0 + 96 * QH)) == 1
    assert w.value(T0 + 200 * QH) == (None, 0.0)


def test_vwap_without_trades_is_none():
    assert VwapWindow().value(T0) == (None, 0.0)


def test_last_trade_mark_source_takes_the_latest_trade_price():
    ind = MarketIndicators(mark_source="last_trade")
    ind.curve.put(T0, T0 + QH, 999.0)  # ignored by this mark source
    assert ind.snapshot(T0 + 5).mark is None
    ind.add_trade(T0 + 1, 80.0, 1.0)
    ind.add_trade(T0 + 2, 90.0, 1.0)
    snap = ind.snapshot(T0 + 5)
    assert snap.mark == 90.0
    assert snap.ema == pytest.approx(82.0)  # 0.2·90 + 0.8·80
    assert snap.vwap == pytest.approx(85.0)


def test_unknown_mark_source_is_refused():
    with pytest.raises(ValueError, match="mark_source"):
        MarketIndicators(mark_source="median")
