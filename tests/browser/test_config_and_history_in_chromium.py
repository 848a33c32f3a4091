"""The telemetry configuration page, the trade history and signing in, in real Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from support import ROOT, free_port, new_trader


@pytest.fixture(scope="module")
def sma_battery(tmp_path_factory):
    """Our simulated battery serving the SMA register map over real Modbus TCP (pymodbus)."""
    port = free_port()
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "phoenyra.cli",
                "simulate-bess",
                "--preset",
                "sma",
                "--port",
                str(port),
                "--initial-soc",
                "66",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(log.read_text())
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_config_page_loads_a_preset_tests_the_connection_and_saves(page_at, sma_battery, exchange):
    p = page_at()
    pg = p.page
    p.goto("/config")
    pg.select_option("#mb-preset", "sma")
    expect(pg.locator("#mb-preset-info")).to_contain_text("SMA")
    # The preset fills the register map: SoC at 30845 (SMA's BAT_ChaStt), a u32.
    soc_row = pg.locator('#map-body tr[data-field="soc_percent"]')
    expect(soc_row.locator('[data-k="address"]')).to_have_value("30845")
    expect(soc_row.locator('[data-k="type"]')).to_have_value("u32")
    pg.fill("#mb-host", "127.0.0.1")
    pg.fill("#mb-port", str(sma_battery))
    pg.check("#mb-enabled")
    pg.click('[data-test="modbus"]')
    result = pg.locator('[data-result="modbus"]')
    expect(result.locator('[data-outcome="ok"]')).to_be_visible()
    expect(result).to_contain_text("66")  # the simulator's state of charge, read over Modbus
    pg.locator("#map-box [data-save]").click()
    expect(pg.locator("#flash")).to_contain_text("saved as version")
    p.shot("config-1440")

    saved = exchange.client().get("/api/config/load").json()
    assert saved["version"] >= 1
    assert saved["config"]["modbus"] | {"enabled": True} == saved["config"]["modbus"]
    assert (saved["config"]["modbus"]["preset"], saved["config"]["modbus"]["port"]) == (
        "sma",
        sma_battery,
    )
    pg.reload()
    expect(pg.locator("#mb-preset")).to_have_value("sma")
    expect(pg.locator("#cfg-version")).to_contain_text(str(saved["version"]))
    assert p.errors == []


def test_a_failed_connection_test_names_the_failure(page_at):
    p = page_at()
    pg = p.page
    p.goto("/config")
    pg.select_option("#mb-preset", "generic")
    pg.fill("#mb-host", "127.0.0.1")
    pg.fill("#mb-port", str(free_port()))  # nothing listens there
    pg.click('[data-test="modbus"]')
    failure = pg.locator('[data-result="modbus"] [data-outcome="error"]')
    expect(failure).to_have_attribute("data-code", "refused")
    # What it means comes first, in words; the device's own details after it.
    expect(failure.locator("[data-meaning]")).to_contain_text("refused the connection")
    expect(failure).to_contain_text("Details:")
    # Changing the settings it was about takes the result away.
    pg.fill("#mb-port", "5020")
    expect(pg.locator('[data-result="modbus"]')).to_be_hidden()


def test_telemetry_page_in_german_keeps_its_tab_and_says_failures_in_german(page_at):
    p = page_at(locale="de-AT")
    pg = p.page
    p.goto("/config#mqtt")
    expect(pg.locator("#panel-mqtt")).to_be_visible()
    pg.click('a[hreflang="de"]')
    expect(pg.locator("html")).to_have_attribute("lang", "de")
    expect(pg.locator("#panel-mqtt")).to_be_visible()  # the tab survived the switch
    pg.click("#tab-modbus")
    # The presets' titles and notes in German too (the exchange describes them in English).
    expect(pg.locator('#mb-preset option[value="generic"]')).to_have_text(
        "Generisches Modbus-BESS (der einfache Fall der Spezifikation)"
    )
    pg.select_option("#mb-preset", "generic")
    pg.fill("#mb-host", "127.0.0.1")
    pg.fill("#mb-port", str(free_port()))
    pg.click('[data-test="modbus"]')
    failure = pg.locator('[data-result="modbus"] [data-outcome="error"]')
    expect(failure.locator("[data-meaning]")).to_have_text(
        "Das Gerät hat die Verbindung abgelehnt: Ist sein Server eingeschaltet, und stimmen "
        "Host und Port?"
    )
    p.shot("config-de-failed-test-1440")
    # An empty poll interval is missing (it was sent as 0 and refused as "≥ 0.2").
    pg.fill("#cfg-interval", "")
    pg.locator("#panel-modbus [data-save]:visible").first.click()
    expect(pg.locator("#flash")).to_contain_text("Abfrageintervall (s) fehlt.")
    # Below the exchange's limit: its refusal in German with the field's label and the limit.
    pg.fill("#cfg-interval", "0.1")
    pg.locator("#panel-modbus [data-save]:visible").first.click()
    expect(pg.locator("#flash")).to_contain_text("Abfrageintervall (s) muss mindestens 0,2 sein.")
    expect(pg.locator("#flash")).not_to_contain_text("Input should")


def test_editing_the_register_map_makes_a_custom_map(page_at):
    p = page_at()
    pg = p.page
    p.goto("/config")
    pg.select_option("#mb-preset", "generic")
    pg.locator('#map-body tr[data-field="soc_percent"] [data-k="address"]').fill("100")
    pg.locator('#map-body tr[data-field="soc_percent"] [data-k="address"]').dispatch_event("change")
    expect(pg.locator("#mb-preset")).to_have_value("__custom__")


def test_the_tesla_preset_says_it_reads_https_not_modbus(page_at):
    p = page_at()
    p.goto("/config")
    p.page.select_option("#mb-preset", "tesla-powerwall")
    expect(p.page.locator("#https-box")).to_be_visible()
    expect(p.page.locator("#https-box")).to_contain_text("no public Modbus interface")
    expect(p.page.locator("#map-box")).to_be_hidden()


def test_config_tabs_and_a_telemetry_key_shown_once(page_at):
    p = page_at(375)
    pg = p.page
    p.goto("/config")
    pg.click("#tab-mqtt")
    expect(pg.locator("#panel-mqtt")).to_be_visible()
    expect(pg.locator('#topic-body tr[data-field="soc_percent"] [data-k="topic"]')).to_have_value(
        "bess/soc"
    )
    pg.click("#tab-rest")
    # The browser checks the name by the exchange's rule (its pattern is a valid expression:
    # Chromium ignored the old one and logged an error), and says the rule.
    name = pg.locator("#key-name")
    for bad in ("site a!", " padded", "with/slash"):
        name.fill(bad)
        assert name.evaluate("el => el.validity.patternMismatch"), bad
    for good in ("site-a-ems", "Site A@ems.1"):
        name.fill(good)
        assert name.evaluate("el => el.validity.valid"), good
    assert "spaces inside" in (name.get_attribute("title") or "")
    pg.fill("#key-name", "site-a-ems")
    pg.click("#key-create button[type=submit]")
    expect(pg.locator("#key-shown")).to_be_visible()
    value = pg.locator("#key-value").inner_text()
    assert value.startswith("phx_")
    expect(pg.locator("#keys-body")).to_contain_text("site-a-ems")
    p.shot("config-rest-375")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375
    assert not [e for e in p.errors if "pattern" in e.lower()], p.errors


def test_trade_history_filters_and_exports_csv(page_at, exchange):
    seller, buyer = new_trader(exchange), new_trader(exchange)
    with seller, buyer:
        for price in (31.0, 32.0):
            seller.post(
                "/api/orders",
                json={"market": "epex_de", "side": "SELL", "quantity": 0.4, "price": price},
            )
            buyer.post(
                "/api/orders",
                json={"market": "epex_de", "side": "BUY", "quantity": 0.4, "price": price},
            )
    p = page_at()
    pg = p.page
    p.goto("/history")
    pg.select_option("#f-mine", "false")
    pg.select_option("#f-market", "epex_de")
    pg.click("#history-filters button[type=submit]")
    rows = pg.locator("#history-body tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("32.00")
    p.shot("history-1440")
    with pg.expect_download() as info:
        pg.click("#csv-export")
    csv_text = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
    assert csv_text[0].startswith("id,executed_at,market,delivery_start,side,quantity_mwh")
    assert len(csv_text) == 3 and all(",epex_de," in line for line in csv_text[1:])
    # The aggressor in words, as the side beside it.
    expect(rows.first.locator("td").last).to_have_text(re.compile("^(Buy|Sell)$"))
    # A filter that finds nothing says so (not "No trades yet."); a side means our trades.
    pg.select_option("#f-market", "epex_it")
    pg.click("#history-filters button[type=submit]")
    expect(pg.locator("#history-body")).to_have_text("No trades match these filters.")
    pg.select_option("#f-side", "BUY")
    expect(pg.locator("#f-mine")).to_be_disabled()
    expect(pg.locator("#f-mine")).to_have_value("true")
    pg.select_option("#f-side", "")
    expect(pg.locator("#f-mine")).to_be_enabled()
    # A range that ends before it starts is refused in the form; the table stays as it was.
    pg.fill("#f-since", "2026-12-01")
    pg.fill("#f-until", "2026-11-01")
    pg.click("#history-filters button[type=submit]")
    assert pg.locator("#f-until").evaluate("el => el.validationMessage") == (
        "'Until' must be a later day than 'From'."
    )
    expect(pg.locator("#history-body")).to_have_text("No trades match these filters.")
    assert p.errors == []


def test_sign_in_is_required_and_a_forged_form_is_refused(page_at, webapp):
    p = page_at(sign_in=False)
    pg = p.page
    p.goto("/")
    expect(pg).to_have_url(f"{webapp.base_url}/login?next=/")
    pg.fill("#username", "admin")
    pg.fill("#password", "wrong")
    pg.click("button[type=submit]")
    expect(pg.locator("#flash")).to_contain_text("Wrong user name or password.")
    p.shot("login-1440")
    p.sign_in()
    # A form whose CSRF token is not the session's is refused and changes nothing.
    pg.evaluate("document.querySelector('#order-form input[name=csrf_token]').value = 'forged'")
    pg.evaluate("document.getElementById('order-form').submit()")
    expect(pg.locator("#error")).to_contain_text("CSRF")
    r = httpx.get(f"{webapp.base_url}/healthz")
    assert r.status_code == 200
