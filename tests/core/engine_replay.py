"""Replay a seeded random stream through the core and print a digest of every answer.

``python tests/core/engine_replay.py --seed 7 --ops 20000`` prints one JSON line: whether the
compiled core ran, a SHA-256 over every answer (orders, trades, touched orders, refusals with
their codes, expiries, price and quantity conversions, the final books) and a few counts.
test_native_core.py runs it under the compiled and the pure-Python core: the digests must match.

The stream covers the three self-trade rules, both trade-price rules, GTC/IOC/FOK, the
continuous book and quarter-hour products that pass gate closure while it runs (so orders
expire and late ones are refused), cancels of open and closed orders, repeated client order
ids, and wire values on and off the tick and lot grid. Orders pass the risk checks first, as in
the exchange (throttle, two battery-linked accounts whose readings change as it runs, energy
and power limits), and every result updates the risk state and each market's indicators
(positions, open energy, VWAP, EMA, mark), which are part of the digest too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random

from phoenyra import core
from phoenyra.core.engine import MatchingEngine
from phoenyra.core.errors import Reject
from phoenyra.core.indicators import MarketIndicators
from phoenyra.core.markets import MarketSpec, PriceRule, SelfTradePrevention
from phoenyra.core.orders import BUY, SELL, TimeInForce
from phoenyra.core.risk import BatteryLimits, BatteryState, RiskManager

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
MARKETS = {
    "avg_resting": MarketSpec("avg_resting"),
    "maker_incoming": MarketSpec(
        "maker_incoming",
        price_rule=PriceRule.MAKER,
        self_trade=SelfTradePrevention.CANCEL_INCOMING,
    ),
    "maker_both": MarketSpec(
        "maker_both", price_rule=PriceRule.MAKER, self_trade=SelfTradePrevention.CANCEL_BOTH
    ),
}
PRODUCTS = (None, int(T0) + 3600, int(T0) + 7200, int(T0) + 14400)
TIFS = (TimeInForce.GTC,) * 6 + (TimeInForce.IOC,) * 3 + (TimeInForce.FOK,)


def new_risk() -> RiskManager:
    risk = RiskManager(throttle_rate=0.08, throttle_burst=3.0, status_max_age_s=400.0)
    for account in range(1, 7):
        risk.register_account(account, {1: "b1", 2: "b2"}.get(account))
    risk.set_limits("b1", BatteryLimits(capacity_mwh=20.0, power_mw=8.0))
    risk.set_limits("b2", BatteryLimits(5.0, 2.0, 20.0, 80.0))
    return risk


def new_indicators(market: str) -> MarketIndicators:
    indicators = MarketIndicators("last_trade" if market == "maker_both" else "dayahead")
    for k in range(-8, 48):  # day-ahead prices around the stream, quarter-hours
        indicators.curve.put(int(T0) + 900 * k, int(T0) + 900 * (k + 1), 70.0 + (k % 7) * 2.5)
    return indicators


def replay(seed: int, ops: int) -> dict:
    rng = random.Random(seed)
    engine = MatchingEngine(MARKETS)
    risk = new_risk()
    indicators = {m: new_indicators(m) for m in MARKETS}
    digest = hashlib.sha256()
    counts = {"placed": 0, "refused": 0, "cancelled": 0, "cancel_refused": 0, "expired": 0}
    risk_codes: dict[str, int] = {}

    def out(*parts: object) -> None:
        digest.update(repr(parts).encode())

    def order_state(order) -> tuple:
        return (order.id, order.status.value, order.filled, order.updated_at)

    placed_ids: list[int] = []
    for i in range(ops):
        now = T0 + i * 0.5  # 20,000 ops span 10,000 s: two products close on the way
        if i % 400 == 0:  # new battery readings every 200 s; b2's lapse now and then, and
            # always two in a row every tenth: older than 400 s, its status is stale.
            risk.set_state("b1", BatteryState(rng.uniform(5.0, 95.0), now))
            if rng.random() < 0.8 and (i // 400) % 10 not in (4, 5):
                risk.set_state("b2", BatteryState(rng.uniform(10.0, 90.0), now))
        if i % 1000 == 999:
            for m in MARKETS:
                snap = indicators[m].snapshot(now)
                out(
                    "indicators",
                    m,
                    snap.mark,
                    snap.mark_start,
                    snap.ema,
                    snap.vwap,
                    snap.vwap_volume,
                )
        r = rng.random()
        if r < 0.18 and placed_ids:
            oid = rng.choice(placed_ids[-200:])
            try:
                cancelled = engine.cancel(oid, now)
                risk.track_order(cancelled, MARKETS[cancelled.market].lot)
                out("cancel", order_state(cancelled))
                counts["cancelled"] += 1
            except Reject as exc:
                out("cancel refused", oid, exc.code, exc.status)
                counts["cancel_refused"] += 1
            continue
        if r < 0.2:
            expired = engine.expire(now)
            for o in expired:
                risk.track_order(o, MARKETS[o.market].lot)
            out("expire", [order_state(o) for o in expired])
            counts["expired"] += len(expired)
            continue
        market = rng.choice(tuple(MARKETS))
        spec = MARKETS[market]
        # The wire's EUR/MWh and MWh, sometimes off the grid or out of bounds.
        price = round(rng.gauss(80.0, 2.0), 2 if rng.random() < 0.95 else 3)
        quantity = round(rng.uniform(0.1, 3.0), 1 if rng.random() < 0.95 else 2)
        try:
            ticks = spec.price_to_ticks(price)
            lots = spec.quantity_to_lots(quantity)
        except Reject as exc:
            out("conversion refused", price, quantity, exc.code)
            counts["refused"] += 1
            continue
        out("converted", ticks, lots, spec.ticks_to_price(ticks), spec.lots_to_quantity(lots))
        client_id = f"c{rng.randrange(300)}" if rng.random() < 0.1 else None
        account, side = rng.randint(1, 6), BUY if rng.random() < 0.5 else SELL
        product = rng.choice(PRODUCTS)
        try:
            risk.throttle(account, market, now)
            risk.check_order(account, side, lots * spec.lot, now, product)
        except Reject as exc:
            out("risk refused", exc.code, exc.status, exc.message, exc.details)
            risk_codes[exc.code] = risk_codes.get(exc.code, 0) + 1
            continue
        try:
            result = engine.place(
                account, market, side, ticks, lots, now, rng.choice(TIFS), product, client_id
            )
        except Reject as exc:
            out("refused", exc.code, exc.status, exc.message)
            counts["refused"] += 1
            continue
        for o in (result.order, *result.touched):
            risk.track_order(o, spec.lot)
        for t in result.trades:
            price_eur, mwh = spec.x2_to_price(t.price_x2), spec.lots_to_quantity(t.quantity)
            risk.apply_trade(t, mwh, price_eur)
            indicators[market].add_trade(t.executed_at, price_eur, mwh)
        counts["placed"] += 1
        placed_ids.append(result.order.id)
        out(
            "placed",
            order_state(result.order),
            result.duplicate,
            [
                (t.id, t.price_x2, spec.x2_to_price(t.price_x2), t.quantity, t.buy_order_id,
                 t.sell_order_id, t.buy_account_id, t.sell_account_id, t.aggressor_side.value)
                for t in result.trades
            ],
            [order_state(o) for o in result.touched],
        )  # fmt: skip
    for key in sorted(engine.books, key=repr):
        book = engine.books[key]
        out("book", key, list(book.bids.depth()), list(book.asks.depth()))
        out("open", [o.id for o in book.open_orders()])
    end = T0 + ops * 0.5
    for m in MARKETS:
        snap = indicators[m].snapshot(end)
        out("indicators", m, snap.mark, snap.ema, snap.vwap, snap.vwap_volume)
        risk.marks[m] = snap.mark if snap.mark is not None else 80.0
    for (account, market), p in sorted(risk.positions.items()):
        out("position", account, market, p.net_mwh, p.avg_price, p.realized_pnl, p.bought_mwh,
            p.sold_mwh, p.notional_eur, p.unrealized_pnl(risk.marks[market]))  # fmt: skip
    for battery_id in ("b1", "b2"):
        book = risk.battery(battery_id)
        out(
            "battery",
            battery_id,
            sorted(book.open_by_order.items()),
            risk.committed_mwh(battery_id),
        )
    return {
        "compiled": core.COMPILED,
        "core": core.describe(),
        "digest": digest.hexdigest(),
        "trades": engine.next_trade_id - 1,
        "open_orders": len(engine.open_orders),
        "risk_refused": dict(sorted(risk_codes.items())),
        "positions": len(risk.positions),
        **counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ops", type=int, default=20_000)
    args = parser.parse_args()
    print(json.dumps(replay(args.seed, args.ops)))


if __name__ == "__main__":
    main()
