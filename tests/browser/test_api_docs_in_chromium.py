"""The exchange's API docs (/docs) in real headless Chromium with every other host unreachable,
as in an offline control room: Swagger UI still renders the API."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import expect

from support import ROOT

SHOTS = ROOT / "test-artifacts" / "screenshots"


def test_api_docs_render_with_no_other_host_reachable(browser, exchange):
    origin = urlsplit(exchange.base_url)
    elsewhere: list[str] = []

    def offline(route):
        url = urlsplit(route.request.url)
        if (url.scheme, url.netloc) == (origin.scheme, origin.netloc):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", offline)
        page.goto(exchange.base_url + "/docs")

        expect(page.locator("#swagger-ui .info .title")).to_contain_text("Phoenyra BESS Trade")
        place = page.locator(".opblock.opblock-post", has=page.locator('[data-path="/api/orders"]'))
        expect(place.first).to_be_visible()
        # Opening the operation shows its documented request body (the OrderIn schema).
        place.first.locator(".opblock-summary").first.click()
        expect(place.first.locator(".opblock-body")).to_contain_text("market")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "exchange-api-docs.png"))
        assert elsewhere == [], f"/docs asked other hosts for {elsewhere}"
        assert errors == []
    finally:
        ctx.close()
