"""The telemetry configuration page, the trade history and signing in, in real Chromium."""

from __future__ import annotations

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
    pg.fill("#key-name", "site-a-ems")
    pg.click("#key-create button[type=submit]")
    expect(pg.locator("#key-shown")).to_be_visible()
    value = pg.locator("#key-value").inner_text()
    assert value.startswith("phx_")
    expect(pg.locator("#keys-body")).to_contain_text("site-a-ems")
    p.shot("config-rest-375")
    assert pg.evaluate("document.documentElement.scrollWidth") <= 375


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
