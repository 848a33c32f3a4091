"""The dashboard's order form in German, in Chromium: a refusal is a German sentence with
German numbers, and the inputs it names are marked invalid (aria-invalid and a red border)
until they are edited."""

from __future__ import annotations

from playwright.sync_api import expect

SELL_BORDER = "rgb(248, 113, 113)"  # the theme's sell colour (#f87171)


def _script_errors(p) -> list[str]:
    # The refused order's own 4xx answer is logged by Chromium as a failed resource load.
    return [e for e in p.errors if not e.startswith("Failed to load resource")]


def _german_dashboard(page_at):
    p = page_at(1440, locale="de-AT")
    p.goto("/lang/de?next=/")
    expect(p.page.locator("html")).to_have_attribute("lang", "de")
    return p


def test_quantity_not_a_number_and_no_price_name_and_mark_both_inputs(page_at):
    p = _german_dashboard(page_at)
    pg = p.page
    quantity, price = pg.locator("#order-quantity"), pg.locator("#order-price")
    pg.fill("#order-quantity", "abc")
    pg.fill("#order-price", "")
    pg.click("#order-form button[type=submit]")
    result = pg.locator("#order-result")
    expect(result).to_contain_text("Die Menge ist keine Zahl; der Preis fehlt.")
    expect(result).not_to_contain_text("Input should")
    for field in (quantity, price):
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_attribute("aria-describedby", "order-result")
        expect(field).to_have_css("border-top-color", SELL_BORDER)
    # Fixing one input clears its mark only; the other stays marked.
    pg.fill("#order-quantity", "0,5")
    expect(quantity).to_have_attribute("aria-invalid", "false")
    expect(price).to_have_attribute("aria-invalid", "true")
    p.shot("dashboard-de-order-refused-validation")
    assert not _script_errors(p), p.errors


def test_off_tick_price_says_so_in_german_with_decimal_commas(page_at):
    p = _german_dashboard(page_at)
    pg = p.page
    pg.fill("#order-quantity", "0,5")
    pg.fill("#order-price", "50,005")
    pg.click("#order-form button[type=submit]")
    result = pg.locator("#order-result")
    expect(result).to_contain_text(
        "Der Preis 50,005 EUR/MWh ist kein Vielfaches der Tick-Größe 0,01 EUR/MWh"
    )
    expect(result).to_contain_text("(INVALID_TICK)")
    expect(result).not_to_contain_text("is not a multiple")
    expect(pg.locator("#order-price")).to_have_attribute("aria-invalid", "true")
    expect(pg.locator("#order-quantity")).to_have_attribute("aria-invalid", "false")
    p.shot("dashboard-de-order-refused-tick")
    assert not _script_errors(p), p.errors


def test_market_data_staleness_and_source_are_said_in_german(page_at):
    """No feed has delivered prices to this exchange: the market panel says why in German
    (from the exchange's stale_code), not the exchange's English sentence."""
    p = _german_dashboard(page_at)
    reason = p.page.locator("#market-stale-reason")
    expect(reason).to_be_visible()
    expect(reason).to_have_text("Vom Marktdaten-Feed sind noch keine Preise eingegangen.")
    assert not _script_errors(p), p.errors


def test_a_cancel_that_comes_too_late_says_why_in_german(page_at, exchange):
    """The order ended between the page showing it and the click (here: cancelled elsewhere,
    with the live stream blocked so the page does not hear of it): the toast says so in German
    with the order's status, and the list is brought up to date."""
    p = page_at(1440, locale="de-AT")
    pg = p.page
    pg.route("**/socket.io/**", lambda route: route.abort())
    pg.goto(p.base_url + "/lang/de?next=/")
    pg.fill("#order-quantity", "0,2")
    pg.fill("#order-price", "13,57")
    pg.click("#order-form button[type=submit]")
    row = pg.locator("#orders-body tr", has_text="13,57")
    expect(row).to_have_count(1)
    order_id = int(row.get_attribute("id").removeprefix("order-"))
    with exchange.client() as admin:
        assert admin.delete(f"/api/orders/{order_id}").status_code == 200
    row.get_by_role("button").click()
    toast = pg.locator("#flash li", has_text="ORDER_NOT_OPEN")
    expect(toast).to_contain_text(
        f"Stornierung fehlgeschlagen: Order #{order_id} ist bereits storniert und kann nicht "
        "mehr storniert werden"
    )
    expect(toast).not_to_contain_text("cannot be cancelled")
    expect(row).to_have_count(0)
    assert not [e for e in _script_errors(p) if "socket.io" not in e], p.errors
