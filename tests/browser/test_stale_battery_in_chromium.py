"""A battery that stops reporting: the dashboard marks its last figures as stale, says since
when, and warns in the order form that its orders are refused (BATTERY_STATUS_STALE)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from support import ExchangeProcess, set_soc


@pytest.fixture(scope="module")
def exchange(tmp_path_factory) -> Iterator[ExchangeProcess]:
    # An update every second: without a reading for 3 s the battery's status is stale.
    proc = ExchangeProcess(tmp_path_factory.mktemp("exchange"), BESS_UPDATE_INTERVAL="1").start()
    yield proc
    proc.stop()


def test_a_stale_battery_is_marked_and_the_order_form_warns(page_at, exchange):
    set_soc(exchange, 48.5)
    time.sleep(3.5)  # no reading since: offline
    p = page_at()
    pg = p.page
    expect(pg.locator("#bess-online")).to_have_text("Offline")
    for card in ("#bess-soc", "#bess-power", "#bess-temp"):
        expect(pg.locator(card)).to_have_attribute("data-stale", "true")
        expect(pg.locator(card)).to_have_attribute(
            "title", re.compile(r"^Last known value, read at \d")
        )
    expect(pg.locator("#bess-soc")).to_have_text("48.5")  # the last figure, marked as such
    expect(pg.locator("#bess-stale")).to_be_visible()
    expect(pg.locator("#bess-stale")).to_contain_text("No current reading: the last arrived at")
    warning = pg.locator("#order-battery-stale")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("BATTERY_STATUS_STALE")
    # The warning is true: the exchange refuses the order.
    pg.fill("#order-quantity", "0.1")
    pg.fill("#order-price", "20.00")
    pg.click("#order-form button[type=submit]")
    expect(pg.locator("#order-result")).to_contain_text("BATTERY_STATUS_STALE")
    p.shot("dashboard-stale-battery")
    # A fresh reading (pushed live) lifts the marks.
    set_soc(exchange, 49.0)
    expect(pg.locator("#bess-soc")).to_have_attribute("data-stale", "false")
    expect(pg.locator("#bess-stale")).to_be_hidden()
    expect(warning).to_be_hidden()
    # The only console error is the refused order's 409.
    assert [e for e in p.errors if "409" not in e] == []


def test_the_dashboard_goes_offline_when_the_exchange_does_not_seconds_later(page_at, exchange):
    """Readings stop while the page is open (live stream up): the card says Offline as the
    reading passes the exchange's limit (3 s here), not at the next status poll 15 s on."""
    p = page_at()
    pg = p.page
    set_soc(exchange, 47.0)
    expect(pg.locator("#bess-online")).to_have_text("Online")
    went_online = time.monotonic()
    expect(pg.locator("#bess-online")).to_have_text("Offline", timeout=8000)
    assert time.monotonic() - went_online < 6
    expect(pg.locator("#order-battery-stale")).to_be_visible()
