"""Price forecasts for a delivery day, made only from prices published before that day.

A day-ahead price for day D is known once D−1's auction has cleared, so a forecast for D may use
every price before D's first interval and nothing from D itself. Every lookup here goes through
:func:`lagged`, which steps back whole days until it lands before the forecast day's start:
on a 25-hour autumn day a plain 24-hour lag would otherwise read D's own first hour.

- naive: the same quarter-hours one day or one week before;
- learned: gradient-boosted trees (scikit-learn's ``HistGradientBoostingRegressor``) on lagged
  prices, the previous day's level and calendar features, trained only on days before the one
  it forecasts (an expanding window, refitted every ``retrain_days``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Days:
    """The series cut into local delivery days: ``bounds[k] = (first index, end index)``."""

    dates: list[str]
    bounds: list[tuple[int, int]]
    hour: np.ndarray  # local hour of day with fraction, per interval
    weekday: np.ndarray
    month: np.ndarray


def split_days(starts: np.ndarray, tz: str) -> Days:
    zone = ZoneInfo(tz)
    local = [datetime.fromtimestamp(int(s), UTC).astimezone(zone) for s in starts]
    dates = [d.date().isoformat() for d in local]
    bounds: list[tuple[int, int]] = []
    names: list[str] = []
    a = 0
    for i in range(1, len(dates) + 1):
        if i == len(dates) or dates[i] != dates[a]:
            bounds.append((a, i))
            names.append(dates[a])
            a = i
    return Days(
        dates=names,
        bounds=bounds,
        hour=np.array([d.hour + d.minute / 60.0 for d in local]),
        weekday=np.array([d.weekday() for d in local], dtype=float),
        month=np.array([d.month for d in local], dtype=float),
    )


def lagged(prices: np.ndarray, a: int, z: int, lag_steps: int) -> np.ndarray:
    """For the day [a, z): the price ``lag_steps`` earlier, stepped back by further lags while it
    would fall on or after ``a`` (the forecast day's start); NaN before the series."""
    idx = np.arange(a, z) - lag_steps
    while True:
        inside = idx >= a
        if not inside.any():
            break
        idx[inside] -= lag_steps
    out = np.full(z - a, np.nan)
    ok = idx >= 0
    out[ok] = prices[idx[ok]]
    return out


def _fill(values: np.ndarray, prices: np.ndarray, a: int) -> np.ndarray:
    """Gaps (the series' start) filled with the last price before the day, else zero."""
    if not np.isnan(values).any():
        return values
    fallback = prices[a - 1] if a > 0 else 0.0
    return np.where(np.isnan(values), fallback, values)


def naive(prices: np.ndarray, a: int, z: int, step_s: int, days_back: int) -> np.ndarray:
    """The same quarter-hours ``days_back`` days before the day [a, z)."""
    return _fill(lagged(prices, a, z, days_back * DAY_S // step_s), prices, a)


FEATURES = (
    "lag_1d",
    "lag_2d",
    "lag_7d",
    "prev_day_mean",
    "prev_day_min",
    "prev_day_max",
    "hour",
    "weekday",
    "month",
)


def features(prices: np.ndarray, days: Days, step_s: int) -> np.ndarray:
    """One row per interval, each built only from prices before its own day's start."""
    per_day = DAY_S // step_s
    x = np.full((len(prices), len(FEATURES)), np.nan)
    for a, z in days.bounds:
        x[a:z, 0] = lagged(prices, a, z, per_day)
        x[a:z, 1] = lagged(prices, a, z, 2 * per_day)
        x[a:z, 2] = lagged(prices, a, z, 7 * per_day)
        prev = prices[max(0, a - per_day) : a]
        if prev.size:
            x[a:z, 3], x[a:z, 4], x[a:z, 5] = prev.mean(), prev.min(), prev.max()
    x[:, 6] = days.hour
    x[:, 7] = days.weekday
    x[:, 8] = days.month
    return x


class LearnedForecast:
    """Gradient-boosted trees on :data:`FEATURES`; ``forecast(k)`` uses days before ``k`` only."""

    def __init__(
        self,
        prices: np.ndarray,
        days: Days,
        step_s: int,
        *,
        retrain_days: int = 7,
        min_train_days: int = 7,
        seed: int = 0,
    ) -> None:
        if retrain_days < 1:
            raise ValueError("retrain_days must be ≥ 1")
        self.prices = np.asarray(prices, dtype=float)
        self.days = days
        self.step_s = step_s
        self.retrain_days = retrain_days
        self.min_train_days = min_train_days
        self.seed = seed
        self.x = features(self.prices, days, step_s)
        self._model = None
        self._fitted_for: int | None = None
        self.fits = 0

    def _fit(self, k: int) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        end = self.days.bounds[k][0]  # rows of days before k: their targets precede day k
        model = HistGradientBoostingRegressor(
            max_iter=150,
            max_leaf_nodes=15,
            learning_rate=0.1,
            early_stopping=False,
            random_state=self.seed,
        )
        # One thread: on small data OpenMP's fork-join per split costs more than it saves, and
        # far more on a machine whose cores are busy (measured 0.16 s vs 0.24 s per fit idle).
        with threadpool_limits(1):
            model.fit(self.x[:end], self.prices[:end])
        self._model, self._fitted_for = model, k
        self.fits += 1

    def forecast(self, k: int) -> np.ndarray:
        a, z = self.days.bounds[k]
        if k < self.min_train_days:
            return naive(self.prices, a, z, self.step_s, 1)
        if (
            self._model is None
            or self._fitted_for is None
            or k - self._fitted_for >= (self.retrain_days)
            or k < self._fitted_for
        ):
            self._fit(k)
        return self._model.predict(self.x[a:z])
