"""An operator switches dispatch on in the telemetry page: the running telemetry service applies
it, and what the battery's account trades becomes the simulated battery's power setpoint;
switched off again, the battery is set idle."""

from __future__ import annotations

from playwright.sync_api import expect

from support import new_trader, read_setpoint_mw, wait_for


def test_dispatch_ticked_in_the_page_drives_the_battery_and_unticked_sets_it_idle(
    page_at, exchange, modbus_battery
):
    p = page_at()
    pg = p.page
    p.errors.clear()  # only this page's (signing in showed the dashboard)
    p.goto("/config")
    expect(pg.locator("#mb-enabled")).to_be_checked()
    expect(pg.locator("#mb-dispatch")).not_to_be_checked()  # off unless switched on
    expect(pg.locator("#mb-dispatch-help")).to_contain_text("setpoint is set to 0 MW")
    pg.check("#mb-dispatch")
    pg.locator("#map-box [data-save]").click()
    expect(pg.locator("#flash")).to_contain_text("saved as version 1")
    with exchange.client() as admin:
        assert admin.get("/api/config/load").json()["config"]["modbus"]["dispatch"] is True
    # The operator's account buys 0.1 MWh on the continuous book: 6 minutes at −1 MW.
    with new_trader(exchange, battery_id="default") as me, new_trader(exchange) as other:
        offer = {"market": "epex_at", "side": "SELL", "quantity": 0.1, "price": 10.0}
        assert other.post("/api/orders", json=offer).status_code == 201
        assert me.post("/api/orders", json={**offer, "side": "BUY"}).json()["status"] == "FILLED"
    wait_for(lambda: read_setpoint_mw(modbus_battery) == -1.0, 20, "the −1 MW setpoint", [])
    with exchange.client() as admin:
        status = admin.get
        wait_for(lambda: status("/api/bess/status").json()["power_mw"] == -1.0, 20, "charging", [])
    # The dashboard says what the trades ask of the battery.
    p.goto("/")
    expect(pg.locator("#bess-dispatch-text")).to_contain_text("Trades: charge 1.00 MW until")
    # Reloaded, the page shows dispatch on; switched off, the battery is set idle.
    p.goto("/config")
    expect(pg.locator("#mb-dispatch")).to_be_checked()
    pg.uncheck("#mb-dispatch")
    pg.locator("#map-box [data-save]").click()
    expect(pg.locator("#flash")).to_contain_text("saved as version 2")
    wait_for(lambda: read_setpoint_mw(modbus_battery) == 0.0, 20, "the battery idle", [])
    assert p.errors == []
