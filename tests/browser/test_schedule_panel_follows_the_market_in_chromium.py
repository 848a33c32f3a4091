"""The optimiser's panel shows the plan of the market selected: switching to a market without
prices clears the figures and says why, instead of leaving the other market's plan on screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from support import ExchangeProcess, push_swinging_prices, set_soc


@pytest.fixture(scope="module")
def exchange(tmp_path_factory) -> Iterator[ExchangeProcess]:
    """Two days of swinging quarter-hour prices on epex_at; none on epex_de."""
    proc = ExchangeProcess(tmp_path_factory.mktemp("exchange")).start()
    set_soc(proc, 50.0)
    push_swinging_prices(proc)  # on epex_at; none on epex_de
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
