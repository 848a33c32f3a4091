"""Shared fixtures for the matching-core specifications.

The core works in integers: prices in ticks, quantities in lots. Unless a test says otherwise the
orders go to ``epex_at``'s continuous book (no delivery product) at time ``NOW``.

A test changes ``epex_at``'s market spec by parametrizing the ``epex_at`` fixture, e.g.
``@pytest.mark.parametrize("epex_at", [{"price_rule": PriceRule.MAKER}])``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from phoenyra.core.engine import MatchingEngine, Result
from phoenyra.core.markets import default_markets
from phoenyra.core.orders import Side

NOW = 1_700_000_100.0  # a quarter-hour boundary, seconds since the epoch (UTC)

Place = Callable[..., Result]


@pytest.fixture
def epex_at() -> dict:
    """Field overrides for the epex_at market spec; none by default."""
    return {}


@pytest.fixture
def engine(epex_at: dict) -> MatchingEngine:
    return MatchingEngine(default_markets(epex_at=epex_at))


def _placer(engine: MatchingEngine, side: Side) -> Place:
    def place(
        account_id: int,
        price: int,
        quantity: int,
        *,
        market: str = "epex_at",
        now: float = NOW,
        **kwargs,
    ) -> Result:
        return engine.place(account_id, market, side, price, quantity, now, **kwargs)

    return place


@pytest.fixture
def buy(engine: MatchingEngine) -> Place:
    """``buy(account_id, price_ticks, lots, tif=..., delivery_start=..., ...)``"""
    return _placer(engine, Side.BUY)


@pytest.fixture
def sell(engine: MatchingEngine) -> Place:
    """``sell(account_id, price_ticks, lots, tif=..., delivery_start=..., ...)``"""
    return _placer(engine, Side.SELL)
