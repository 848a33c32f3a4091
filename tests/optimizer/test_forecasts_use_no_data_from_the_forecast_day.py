"""No look-ahead: a forecast for day D is the same whatever D and later days turned out to be.

Checked by changing every price from D on and forecasting D again, on real prices around the
autumn DST change (a 25-hour day, where a plain 24-hour lag would read D's own first hour).
"""

from __future__ import annotations

import numpy as np
import pytest

from phoenyra.feed.sources.csv_file import load_csv
from phoenyra.optimizer.forecast import LearnedForecast, lagged, naive, split_days
from support import SHARED_DATA

AT_2024 = SHARED_DATA / "at_2024_h.csv"


@pytest.fixture(scope="module")
def autumn():
    if not AT_2024.exists():
        pytest.skip(f"{AT_2024} is not there")
    intervals = load_csv(AT_2024)
    starts = np.array([iv.start for iv in intervals], dtype=np.int64)
    prices = np.array([iv.price for iv in intervals])
    days = split_days(starts, "Europe/Berlin")
    k0 = days.dates.index("2024-09-01")
    a, _ = days.bounds[k0]
    z = days.bounds[days.dates.index("2024-11-10")][1]
    return starts[a:z], prices[a:z]


def tampered(prices: np.ndarray, from_index: int, seed: int) -> np.ndarray:
    out = prices.copy()
    out[from_index:] = np.random.default_rng(seed).uniform(-300, 900, len(out) - from_index)
    return out


def test_the_autumn_dst_day_has_25_hours_and_its_lags_all_fall_before_it(autumn):
    starts, prices = autumn
    days = split_days(starts, "Europe/Berlin")
    k = days.dates.index("2024-10-27")
    a, z = days.bounds[k]
    assert z - a == 25
    values = lagged(np.arange(len(prices), dtype=float), a, z, 24)
    assert (values < a).all()


@pytest.mark.parametrize("day", ["2024-10-08", "2024-10-27", "2024-10-28"])
def test_the_learned_forecast_of_a_day_ignores_that_day_and_later(autumn, day):
    starts, prices = autumn
    days = split_days(starts, "Europe/Berlin")
    k = days.dates.index(day)
    a, _ = days.bounds[k]
    honest = LearnedForecast(prices, days, 3600, retrain_days=1).forecast(k)
    for seed in (1, 2):
        other = LearnedForecast(tampered(prices, a, seed), days, 3600, retrain_days=1).forecast(k)
        assert other == pytest.approx(honest, abs=1e-9)
    # And the model does learn from the past: a different history changes the forecast.
    shifted = prices.copy()
    shifted[:a] += 100.0
    assert not np.allclose(LearnedForecast(shifted, days, 3600).forecast(k), honest)


@pytest.mark.parametrize("days_back", [1, 7])
def test_naive_forecasts_of_a_day_ignore_that_day_and_later(autumn, days_back):
    starts, prices = autumn
    days = split_days(starts, "Europe/Berlin")
    for day in ("2024-10-27", "2024-10-28"):
        a, z = days.bounds[days.dates.index(day)]
        honest = naive(prices, a, z, 3600, days_back)
        assert naive(tampered(prices, a, 3), a, z, 3600, days_back) == pytest.approx(honest)


def test_the_learned_model_is_refitted_when_asked_for_an_earlier_day(autumn):
    starts, prices = autumn
    days = split_days(starts, "Europe/Berlin")
    f = LearnedForecast(prices, days, 3600, retrain_days=30)
    late = days.dates.index("2024-11-01")
    early = days.dates.index("2024-10-01")
    f.forecast(late)
    fits = f.fits
    first = f.forecast(early)
    assert f.fits == fits + 1  # a model fitted on later days would have seen the early day
    fresh = LearnedForecast(prices, days, 3600).forecast(early)
    assert first == pytest.approx(fresh)
