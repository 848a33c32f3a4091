"""What an operator reads must be whole and true: tables fit their panels (the cancel button
always reachable), times are in the zone the page names, the order summary shows the price as
typed, counts and statuses are in proper English and German, and the live indicator appears only
where a live connection is made."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from support import new_trader

# Every element's box as the browser lays it out, and whether it is what is hit at its centre.
# The page scrolls only vertically (the button's table is not scrolled to it, as a user would
# have to).
_BOXES = """(btn) => {
  window.scrollTo(0, btn.getBoundingClientRect().top + window.scrollY - window.innerHeight / 2);
  const box = (e) => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const b = box(btn);
  const hit = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
  return {button: b, wrap: box(btn.closest('.table-wrap')), panel: box(btn.closest('section')),
          hit: !!hit && hit.closest('[data-cancel]') === btn, viewport: window.innerWidth};
}"""

_CLIPPED_LABELS = """() => [...document.querySelectorAll('.kpi-label')]
  .filter((l) => l.scrollWidth > l.clientWidth + 1 ||
    l.getBoundingClientRect().right > l.parentElement.getBoundingClientRect().right + 1)
  .map((l) => l.textContent)"""


@pytest.fixture(autouse=True)
def no_orders_left(exchange):
    """Each test starts without resting orders, even after a failed one (the battery's energy
    limit counts open buy orders)."""
    yield
    with exchange.client() as desk:
        for order in desk.get("/api/orders").json():
            if order["status"] in ("ACCEPTED", "PARTIALLY_FILLED"):
                desk.delete(f"/api/orders/{order['id']}")


def _inside(inner: dict, outer: dict) -> bool:
    return inner["left"] >= outer["left"] - 0.5 and inner["right"] <= outer["right"] + 0.5


@pytest.mark.parametrize("locale", ["en-GB", "de-AT"])
@pytest.mark.parametrize("width", [1440, 390])
def test_the_cancel_button_and_every_label_are_whole_inside_their_panels(page_at, width, locale):
    p = page_at(width, locale=locale, height=844 if width < 500 else 900)
    pg = p.page
    pg.fill("#order-quantity", "0.3")
    pg.fill("#order-price", "3.21")
    pg.click("#order-form button[type=submit]")
    row = pg.locator("#orders-body tr", has_text=re.compile(r"3[.,]21"))
    expect(row).to_have_count(1)
    button = row.locator("[data-cancel]")
    expect(button).to_be_visible()
    pg.wait_for_load_state("networkidle")  # the tables have had their first fill
    boxes = button.evaluate(_BOXES)
    assert _inside(boxes["button"], boxes["wrap"]), boxes
    assert _inside(boxes["button"], boxes["panel"]), boxes
    assert boxes["button"]["right"] <= boxes["viewport"], boxes
    assert boxes["hit"], f"the cancel button is covered: {boxes}"
    # What the order is shows without scrolling the table: side, delivery and quantity on a
    # phone (time and side were all it showed), price and status too on a wide screen (the
    # status was under the pinned cancel column).
    columns = ["Side", "Delivery", "Qty"] + (["Price", "Status"] if width >= 1280 else [])
    heads = [h.strip() for h in pg.locator("#orders-table thead th").all_inner_texts()]
    wrap = boxes["wrap"]
    for name in columns:
        german = {"Side": "Richtung", "Delivery": "Lieferung", "Qty": "Menge", "Price": "Preis",
                  "Status": "Status"}  # fmt: skip
        label = german[name] if locale.startswith("de") else name
        index = next(i for i, h in enumerate(heads) if h.lower().startswith(label.lower()))
        cell = row.locator("td").nth(index).bounding_box()
        assert cell["x"] + cell["width"] <= boxes["button"]["left"] + 0.5, (name, cell, boxes)
        assert cell["x"] >= wrap["left"] - 0.5, (name, cell)
    # KPI labels wrap instead of being cut off ("CHARGED / DISCH…", "UNREALIS…").
    assert pg.evaluate(_CLIPPED_LABELS) == []
    # Every navigation tab is whole on the screen ("Telemetrie" was cut off at 390 px).
    for link in pg.locator("nav .nav-link").all():
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, link.inner_text()
    assert pg.evaluate("document.documentElement.scrollWidth") <= width
    p.shot(f"orders-{width}-{locale}")
    button.click()  # a plain click, as a user's: nothing lies over it
    expect(row).to_have_count(0)
    assert p.errors == []


def _trade_at_market_ch(page, exchange, price: str) -> dict:
    """Another participant offers; we buy from the dashboard's form. The exchange's trade."""
    with new_trader(exchange) as other:
        r = other.post(
            "/api/orders",
            json={"market": "epex_ch", "side": "SELL", "quantity": 0.3, "price": float(price)},
        )
        assert r.status_code == 201, r.text
    page.select_option("#order-market", "epex_ch")
    page.fill("#order-quantity", "0.3")
    page.fill("#order-price", price)
    page.click("#order-form button[type=submit]")
    expect(page.locator("#order-result")).to_contain_text("filled")
    with exchange.client() as admin:
        items = admin.get("/trades", params={"market": "epex_ch", "limit": 10}).json()["items"]
    return next(t for t in items if abs(t["price"] - float(price)) < 1e-9)


def test_history_shows_utc_as_it_says_and_the_dashboard_names_its_local_zone(page_at, exchange):
    zone = "America/New_York"  # never UTC, so a local time cannot pass for a UTC one
    p = page_at(timezone_id=zone)
    pg = p.page
    trade = _trade_at_market_ch(pg, exchange, "41.23")
    executed = datetime.fromisoformat(trade["executed_at"].replace("Z", "+00:00"))

    # The dashboard says its times are local, names the zone, and shows the trade in it.
    expect(pg.locator("#tz-note")).to_contain_text(zone)
    local = executed.astimezone(ZoneInfo(zone)).strftime("%H:%M:%S")
    expect(pg.locator(f"#trade-{trade['id']} td").first).to_have_text(local)

    # The history says UTC (its subtitle, its date filters, its CSV) and shows UTC.
    p.goto("/history?market=epex_ch")
    row = pg.locator("#history-body tr", has_text="41.23")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text(executed.strftime("%d/%m/%Y, %H:%M:%S"))
    expect(pg.locator("#history-count")).to_have_text("1 trade shown")  # not "1 trades"
    with pg.expect_download() as info:
        pg.click("#csv-export")
    lines = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    line = next(x.split(",") for x in lines[1:] if x.startswith(f"{trade['id']},"))
    in_csv = datetime.fromisoformat(line[header.index("executed_at")].replace("Z", "+00:00"))
    assert in_csv.strftime("%d/%m/%Y, %H:%M:%S") == executed.strftime("%d/%m/%Y, %H:%M:%S")
    assert p.errors == []


def test_the_order_summary_shows_the_price_as_typed_and_flags_an_off_tick_price(page_at):
    p = page_at()
    pg = p.page
    summary = pg.locator("#order-summary")
    pg.fill("#order-quantity", "0.5")
    pg.fill("#order-price", "50.005")
    # Not "× 50.01 EUR/MWh = 25.00 EUR": the price as typed, the product of what is shown, and
    # the warning that the exchange refuses a price off the 0.01 tick.
    expect(summary).to_contain_text("0.5 MWh × 50.005 EUR/MWh = 25.0025 EUR")
    expect(summary).to_contain_text("not on the 0.01 EUR/MWh tick")
    expect(pg.locator("#order-price")).to_have_attribute("aria-invalid", "true")
    pg.fill("#order-price", "50.01")
    expect(summary).to_have_text("Buy 0.5 MWh × 50.01 EUR/MWh = 25.005 EUR")
    expect(pg.locator("#order-price")).to_have_attribute("aria-invalid", "false")
    assert p.errors == []


def test_german_pages_show_statuses_orders_and_chart_dates_in_german(page_at):
    p = page_at(locale="de-AT")
    pg = p.page
    pg.fill("#order-quantity", "0,3")
    pg.fill("#order-price", "12,34")
    pg.click("#order-form button[type=submit]")
    result = pg.locator("#order-result")
    expect(result).to_contain_text(re.compile(r"Order #\d+ Kauf 0,3 MWh @ 12,34 EUR/MWh auf"))
    expect(result).to_contain_text("angenommen, liegt im Orderbuch")
    row = pg.locator("#orders-body tr", has_text="12,34")
    expect(row.locator(".badge-muted")).to_have_text("Angenommen")  # not "ACCEPTED"
    # The date axis of the charts uses ApexCharts' German locale ("Dez", not "Dec").
    pg.wait_for_function("() => window.ApexCharts && ApexCharts.getChartByID('market')")
    months = pg.evaluate("ApexCharts.getChartByID('market').w.globals.locale.shortMonths")
    assert months[11] == "Dez" and months[9] == "Okt"
    labels = " ".join(pg.locator("#market-chart .apexcharts-xaxis-label").all_text_contents())
    assert not re.search(r"\b(Mar|May|Oct|Dec)\b", labels), labels
    row.locator("[data-cancel]").click()
    expect(row).to_have_count(0)
    assert p.errors == []


def test_the_live_indicator_shows_only_on_pages_that_connect_live(page_at, webapp):
    p = page_at(sign_in=False)
    pg = p.page
    p.goto("/login")
    expect(pg.locator("#username")).to_be_visible()
    expect(pg.locator("#connection-state")).to_have_count(0)
    expect(pg.get_by_text("Connecting")).to_have_count(0)
    p.sign_in()
    expect(pg.locator("#connection-state")).to_have_attribute("data-state", "live")
    p.goto("/no-such-page")
    expect(pg.locator("#error")).to_contain_text("404")
    expect(pg.locator("#connection-state")).to_have_count(0)
    p.goto("/history")
    expect(pg.locator("#connection-state")).to_have_attribute("data-state", "live")
