"""The optimiser's panel shows the plan of the market selected: switching to a market without
prices clears the figures and says why, instead of leaving the other market's plan on screen."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from support import ExchangeProcess, set_soc

QH = 900


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def exchange(tmp_path_factory) -> Iterator[ExchangeProcess]:
    """Two days of swinging quarter-hour prices on epex_at; none on epex_de."""
    proc = ExchangeProcess(tmp_path_factory.mktemp("exchange")).start()
    set_soc(proc, 50.0)
    first = int(time.time() // QH) * QH
    intervals = [
        {
            "start": _iso(first + i * QH),
            "end": _iso(first + (i + 1) * QH),
            "resolution": "PT15M",
            "price": round(80 + 70 * math.sin(i / 48 * math.pi), 2),
        }
        for i in range(192)
    ]
    with proc.client("demo-feed") as c:
        body = {"market": "epex_at", "source": "csv", "simulated": False, "intervals": intervals}
        assert c.post("/api/market/prices", json=body).status_code == 200
    yield proc
    proc.stop()


def test_switching_to_a_market_without_prices_clears_the_plan(page_at):
    p = page_at()
    pg = p.page
    pg.select_option("#market-select", "epex_at")
    expect(pg.locator("#sched-orders")).not_to_have_text("–", timeout=15000)
    assert int(pg.locator("#sched-orders").inner_text()) > 0
    expect(pg.locator("#schedule-execute")).to_be_enabled()
    pg.select_option("#market-select", "epex_de")
    expect(pg.locator("#schedule-meta")).to_have_text("No prices received yet.")
    for kpi in ("#sched-revenue", "#sched-cycles", "#sched-energy", "#sched-orders"):
        expect(pg.locator(kpi)).to_have_text("–")
    expect(pg.locator("#schedule-execute")).to_be_disabled()
    assert p.errors == []
