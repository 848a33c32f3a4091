"""A simulated counterparty for the demo: quotes bids and offers around the day-ahead price.

On a real exchange the other side of the operator's orders are other market participants. On
one machine there are none, so an order from the dashboard would only ever rest in the book. In
development ``phoenyra up`` starts this market maker: an ordinary trader account that is *not*
linked to a battery (so only validation and throttling apply to it), quoting every product the
operator can trade — the continuous book around the Mark, and each of the next quarter-hours
around that quarter-hour's day-ahead price — and topping its quotes up as they are hit.

Its orders go through the public API like anyone's; it is labelled a simulation wherever it
shows (the account is called ``simulated-counterparty``).

``plan_quotes`` is pure (time and prices are passed in); ``run`` is the loop around the API.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ..core.markets import QUARTER_HOUR

log = logging.getLogger("phoenyra.counterparty")


@dataclass(frozen=True)
class QuoteParams:
    market: str = "epex_at"
    spread: float = 4.0  # EUR/MWh between the best bid and the best offer
    level_step: float = 2.0  # EUR/MWh between levels
    levels: int = 2
    size_mwh: float = 2.0  # per level
    products: int = 12  # quarter-hours ahead quoted
    gate_closure_s: int = 300
    tick: float = 0.01
    lot: float = 0.1

    def __post_init__(self) -> None:
        # A spread under one tick would put its own bid on its own offer.
        if self.spread < self.tick or self.level_step < 0 or self.levels < 1 or self.size_mwh <= 0:
            raise ValueError("spread ≥ one tick, level step ≥ 0, at least one level, size > 0")


# (delivery start in epoch seconds or None for the continuous book, side) → limit prices
Quotes = dict[tuple[int | None, str], list[float]]


def _round(value: float, step: float) -> float:
    return round(round(value / step) * step, 6)


def plan_quotes(now: float, prices: dict[int, float], mark: float | None, p: QuoteParams) -> Quotes:
    """The quotes wanted now. ``prices``: day-ahead price per quarter-hour start (an hourly price
    stands for its four quarter-hours); ``mark``: the continuous book's reference."""
    out: Quotes = {}

    def ladder(key: int | None, ref: float) -> None:
        half = p.spread / 2
        out[(key, "BUY")] = [_round(ref - half - i * p.level_step, p.tick) for i in range(p.levels)]
        out[(key, "SELL")] = [
            _round(ref + half + i * p.level_step, p.tick) for i in range(p.levels)
        ]

    if mark is not None:
        ladder(None, mark)
    first = math.ceil((now + p.gate_closure_s + 1) / QUARTER_HOUR) * QUARTER_HOUR
    for i in range(p.products):
        start = first + i * QUARTER_HOUR
        if start in prices:
            ladder(start, prices[start])
    return out


def reconcile(wanted: Quotes, open_orders: list[dict], size: float) -> tuple[list[int], list]:
    """(ids to cancel, (delivery start, side, price) to place): an open quote at a wanted price
    is kept while at least half its size is left; everything else is replaced."""
    keep: dict[tuple[int | None, str], set[float]] = {}
    cancel: list[int] = []
    for o in open_orders:
        key = (o["delivery_start"], o["side"])
        kept = keep.setdefault(key, set())
        wanted_here = o["price"] in wanted.get(key, ())
        if wanted_here and o["remaining"] >= size / 2 - 1e-9 and o["price"] not in kept:
            kept.add(o["price"])
            continue
        cancel.append(o["id"])
    place = [
        (key[0], key[1], price)
        for key, ladder in wanted.items()
        for price in ladder
        if price not in keep.get(key, set())
    ]
    return cancel, place


def _epoch(iso: str | None) -> int | None:
    if iso is None:
        return None
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


async def run_once(client: httpx.AsyncClient, p: QuoteParams) -> tuple[int, int]:
    """One round: read prices and our open quotes, cancel the stale, place the missing."""
    now = time.time()
    md = (await client.get("/api/market-data", params={"market": p.market})).raise_for_status()
    rows = (
        await client.get(
            "/market/prices",
            params={"market": p.market, "start": _iso(int(now)), "end": _iso(int(now) + 86_400)},
        )
    ).raise_for_status()
    prices: dict[int, float] = {}
    for r in sorted(rows.json(), key=lambda r: r["resolution"] != "PT15M"):
        start, end = _epoch(r["start"]), _epoch(r["end"])
        for qh in range(start, end, QUARTER_HOUR):
            prices.setdefault(qh, r["price"])  # a quarter-hour price wins over its hour's
    mine = (await client.get("/api/orders", params={"market": p.market})).raise_for_status()
    open_orders = [{**o, "delivery_start": _epoch(o["delivery_start"])} for o in mine.json()]
    cancel, place = reconcile(
        plan_quotes(now, prices, md.json()["mark"], p), open_orders, p.size_mwh
    )
    for order_id in cancel:
        r = await client.delete(f"/api/orders/{order_id}")
        if r.status_code not in (200, 404, 409):
            log.warning("cancel %s: %s %s", order_id, r.status_code, r.text[:200])
    placed = 0
    for start, side, price in place:
        body = {
            "market": p.market,
            "side": side,
            "quantity": p.size_mwh,
            "price": price,
            "time_in_force": "GTC",
        }
        if start is not None:
            body["delivery_start"] = _iso(start)
        r = await client.post("/api/orders", json=body)
        if r.status_code == 201:
            placed += 1
        elif r.status_code != 409:  # a product that just closed: the next round skips it
            log.warning("quote %s %s @ %s: %s %s", side, start, price, r.status_code, r.text[:200])
    return len(cancel), placed


async def run(base_url: str, api_key: str, p: QuoteParams, interval_s: float, verify=True) -> None:
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-API-Key": api_key}, timeout=10.0, verify=verify
    ) as client:
        failing = False
        while True:
            try:
                cancelled, placed = await run_once(client, p)
                if failing or placed or cancelled:
                    log.info("quotes refreshed: %d placed, %d cancelled", placed, cancelled)
                failing = False
            except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
                if not failing:  # once per failure streak
                    log.warning(
                        "cannot quote on %s: %s; retrying every %g s", base_url, exc, interval_s
                    )
                failing = True
            # After a failure (the exchange still starting), try again soon.
            await asyncio.sleep(min(interval_s, 2.0) if failing else interval_s)
