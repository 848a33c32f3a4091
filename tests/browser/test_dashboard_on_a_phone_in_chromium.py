"""On a phone the dashboard is whole and says what it means: the order form's delivery choice
is readable (English and German), a toast leaves the header and the market selector free and
goes when tapped, and the optimised schedule shows charging as buying (the buy colour) and
discharging as selling (the sell colour), apart from the price line, with the plot given the
width on a narrow screen. The desktop layout stays as it was."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from support import ROOT, ExchangeProcess, push_swinging_prices, set_soc
from webapp_support import ADMIN_PASSWORD

SHOTS = ROOT / "test-artifacts" / "screenshots"
BUY = "rgb(34, 197, 94)"  # --color-buy #22c55e
SELL = "rgb(248, 113, 113)"  # --color-sell #f87171


@pytest.fixture(scope="module")
def exchange(tmp_path_factory) -> Iterator[ExchangeProcess]:
    """Two days of swinging prices on epex_at (the dashboard's first market): a plan to draw."""
    proc = ExchangeProcess(tmp_path_factory.mktemp("exchange")).start()
    set_soc(proc, 50.0)
    push_swinging_prices(proc)
    yield proc
    proc.stop()


@pytest.fixture
def open_dashboard(browser, webapp):
    """open_dashboard(width, lang="en") → a signed-in page on the dashboard, in a browser that
    is a phone below 640 px (touch, mobile viewport) and a desktop above."""
    contexts = []

    def make(width: int, lang: str = "en"):
        phone = width < 640
        ctx = browser.new_context(
            viewport={"width": width, "height": 844 if phone else 900},
            locale="de-AT" if lang == "de" else "en-GB",
            has_touch=phone,
            is_mobile=phone,
        )
        contexts.append(ctx)
        ctx.add_cookies([{"name": "phoenyra_lang", "value": lang, "url": webapp.base_url}])
        page = ctx.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(f"page error: {e}"))
        page.set_default_timeout(10_000)
        page.goto(webapp.base_url + "/login")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(webapp.base_url + "/")
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def _shot(target, name: str) -> None:
    """A screenshot of a page's viewport or of one element (without the sticky header, which
    would lie over an element scrolled to the top), to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    hide = "" if hasattr(target, "goto") else "header { visibility: hidden; }"
    target.screenshot(path=str(SHOTS / f"{name}.png"), style=hide)


def _overlap(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


# The width the delivery select needs to show its longest option whole: the same select (its
# classes, its font) with only that option, laid out at its own intrinsic width.
_DELIVERY_WIDTHS = """(select) => {
  const probe = select.cloneNode(false);
  probe.removeAttribute('id');
  probe.removeAttribute('name');
  probe.append(new Option(select.options[0].text));
  Object.assign(probe.style, {position: 'absolute', visibility: 'hidden', width: 'max-content'});
  select.parentElement.append(probe);
  const needed = probe.getBoundingClientRect().width;
  probe.remove();
  return {shown: select.getBoundingClientRect().width, needed, text: select.options[0].text};
}"""


# The narrowest phone with the longest words, and the common width in English.
@pytest.mark.parametrize(("width", "lang"), [(375, "de"), (390, "en")])
def test_the_delivery_choice_is_readable_on_a_phone(open_dashboard, width, lang):
    pg = open_dashboard(width, lang)
    select = pg.locator("#order-delivery")
    expect(select.locator("option")).to_have_count(33)  # continuous + 32 quarter-hours
    select.scroll_into_view_if_needed()
    _shot(pg.locator("#order-form"), f"phone-order-form-{width}-{lang}")
    widths = select.evaluate(_DELIVERY_WIDTHS)
    assert widths["text"].startswith("Kontinuierlich" if lang == "de" else "Continuous")
    # Not "Continuous (no delivery qu…": the select is as wide as its text needs.
    assert widths["shown"] >= widths["needed"] - 0.5, widths
    # Time in force stays whole beside or below it, inside the form.
    form = pg.locator("#order-form").bounding_box()
    tif = pg.locator("#order-tif").bounding_box()
    assert (
        tif["x"] >= form["x"] - 0.5 and tif["x"] + tif["width"] <= form["x"] + form["width"] + 0.5
    )
    assert pg.evaluate("document.documentElement.scrollWidth") <= width
    assert pg.errors == []


@pytest.mark.parametrize("width", [1440, 1280])
def test_on_a_desktop_the_delivery_choice_is_whole_too(open_dashboard, width):
    """The order panel is a third of the screen: at 1440 px delivery and time in force share a
    row as they always did; at 1280 px, too narrow for both, time in force goes below."""
    pg = open_dashboard(width, "de")  # the longer words
    select = pg.locator("#order-delivery")
    expect(select.locator("option")).to_have_count(33)
    widths = select.evaluate(_DELIVERY_WIDTHS)
    assert widths["shown"] >= widths["needed"] - 0.5, widths
    delivery = select.bounding_box()
    tif = pg.locator("#order-tif").bounding_box()
    if width == 1440:
        assert abs(delivery["y"] - tif["y"]) < 1, (delivery, tif)
        assert tif["x"] > delivery["x"] + delivery["width"], (delivery, tif)
    assert pg.errors == []


_TOAST = "window.phoenyra.toast('success', 'Order #7 accepted.', 60000)"


def _toast_clear_of_the_controls(pg, toast, width: int, height: int) -> None:
    box = toast.bounding_box()
    # Whole on the screen, and over neither the header nor the market selector.
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    for control in ("header", "#market-select"):
        assert not _overlap(box, pg.locator(control).bounding_box()), (control, box)


def test_a_toast_on_a_phone_leaves_the_controls_free_and_goes_when_tapped(open_dashboard):
    pg = open_dashboard(390)
    # The server's flash of the sign-in, and one the page's script shows.
    signed_in = pg.locator("#flash .toast", has_text="Signed in")
    expect(signed_in).to_have_count(1)
    pg.evaluate(_TOAST)
    accepted = pg.locator("#flash .toast", has_text="Order #7 accepted.")
    expect(accepted).to_have_count(1)
    pg.wait_for_timeout(400)  # their entry animation
    _shot(pg, "phone-toast-390")
    for toast in (signed_in, accepted):
        _toast_clear_of_the_controls(pg, toast, 390, 844)
    # Still announced as before.
    flash = pg.locator("#flash")
    expect(flash).to_have_attribute("role", "status")
    expect(flash).to_have_attribute("aria-live", "polite")
    # A tap takes each away at once (not after its 10 or 60 s).
    for toast in (signed_in, accepted):
        toast.tap()
        expect(toast).to_have_count(0, timeout=2000)
    # The list itself lets taps through to the page beneath it.
    assert flash.evaluate("(e) => getComputedStyle(e).pointerEvents") == "none"
    assert pg.errors == []


def test_a_toast_on_a_desktop_stays_top_right_and_goes_when_clicked(open_dashboard):
    pg = open_dashboard(1440)
    pg.evaluate("document.querySelectorAll('#flash .toast').forEach((t) => t.remove())")
    pg.evaluate(_TOAST)
    toast = pg.locator("#flash .toast")
    expect(toast).to_have_count(1)
    pg.wait_for_timeout(400)
    box = toast.bounding_box()
    assert abs(box["y"] - 80) < 2, box  # top-20, below the header, as before
    assert abs(box["x"] + box["width"] - (1440 - 16)) < 2, box  # right-4
    assert abs(box["width"] - 448) < 2, box  # 28rem
    toast.click()
    expect(toast).to_have_count(0, timeout=2000)
    assert pg.errors == []


# The schedule chart as drawn: each bar's value and fill, the price line's stroke, the legend,
# the y-axes that show labels or titles, and the plot's share of the chart's width.
_SCHEDULE = """() => {
  const root = document.getElementById('schedule-chart');
  const rgb = (c) => { const e = document.createElement('i'); e.style.color = c;
    document.body.append(e); const v = getComputedStyle(e).color; e.remove();
    return v.replace(/^rgba\\((\\d+), (\\d+), (\\d+), [\\d.]+\\)$/, 'rgb($1, $2, $3)'); };
  const w = ApexCharts.getChartByID('schedule').w;
  const bars = [...root.querySelectorAll('.apexcharts-bar-area')].map((p) => ({
    value: Number(p.getAttribute('val')), fill: rgb(p.getAttribute('fill'))}));
  const priceIndex = w.globals.seriesNames.findIndex((n) => n.includes('EUR/MWh'));
  const priceLine = root.querySelector('.apexcharts-line-series ' +
    `.apexcharts-series[data\\\\:realIndex="${priceIndex}"] path.apexcharts-line`);
  const legend = [...root.querySelectorAll('.apexcharts-legend-series')].map((s) => ({
    text: s.querySelector('.apexcharts-legend-text').textContent,
    color: rgb(s.querySelector('.apexcharts-legend-marker path').getAttribute('fill'))}));
  const shown = (g) => g.getBoundingClientRect().width > 0 && g.textContent.trim() !== '';
  return {
    bars, legend,
    price: priceLine ? rgb(priceLine.getAttribute('stroke')) : null,
    axes: [...root.querySelectorAll('.apexcharts-yaxis')].filter(shown).length,
    titles: [...root.querySelectorAll('.apexcharts-yaxis-title-text')].filter(shown)
      .map((t) => t.textContent),
    plotShare: w.globals.gridWidth / w.globals.svgWidth,
  };
}"""


def _schedule_drawn(pg) -> dict:
    expect(pg.locator("#sched-orders")).not_to_have_text("–", timeout=15000)
    pg.wait_for_function(
        "() => window.ApexCharts && ApexCharts.getChartByID('schedule') &&"
        " document.querySelectorAll('#schedule-chart .apexcharts-bar-area').length > 0"
    )
    pg.wait_for_timeout(600)  # its drawing animation
    return pg.locator("#schedule-chart").evaluate(f"(_) => ({_SCHEDULE})()")


@pytest.mark.parametrize(
    ("width", "lang", "words"),
    [
        (1440, "en", (("Charg", "buy"), ("Discharg", "sell"))),
        (390, "de", (("Laden", "Kauf"), ("Entladen", "Verkauf"))),
    ],
)
def test_the_schedule_shows_charging_as_buying_and_discharging_as_selling(
    open_dashboard, width, lang, words
):
    pg = open_dashboard(width, lang)
    chart = _schedule_drawn(pg)
    pg.locator("#schedule-chart").scroll_into_view_if_needed()
    _shot(pg.locator("#schedule-chart").locator("xpath=.."), f"schedule-{width}-{lang}")
    charging = {b["fill"] for b in chart["bars"] if b["value"] < -1e-6}
    discharging = {b["fill"] for b in chart["bars"] if b["value"] > 1e-6}
    assert charging == {BUY}, chart["bars"]
    assert discharging == {SELL}, chart["bars"]
    # The price line is told apart from both (it was the charging bars' gold).
    assert chart["price"] is not None and chart["price"] not in charging | discharging
    # The legend says which colour is which, in the page's language.
    (charge_word, buy_word), (discharge_word, sell_word) = words
    legend = {entry["color"]: entry["text"] for entry in chart["legend"]}
    assert charge_word in legend.get(BUY, "") and buy_word in legend[BUY], chart["legend"]
    assert discharge_word in legend.get(SELL, "") and sell_word in legend[SELL], chart["legend"]
    assert pg.errors == []


def test_the_schedule_chart_gives_the_plot_the_width_on_a_phone(open_dashboard):
    phone = _schedule_drawn(open_dashboard(390))
    # MW and SoC keep their labels; the price axis and the axis titles go (the legend and the
    # tooltip name them), so the bars and lines get the width.
    assert phone["axes"] <= 2, phone
    assert phone["titles"] == [], phone
    assert phone["plotShare"] >= 0.55, phone  # it was 0.44 with three titled axes
    desktop = _schedule_drawn(open_dashboard(1440))
    assert desktop["axes"] == 3 and len(desktop["titles"]) == 3, desktop
