"""Fixtures for the browser tests: a real exchange, a real web app process, and Debian's
Chromium driven by Playwright. Screenshots land in test-artifacts/screenshots/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import (
    ROOT,
    ExchangeProcess,
    free_port,
    modbus_telemetry_env,
    service_missing,
    set_soc,
    spawn_cli,
)
from webapp_support import ADMIN_PASSWORD, WebappProcess

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        service_missing(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def exchange(tmp_path_factory) -> Iterator[ExchangeProcess]:
    proc = ExchangeProcess(tmp_path_factory.mktemp("exchange")).start()
    set_soc(proc, 50.0)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def modbus_battery(exchange, tmp_path_factory):
    """A simulated battery on Modbus TCP read by `phoenyra bess-telemetry` configured from its
    environment only (nothing saved)."""
    sim_port = free_port()
    logs = tmp_path_factory.mktemp("telemetry")
    env = modbus_telemetry_env(
        exchange.base_url, sim_port, BESS_UPDATE_INTERVAL="1", BESS_CONFIG_POLL_S="0.5"
    )
    procs = [spawn_cli(["simulate-bess", "--port", str(sim_port)], env, logs / "sim.log")]
    time.sleep(1.0)
    procs.append(spawn_cli(["bess-telemetry"], env, logs / "telemetry.log"))
    try:
        deadline = time.monotonic() + 20
        with exchange.client() as admin:
            while True:
                loaded = admin.get("/api/config/load").json()
                status = admin.get("/api/bess/status").json()
                if loaded["origin"] == "environment" and status["source"] == "modbus":
                    break
                if time.monotonic() > deadline:
                    raise AssertionError((logs / "telemetry.log").read_text())
                time.sleep(0.2)
        yield sim_port
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def webapp(exchange, tmp_path_factory) -> Iterator[WebappProcess]:
    proc = WebappProcess(exchange, tmp_path_factory.mktemp("webapp")).start()
    yield proc
    proc.stop()


class Page:
    """A Playwright page that records console errors and failed requests."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def goto(self, path: str):
        return self.page.goto(self.base_url + path)

    def sign_in(self, name: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        self.goto("/login")
        self.page.fill("#username", name)
        self.page.fill("#password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base_url + "/")

    def shot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}.png"
        # From the top: a full-page shot of a scrolled page draws the sticky header mid-page.
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def axe_violations(self) -> list[dict]:
        """axe-core's WCAG 2 A/AA violations on the page as it is now."""
        self.page.add_script_tag(path=str(AXE))
        return self.page.evaluate(
            """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}))
                 .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
        )


@pytest.fixture
def page_at(browser, webapp):
    """page_at(width, locale="en-GB") → a signed-in Page at the dashboard's origin (the
    browser's time zone: timezone_id, else the machine's)."""
    contexts = []

    def make(
        width: int = 1440,
        locale: str = "en-GB",
        sign_in: bool = True,
        bypass_csp: bool = False,
        timezone_id: str | None = None,
        height: int = 900,
    ) -> Page:
        # bypass_csp only lets the accessibility checker's script in; the pages never need it.
        ctx = browser.new_context(
            viewport={"width": width, "height": height},
            locale=locale,
            bypass_csp=bypass_csp,
            timezone_id=timezone_id,
        )
        contexts.append(ctx)
        page = Page(ctx.new_page(), webapp.base_url)
        page.page.set_default_timeout(10_000)
        if sign_in:
            page.sign_in()
        return page

    yield make
    for ctx in contexts:
        ctx.close()
