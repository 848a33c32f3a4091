"""Benchmark of market indicators: one update, and GET /api/market-data under load.

Usage::

    python bench/bench_market.py [--trades 20000] [--duration 10] [--connections 16,64]

1. In process (one thread): the cost of one indicator update (``add_trade``: a trade into the
   VWAP window) and of one full read (``snapshot``: Mark, EMA over the last 100 periods, VWAP
   over 96 quarter-hours; and ``MarketData.data``, the wire dict of ``GET /api/market-data``),
   with a day of quarter-hour prices and ``--trades`` trades spread over the last 24 h.
   Reference, built only here: the naive design that recomputes every request from the raw
   rows — EMA over all periods up to now and VWAP by scanning every trade of the day. Both must
   give the same mark, EMA and VWAP (checked).
2. Over HTTP: a real ``phoenyra exchange`` (SQLite, defaults) with the same day of prices
   pushed through ``POST /api/market/prices`` and trades placed through ``POST /api/orders``;
   wrk drives ``GET /api/market-data`` at each connection count, side by side with
   ``GET /healthz`` (no auth, no work: the framework's floor on this machine).

Prints a Markdown table to stdout, progress to stderr, writes ``bench/results/market.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench_http import Server, ensure_wrk, run_wrk
from common import cpu_model, git_commit
from phoenyra.core.indicators import EMA_LOOKBACK, MarketIndicators, ema

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "market.json"
GET_LUA = HERE / "wrk_get.lua"
QH = 900


def progress(message: str) -> None:
    print(f"[bench_market] {message}", file=sys.stderr, flush=True)


def day_of_prices(now: float, rng: random.Random) -> list[tuple[int, float]]:
    qh0 = int(now // QH) * QH
    return [(qh0 + i * QH, round(rng.uniform(-20, 250), 2)) for i in range(-95, 97)]


def trades_of_day(now: float, n: int, rng: random.Random) -> list[tuple[float, float, float]]:
    return sorted(
        (now - rng.uniform(0, 86_000), round(rng.uniform(50, 120), 2), rng.randint(1, 30) / 10)
        for _ in range(n)
    )


def naive(prices, trades, now):
    """Recompute from the raw rows, as a store-driven design would per request."""
    upto = [p for s, p in prices if s <= now]
    mark = next(p for s, p in prices if s <= now < s + QH)
    first = int(now // QH) * QH - 95 * QH
    pq = q = 0.0
    for at, price, qty in trades:
        if first <= at <= now:
            pq += price * qty
            q += qty
    return mark, ema(upto[-EMA_LOOKBACK:]), (pq / q if q else None)


def per_call_us(fn, n: int, repeat: int = 5) -> dict:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n * 1e6)
    return {"median_us": statistics.median(samples), "best_us": min(samples)}


def in_process(args) -> dict:
    from phoenyra.core.markets import default_markets
    from phoenyra.exchange.events import EventBus
    from phoenyra.exchange.market import MarketData

    rng = random.Random(args.seed)
    now = time.time()
    prices = day_of_prices(now, rng)
    trades = trades_of_day(now, args.trades, rng)
    md = MarketData(default_markets(), store=None, bus=EventBus(), stale_s=900)
    md.feeds["epex_at"] = {"source": "bench", "simulated": 0, "updated_at": now}
    ind: MarketIndicators = md.indicators["epex_at"]
    for s, p in prices:
        ind.curve.put(s, s + QH, p)
    t = time.perf_counter()
    for at, price, qty in trades:
        ind.add_trade(at, price, qty)
    add_us = (time.perf_counter() - t) / len(trades) * 1e6
    snap = ind.snapshot(now)
    ref = naive(prices, trades, now)
    same = (
        snap.mark == ref[0]
        and abs(snap.ema - ref[1]) < 1e-9
        and abs(snap.vwap - ref[2]) < 1e-9 * abs(ref[2])
    )
    if not same:
        raise SystemExit(f"indicators differ from the naive recomputation: {snap} vs {ref}")
    progress(f"add_trade {add_us:.2f} µs; checked against the naive recomputation")
    out = {
        "trades_in_window": len(trades),
        "add_trade_us": add_us,
        "add_trade_more": per_call_us(lambda: ind.add_trade(now, 80.0, 1.0), 100_000),
        "snapshot": per_call_us(lambda: ind.snapshot(now), 20_000),
        "market_data_wire": per_call_us(lambda: md.data("epex_at", now), 20_000),
        "naive_recompute": per_call_us(lambda: naive(prices, trades, now), 20),
        "cross_check": "mark, EMA and VWAP equal the naive recomputation",
    }
    out["ratio_naive_over_snapshot"] = (
        out["naive_recompute"]["median_us"] / out["snapshot"]["median_us"]
    )
    return out


def prepare(server: Server, trades: int, rng: random.Random) -> None:
    now = time.time()
    body = {
        "market": "epex_at",
        "source": "bench",
        "intervals": [
            {
                "start": datetime.fromtimestamp(s, UTC).isoformat(),
                "end": datetime.fromtimestamp(s + QH, UTC).isoformat(),
                "resolution": "PT15M",
                "price": p,
            }
            for s, p in day_of_prices(now, rng)
        ],
    }
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        r = c.post("/api/market/prices", json=body, headers={"X-API-Key": "demo-feed"})
        r.raise_for_status()
    seller, buyer = server.create_accounts(2)
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        for i in range(trades):
            price = 80 + (i % 50) / 10
            for key, side in ((seller, "SELL"), (buyer, "BUY")):
                r = c.post(
                    "/api/orders",
                    json={"market": "epex_at", "side": side, "quantity": 0.5, "price": price},
                    headers={"X-API-Key": key},
                )
                r.raise_for_status()


def over_http(args) -> list[dict]:
    ensure_wrk()
    rows = []
    server = Server("exchange", None, keep=False).start()
    try:
        progress(f"exchange at {server.base_url}; loading prices and {args.http_trades} trades")
        prepare(server, args.http_trades, random.Random(args.seed))
        for path in ("/api/market-data?market=epex_at", "/healthz"):
            for c in args.connections:
                run_wrk(server.base_url, [], c, 1, 2, 0, None, GET_LUA, ["demo", path])
                res, _ = run_wrk(
                    server.base_url, [], c, 1, args.duration, 0, None, GET_LUA, ["demo", path]
                )
                ok = res["statuses"].get("200", 0)
                row = {
                    "path": path,
                    "connections": c,
                    "requests_per_s": res["requests"] / (res["duration_us"] / 1e6),
                    "non_200": res["requests"] - ok,
                    "latency_ms": {
                        k: res["latency_us"][k] / 1000 for k in ("p50", "p90", "p99", "max")
                    },
                }
                progress(
                    f"{path} c={c}: {row['requests_per_s']:,.0f} req/s, "
                    f"p99 {row['latency_ms']['p99']:.2f} ms"
                )
                rows.append(row)
    finally:
        server.stop()
        server.cleanup()
    return rows


def markdown(proc: dict, http: list[dict]) -> str:
    lines = [
        "| in process | µs per call (median) | best |",
        "|---|---:|---:|",
        f"| add_trade (one indicator update) | {proc['add_trade_more']['median_us']:.2f} | "
        f"{proc['add_trade_more']['best_us']:.2f} |",
        f"| snapshot (Mark, EMA, VWAP) | {proc['snapshot']['median_us']:.2f} | "
        f"{proc['snapshot']['best_us']:.2f} |",
        f"| GET /api/market-data body (wire dict) | {proc['market_data_wire']['median_us']:.2f} | "
        f"{proc['market_data_wire']['best_us']:.2f} |",
        f"| naive recompute ({proc['trades_in_window']:,} trades) | "
        f"{proc['naive_recompute']['median_us']:,.0f} | "
        f"{proc['naive_recompute']['best_us']:,.0f} |",
        f"| **ratio naive / snapshot** | **{proc['ratio_naive_over_snapshot']:,.0f}×** | |",
        "",
        "| HTTP | connections | requests/s | p50 ms | p99 ms | non-200 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in http:
        lines.append(
            f"| GET {r['path']} | {r['connections']} | {r['requests_per_s']:,.0f} | "
            f"{r['latency_ms']['p50']:.2f} | {r['latency_ms']['p99']:.2f} | {r['non_200']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=20_000, help="trades in the window")
    parser.add_argument("--http-trades", type=int, default=500, help="trades placed over HTTP")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", default="16,64")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",")]
    proc = in_process(args)
    http = [] if args.skip_http else over_http(args)
    table = markdown(proc, http)
    print(table)
    result = {
        "benchmark": "market",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": {"cpu": cpu_model(), "python": platform.python_version()},
        "in_process": proc,
        "http": http,
        "table": table,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
