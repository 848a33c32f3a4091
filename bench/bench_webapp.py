"""Web app in real headless Chromium: dashboard load time and bytes, and event-to-screen latency.

- **Load**: a real exchange (SQLite, two days of quarter-hour prices, a battery reading) and a
  real web app process; each run opens the dashboard in a fresh browser context (cold cache)
  and reads the Navigation and Resource Timing entries: DOMContentLoaded, load, and the bytes
  transferred for the document and every resource it pulled until the network was idle (the
  API calls that fill the page included). A warm run reloads in the same context.
- **Event to screen**: with the dashboard open and live, a telemetry reading is POSTed to the
  exchange with a new state of charge; the page records (MutationObserver, Date.now()) when the
  SoC card holds the new value and when its number ticker has finished counting to it. The
  latency is from just before the POST (time.time() on the same clock) to each of those.

Targets (issue 6): DOMContentLoaded < 500 ms on localhost, < 1 MB transferred; event-to-screen
p95 < 300 ms. Run: ``.venv/bin/python bench/bench_webapp.py [--loads 30] [--events 200]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import git_commit, git_dirty, machine, version_of  # noqa: E402
from support import ExchangeProcess, set_soc  # noqa: E402
from webapp_support import WebappProcess  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
QH = 900


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def push_prices(exchange) -> None:
    first = int(time.time() // 86_400) * 86_400
    iso = lambda t: datetime.fromtimestamp(t, UTC).isoformat()  # noqa: E731
    intervals = [
        {
            "start": iso(first + i * QH),
            "end": iso(first + (i + 1) * QH),
            "resolution": "PT15M",
            "price": 60 + 40 * ((i % 96) / 96),
        }
        for i in range(192)
    ]
    with exchange.client("demo-feed") as c:
        body = {"market": "epex_at", "source": "entsoe", "simulated": False, "intervals": intervals}
        c.post("/api/market/prices", json=body).raise_for_status()


LOAD_METRICS = """() => new Promise(resolve => {
  const done = () => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    resolve({
      dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
      bytes: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
      decoded: nav.decodedBodySize + res.reduce((a, r) => a + r.decodedBodySize, 0),
      requests: 1 + res.length,
    });
  };
  if (document.readyState === 'complete') setTimeout(done, 0);
  else addEventListener('load', () => setTimeout(done, 0));
})"""

WATCH = """() => {
  window.__soc = [];
  const el = document.getElementById('bess-soc');
  new MutationObserver(() => {
    window.__soc.push({v: el.dataset.value, text: el.textContent, t: Date.now()});
  }).observe(el, {attributes: true, childList: true, characterData: true, subtree: true});
}"""


def bench_loads(browser, base_url: str, n: int) -> dict:
    cold, warm = [], []
    for i in range(n):
        ctx = browser.new_context(viewport={"width": 1440, "height": 900})
        page = ctx.new_page()
        page.goto(base_url + "/", wait_until="networkidle")
        cold.append(page.evaluate(LOAD_METRICS))
        page.reload(wait_until="networkidle")
        warm.append(page.evaluate(LOAD_METRICS))
        ctx.close()
        print(f"\rloads {i + 1}/{n}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    def summary(rows):
        return {
            "dcl_ms_median": statistics.median(r["dcl"] for r in rows),
            "dcl_ms_p95": pct([r["dcl"] for r in rows], 95),
            "load_ms_median": statistics.median(r["load"] for r in rows),
            "bytes_median": statistics.median(r["bytes"] for r in rows),
            "decoded_bytes_median": statistics.median(r["decoded"] for r in rows),
            "requests_median": statistics.median(r["requests"] for r in rows),
        }

    return {"cold": summary(cold), "warm": summary(warm), "runs": n}


def bench_events(browser, base_url: str, exchange, n: int) -> dict:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    page.goto(base_url + "/", wait_until="networkidle")
    page.wait_for_function("document.getElementById('connection-state').dataset.state === 'live'")
    page.evaluate(WATCH)
    received, settled = [], []
    with exchange.client("demo-bess") as c:
        for i in range(n):
            soc = 20.0 + (i % 600) / 10 + 0.1  # a new value every time
            page.evaluate("window.__soc = []")
            t0 = time.time() * 1000
            r = c.post(
                "/api/bess/telemetry",
                json={"soc_percent": soc, "power_mw": 0.1, "temperature_c": 25.0},
            )
            r.raise_for_status()
            text = f"{soc:.1f}"
            page.wait_for_function(
                "([v, text]) => window.__soc.some(e => Number(e.v) === v && e.text === text)",
                arg=[soc, text],
                timeout=5000,
            )
            log = page.evaluate("window.__soc")
            got = next(e["t"] for e in log if e["v"] and float(e["v"]) == soc)
            done = next(
                e["t"] for e in log if e["v"] and float(e["v"]) == soc and e["text"] == text
            )
            received.append(got - t0)
            settled.append(done - t0)
            time.sleep(0.05)
            print(f"\revents {i + 1}/{n}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    ctx.close()

    def summary(values):
        return {
            "p50_ms": statistics.median(values),
            "p95_ms": pct(values, 95),
            "p99_ms": pct(values, 99),
            "max_ms": max(values),
        }

    return {"events": n, "card_updated": summary(received), "ticker_settled": summary(settled)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loads", type=int, default=30)
    ap.add_argument("--events", type=int, default=200)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    browser_version = None
    with tempfile.TemporaryDirectory() as tmp:
        exchange = ExchangeProcess(Path(tmp) / "exchange").start()
        # No sign-in (development without an admin password): the page is measured, not the
        # login form.
        webapp = WebappProcess(exchange, Path(tmp) / "webapp", WEBAPP_ADMIN_PASSWORD="")
        webapp.start()
        try:
            push_prices(exchange)
            set_soc(exchange, 50.0)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                browser_version = browser.version
                loads = bench_loads(browser, webapp.base_url, args.loads)
                events = bench_events(browser, webapp.base_url, exchange, args.events)
                browser.close()
        finally:
            webapp.stop()
            exchange.stop()

    c, w = loads["cold"], loads["warm"]
    cu, ts = events["card_updated"], events["ticker_settled"]
    print(
        "\n| dashboard load (1440 px, localhost) | DOMContentLoaded median / p95 | load | "
        "transferred | uncompressed | requests |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in (("cold cache", c), ("warm cache (reload)", w)):
        print(
            f"| {name} | {s['dcl_ms_median']:.0f} / {s['dcl_ms_p95']:.0f} ms | "
            f"{s['load_ms_median']:.0f} ms | {s['bytes_median'] / 1024:.0f} KiB | "
            f"{s['decoded_bytes_median'] / 1024:.0f} KiB | {s['requests_median']:.0f} |"
        )
    print(f"\n| telemetry POST → SoC card ({events['events']} events) | p50 | p95 | p99 | max |")
    print("|---|---:|---:|---:|---:|")
    for name, s in (("card holds the new value", cu), ("number ticker settled", ts)):
        print(
            f"| {name} | {s['p50_ms']:.1f} ms | {s['p95_ms']:.1f} ms | {s['p99_ms']:.1f} ms | "
            f"{s['max_ms']:.1f} ms |"
        )
    out = {
        "benchmark": "webapp",
        "date": datetime.now(UTC).isoformat(),
        "commit": git_commit(),
        "dirty": git_dirty(),
        "machine": machine(
            chromium=browser_version,
            playwright=version_of("playwright"),
            load_average_before=load_before,
            load_average_after=os.getloadavg()[0],
        ),
        "targets": {"dcl_ms": 500, "bytes": 1_000_000, "event_to_screen_p95_ms": 300},
        "loads": loads,
        "events": events,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "webapp.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
