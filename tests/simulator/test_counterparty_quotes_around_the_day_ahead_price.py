"""The demo's simulated counterparty: quotes bids and offers around the day-ahead price of each
product, keeps quotes that are still right, replaces the rest, and really trades."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from phoenyra.core.markets import QUARTER_HOUR as QH
from phoenyra.simulator.counterparty import QuoteParams, plan_quotes, reconcile, run_once
from support import set_soc

NOW = 1_764_000_000  # a quarter-hour boundary (2025-11-24 16:00 UTC)


def test_continuous_book_is_quoted_around_the_mark_in_levels():
    p = QuoteParams(spread=4.0, level_step=2.0, levels=2)
    quotes = plan_quotes(NOW, {}, 100.0, p)
    assert quotes == {(None, "BUY"): [98.0, 96.0], (None, "SELL"): [102.0, 104.0]}


def test_products_open_after_gate_closure_are_quoted_at_their_own_price():
    p = QuoteParams(spread=1.0, levels=1, products=3, gate_closure_s=300)
    prices = {NOW + i * QH: 50.0 + i for i in range(6)}
    quotes = plan_quotes(NOW, prices, None, p)
    # NOW's own quarter-hour is closed; the next three are quoted, each around its price.
    assert sorted(k for k in quotes if k[1] == "BUY") == [
        (NOW + QH, "BUY"),
        (NOW + 2 * QH, "BUY"),
        (NOW + 3 * QH, "BUY"),
    ]
    assert quotes[(NOW + 2 * QH, "BUY")] == [51.5] and quotes[(NOW + 2 * QH, "SELL")] == [52.5]


def test_negative_prices_are_quoted_too():
    quotes = plan_quotes(NOW, {}, -12.34, QuoteParams(spread=2.0, levels=1))
    assert quotes == {(None, "BUY"): [-13.34], (None, "SELL"): [-11.34]}


def test_reconcile_keeps_good_quotes_and_replaces_stale_or_mostly_filled_ones():
    wanted = {(None, "BUY"): [98.0, 96.0], (None, "SELL"): [102.0]}
    open_orders = [
        {"id": 1, "delivery_start": None, "side": "BUY", "price": 98.0, "remaining": 2.0},
        {"id": 2, "delivery_start": None, "side": "BUY", "price": 96.0, "remaining": 0.5},
        {"id": 3, "delivery_start": None, "side": "SELL", "price": 110.0, "remaining": 2.0},
        {"id": 4, "delivery_start": None, "side": "BUY", "price": 98.0, "remaining": 2.0},
    ]
    cancel, place = reconcile(wanted, open_orders, size=2.0)
    assert sorted(cancel) == [2, 3, 4]  # mostly filled, off the price, a duplicate
    assert sorted(place, key=str) == sorted([(None, "BUY", 96.0), (None, "SELL", 102.0)], key=str)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        QuoteParams(size_mwh=0)
    with pytest.raises(ValueError):
        QuoteParams(levels=0)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def test_the_counterparty_quotes_on_a_real_exchange_and_the_operator_trades_with_it(exchange):
    now = time.time()
    first = int(now // QH) * QH
    with exchange.client("demo-feed") as feed:
        r = feed.post(
            "/api/market/prices",
            json={
                "market": "epex_ch",
                "source": "synthetic",
                "simulated": True,
                "intervals": [
                    {
                        "start": _iso(first + i * QH),
                        "end": _iso(first + (i + 1) * QH),
                        "resolution": "PT15M",
                        "price": 80.0 + i,
                    }
                    for i in range(12)
                ],
            },
        )
        assert r.status_code == 200, r.text

    params = QuoteParams(market="epex_ch", spread=4.0, levels=1, size_mwh=0.6, products=4)

    async def one_round():
        async with httpx.AsyncClient(
            base_url=exchange.base_url, headers={"X-API-Key": "demo-counterparty"}, timeout=10
        ) as c:
            return await run_once(c, params)

    cancelled, placed = asyncio.run(one_round())
    assert cancelled == 0 and placed >= 2 * 3  # continuous + at least 2 products, both sides
    with exchange.client() as operator:
        book = operator.get("/api/book", params={"market": "epex_ch"}).json()
        assert book["bids"][0]["price"] == 78.0 and book["asks"][0]["price"] == 82.0
        set_soc(exchange, 50.0)
        r = operator.post(
            "/api/orders",
            json={"market": "epex_ch", "side": "BUY", "quantity": 0.6, "price": 82.0},
        )
        assert r.status_code == 201 and r.json()["status"] == "FILLED", r.text
    # The next round tops the lifted offer up again and leaves the rest alone.
    cancelled, placed = asyncio.run(one_round())
    assert (cancelled, placed) == (0, 1)
