"""The dashboard in real headless Chromium: it loads cleanly, shows the battery and prices, and
follows orders, trades and telemetry live."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from support import new_trader, set_soc


def test_dashboard_loads_without_console_errors_and_shows_the_battery(page_at, exchange):
    set_soc(exchange, 61.5)
    p = page_at(1440)
    expect(p.page.locator("#connection-state")).to_have_attribute("data-state", "live")
    expect(p.page.locator("#bess-soc")).to_have_text("61.5")
    expect(p.page.locator("#bess-online")).to_have_text("Online")
    p.shot("dashboard-1440")
    assert p.errors == []


def test_dashboard_fits_a_phone_without_sideways_scrolling(page_at):
    p = page_at(375)
    expect(p.page.locator("#bess-soc")).not_to_have_text("–")
    width = p.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width} px wide on a 375 px screen"
    p.shot("dashboard-375")
    assert p.errors == []


def test_order_placed_in_the_form_appears_in_active_orders(page_at):
    p = page_at()
    pg = p.page
    pg.fill("#order-quantity", "0.3")
    pg.fill("#order-price", "12.34")
    pg.click("#order-form button[type=submit]")
    expect(pg.locator("#order-result")).to_contain_text("accepted, resting in the book")
    row = pg.locator("#orders-body tr", has_text="12.34")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Buy")
    expect(row).to_contain_text("Accepted")  # the status in words (shown in capitals)
    # Cancelling from the table removes it.
    row.get_by_role("button").click()
    expect(row).to_have_count(0)
    assert p.errors == []


def test_crossing_order_from_the_api_makes_a_trade_appear_live(page_at, exchange):
    p = page_at()
    pg = p.page
    pg.fill("#order-quantity", "0.5")
    pg.fill("#order-price", "47.11")
    pg.click("#order-form button[type=submit]")
    resting = pg.locator("#orders-body tr", has_text="47.11")
    expect(resting).to_have_count(1)
    trades_before = pg.locator("#trades-body tr[id^=trade-]").count()

    with new_trader(exchange) as other:  # another market participant sells into our bid
        r = other.post(
            "/api/orders",
            json={"market": "epex_at", "side": "SELL", "quantity": 0.5, "price": 47.11},
        )
        assert r.status_code == 201 and r.json()["status"] == "FILLED", r.text

    trades = pg.locator("#trades-body tr[id^=trade-]")
    expect(trades).to_have_count(trades_before + 1)
    newest = trades.first
    expect(newest).to_contain_text("47.11")
    expect(newest).to_contain_text("Buy")  # our side of it
    expect(resting).to_have_count(0)  # filled: no longer active
    expect(pg.locator("#positions-body")).to_contain_text("epex_at")
    assert p.errors == []


def test_telemetry_push_changes_the_soc_card_live(page_at, exchange):
    p = page_at()
    expect(p.page.locator("#connection-state")).to_have_attribute("data-state", "live")
    with exchange.client("demo-bess") as c:
        r = c.post(
            "/api/bess/telemetry",
            json={"soc_percent": 73.4, "power_mw": -0.25, "temperature_c": 28.5},
        )
        assert r.status_code == 202
    expect(p.page.locator("#bess-soc")).to_have_text("73.4")
    expect(p.page.locator("#bess-power")).to_have_text("-0.250")
    expect(p.page.locator("#bess-direction")).to_have_text("Charging")
    expect(p.page.locator("#bess-temp")).to_have_text("28.5")


def test_a_refused_order_shows_its_reason(page_at, exchange):
    p = page_at()
    pg = p.page
    pg.fill("#order-quantity", "0.5")
    pg.fill("#order-price", "10.001")  # off the 0.01 tick
    pg.click("#order-form button[type=submit]")
    expect(pg.locator("#order-result")).to_contain_text("INVALID_TICK")
    expect(pg.locator("#order-result")).to_contain_text(re.compile("tick", re.I))

    set_soc(exchange, 95.0)  # above the 90 % max: a BUY (charge) must be refused
    pg.fill("#order-price", "10.00")
    pg.click("#order-form button[type=submit]")
    expect(pg.locator("#order-result")).to_contain_text("SOC_LIMIT")
    expect(pg.locator("#flash")).to_contain_text("SOC_LIMIT")
    set_soc(exchange, 50.0)
    assert pg.locator("#orders-body tr", has_text="10.00").count() == 0


def test_the_socket_dropping_falls_back_to_polling_every_10_s(page_at, exchange):
    p = page_at(sign_in=False)
    pg = p.page
    # The live path is down: Socket.IO's long-polling fails and its WebSocket hangs unanswered.
    pg.route(re.compile(r".*/socket\.io/\?.*"), lambda route: route.abort())
    pg.route_web_socket(re.compile(r".*/socket\.io/\?.*"), lambda ws: None)
    p.sign_in()
    # The page gives a silent socket 5 s before it falls back.
    expect(pg.locator("#connection-state")).to_have_attribute(
        "data-state", "polling", timeout=10_000
    )
    set_soc(exchange, 44.4)
    expect(pg.locator("#bess-soc")).to_have_text("44.4", timeout=15_000)
    set_soc(exchange, 50.0)


def test_the_dashboard_speaks_german_and_switches_to_english(page_at):
    p = page_at(375, locale="de-AT")
    expect(p.page.locator("h1")).to_have_text("Batterie & Markt")
    expect(p.page.locator("#order-form button[type=submit]")).to_contain_text("Order erteilen")
    expect(p.page.locator("#bess-online")).to_have_text("Online")
    p.shot("dashboard-de-375")
    p.page.click("a[hreflang=en]")
    expect(p.page.locator("h1")).to_have_text("Battery & market")


def test_pages_pass_the_axe_accessibility_check(page_at):
    p = page_at(bypass_csp=True)
    for path in ("/", "/config", "/history"):
        p.goto(path)
        p.page.wait_for_load_state("networkidle")
        violations = p.axe_violations()
        assert violations == [], f"{path}: {violations}"
