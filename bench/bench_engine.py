"""Benchmark of the pure matching engine against the spec's naive store-driven design.

Usage::

    python bench/bench_engine.py [--ops 1000000] [--naive-ops 50000] [--seed 1]

What it does, in one process and one thread:

1. Generates a deterministic op stream (``random.Random(seed)``) *before* any timing: one
   market (``epex_at``), its continuous book plus four quarter-hour products, 50 accounts,
   about 60 % passive places (resting around a drifting mid), 20 % aggressive places (crossing,
   some partial, some walking several levels; half GTC, half IOC) and 20 % cancels: half
   "requotes" of recently placed ids, half "stale quotes" (the worst-priced order the stream has
   placed on one side), which keeps the book at a steady few thousand orders. The generator does
   not simulate matching, so some cancelled ids have already filled: the engine answers
   ``Reject(ORDER_NOT_OPEN)``, which is counted and reported.
2. Engine, throughput: the whole stream through ``MatchingEngine.place`` / ``cancel``, timed
   with ``time.perf_counter()`` around the loop (``--repeat`` fresh runs; the median is shown).
3. Engine, latency: a separate run timing every op with ``time.perf_counter_ns()``; p50/p99 over
   all ops. The cost of the timer itself is measured and reported (not subtracted).
4. Naive reference, built only here: the spec's design on SQLite (``:memory:`` by default, so
   that the comparison is about the algorithm, not the disk): for each new order, query the
   store for the best crossing counter-order, write the trade and both orders, repeat; cancel is
   an UPDATE; one transaction per operation. It is slow, so it runs on a prefix of the same
   stream (``--naive-ops``), and its trades, cancel misses and final open orders are checked to
   be identical to the engine's on that prefix (same price rule: the average of the two limits;
   same self-trade prevention: the resting own order is cancelled). ``--naive-file-ops N`` also
   runs it on a SQLite file (WAL, synchronous=FULL, a commit per op) for the first N ops.

Prints a Markdown table to stdout, progress to stderr, and writes ``bench/results/engine.json``.
Besides wall-clock ops/s it records the thread's CPU time: on a shared machine the two differ,
and the report says so.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from heapq import heappop, heappush
from pathlib import Path

from common import cpu_model, git, git_commit
from phoenyra import core
from phoenyra.core.engine import MatchingEngine
from phoenyra.core.errors import Reject
from phoenyra.core.markets import QUARTER_HOUR, default_markets
from phoenyra.core.orders import BUY, SELL, TimeInForce

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "engine.json"

MARKET = "epex_at"
GTC = TimeInForce.GTC
IOC = TimeInForce.IOC

# Op kinds (first element of each op tuple).
PASSIVE, AGGRESSIVE, CANCEL = 0, 1, 2
KIND_NAMES = ("passive place", "aggressive place", "cancel")

# Simulated clock: 2026-01-01 00:00 UTC, one op per millisecond. Quarter-hour products start
# an hour later, so none reaches gate closure during 1,000,000 ops (1,000 simulated seconds).
T0 = 1_767_225_600.0
OP_DT = 0.001
PRODUCTS: tuple[int | None, ...] = (None, *(int(T0) + 3600 + k * QUARTER_HOUR for k in range(4)))
PRODUCT_WEIGHTS = (0.8, 0.05, 0.05, 0.05, 0.05)  # the continuous book is the busy one

# A place op:  (kind, account, side, price_ticks, lots, now, tif, delivery_start)
# A cancel op: (CANCEL, order_id, now)
Op = tuple


# -- workload -------------------------------------------------------------------------------
def generate(n: int, seed: int, accounts: int = 50) -> tuple[list[Op], dict]:
    """The op stream, built before any timing. Deterministic for a given (n, seed)."""
    rng = random.Random(seed)
    random_ = rng.random
    expo = rng.expovariate
    randint = rng.randint
    anchor = 8000.0  # 80.00 EUR/MWh in ticks of 0.01
    mids = dict.fromkeys(PRODUCTS, anchor)
    offsets = {p: i * 150.0 for i, p in enumerate(PRODUCTS)}  # products trade at other levels
    half_spread = 5  # ticks
    cancel_window = 400  # "requote" cancels pick among the most recent GTC ids
    recent: list[int] = []  # GTC ids in placing order (trimmed): candidates for requotes
    # Per (product, side): a heap whose top is the worst-priced GTC order placed there, for
    # "stale quote" cancels (bids: lowest price first; asks: highest first).
    worst: dict[tuple[int | None, bool], list[tuple[int, int]]] = {
        (p, b): [] for p in PRODUCTS for b in (True, False)
    }
    cancelled: set[int] = set()  # ids the stream has already cancelled
    next_id = 1
    ops: list[Op] = []
    append = ops.append
    counts = [0, 0, 0]
    requotes = stale = ioc = 0
    for i in range(n):
        now = T0 + i * OP_DT
        r = random_()
        product = PRODUCTS[0]
        if r >= PRODUCT_WEIGHTS[0]:
            product = PRODUCTS[1 + int((r - PRODUCT_WEIGHTS[0]) / 0.05) % 4]
        # Mid: a mean-reverting random walk per product.
        mid = mids[product]
        mid += (random_() - 0.5) * 4.0 + (anchor + offsets[product] - mid) * 0.002
        mids[product] = mid
        u = random_()
        is_buy = random_() < 0.5
        oid = 0
        if u < 0.1:
            # Requote: cancel one of the most recently placed ids (it may have filled).
            while recent and not oid:
                k = len(recent) - 1 - min(int(expo(1.0 / 60)), cancel_window, len(recent) - 1)
                oid = recent.pop(k)
                if oid in cancelled:
                    oid = 0
            if len(recent) > 4 * cancel_window:
                del recent[: len(recent) - 2 * cancel_window]
            requotes += oid > 0
        elif u < 0.2:
            # Stale quote: cancel the worst-priced order of one side of this product (it is
            # almost always still open: the deepest orders are the last to trade).
            heap = worst[product, is_buy]
            while heap and not oid:
                oid = heappop(heap)[1]
                if oid in cancelled:
                    oid = 0
            stale += oid > 0
        if oid:
            cancelled.add(oid)
            append((CANCEL, oid, now))
            counts[CANCEL] += 1
            continue
        account = randint(1, accounts)
        side = BUY if is_buy else SELL
        if u < 0.4:
            # Aggressive: crosses the spread and may walk several levels.
            cross = half_spread + 1 + int(expo(1.0 / 12))
            price = round(mid) + cross if is_buy else round(mid) - cross
            lots = randint(5, 80)
            tif = IOC if random_() < 0.5 else GTC
            kind = AGGRESSIVE
            ioc += tif is IOC
        else:
            # Passive: rests on its side of the mid, most orders near the touch.
            depth = half_spread + int(expo(1.0 / 15))
            price = round(mid) - depth if is_buy else round(mid) + depth
            lots = randint(1, 20)
            tif = GTC
            kind = PASSIVE
        append((kind, account, side, price, lots, now, tif, product))
        counts[kind] += 1
        if tif is GTC:
            recent.append(next_id)
            heappush(worst[product, is_buy], (price if is_buy else -price, next_id))
        next_id += 1
    stats = {
        "ops": n,
        "places": counts[PASSIVE] + counts[AGGRESSIVE],
        "passive_places": counts[PASSIVE],
        "aggressive_places": counts[AGGRESSIVE],
        "aggressive_ioc": ioc,
        "cancels": counts[CANCEL],
        "requote_cancels": requotes,
        "stale_quote_cancels": stale,
        "accounts": accounts,
        "products": ["continuous" if p is None else p for p in PRODUCTS],
        "product_weights": list(PRODUCT_WEIGHTS),
    }
    return ops, stats


# -- the engine -------------------------------------------------------------------------------
def new_engine() -> MatchingEngine:
    return MatchingEngine(default_markets())


def run_engine(
    ops: Sequence[Op], label: str, timed_ops: bool = False, chunks: int = 10
) -> tuple[float, float, int, list[int] | None, MatchingEngine]:
    """Run ``ops`` through a fresh engine.

    Returns (wall seconds, CPU seconds of this thread, cancel misses, per-op ns, engine).

    The stream is cut into ``chunks`` parts so progress can be printed between them; only the
    loops are timed, never the printing.
    """
    engine = new_engine()
    place = engine.place
    cancel = engine.cancel
    market = MARKET
    misses = 0
    lat: list[int] | None = [] if timed_ops else None
    n = len(ops)
    step = max(1, -(-n // chunks))
    elapsed = cpu = 0.0
    gc.collect()
    for start in range(0, n, step):
        chunk = ops[start : start + step]
        if lat is None:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            for op in chunk:
                if op[0] == CANCEL:
                    try:
                        cancel(op[1], op[2])
                    except Reject:
                        misses += 1
                else:
                    place(op[1], market, op[2], op[3], op[4], op[5], op[6], op[7])
            elapsed += time.perf_counter() - t0
            cpu += time.thread_time() - c0
        else:
            ns = time.perf_counter_ns
            record = lat.append
            c0 = time.thread_time()
            t0 = time.perf_counter()
            for op in chunk:
                if op[0] == CANCEL:
                    a = ns()
                    try:
                        cancel(op[1], op[2])
                    except Reject:
                        misses += 1
                    b = ns()
                else:
                    a = ns()
                    place(op[1], market, op[2], op[3], op[4], op[5], op[6], op[7])
                    b = ns()
                record(b - a)
            elapsed += time.perf_counter() - t0
            cpu += time.thread_time() - c0
        done = min(start + step, n)
        progress(f"{label}: {done:,}/{n:,} ops ({100 * done // n}%), {elapsed:.2f} s")
    return elapsed, cpu, misses, lat, engine


def run_harness_only(ops: Sequence[Op]) -> float:
    """The same dispatch loop with do-nothing place/cancel: the harness's share of each op."""

    def place(*_args: object) -> None:
        return None

    def cancel(*_args: object) -> None:
        return None

    market = MARKET
    misses = 0
    t0 = time.perf_counter()
    for op in ops:
        if op[0] == CANCEL:
            try:
                cancel(op[1], op[2])
            except Reject:
                misses += 1
        else:
            place(op[1], market, op[2], op[3], op[4], op[5], op[6], op[7])
    return time.perf_counter() - t0


def engine_trades(ops: Sequence[Op]) -> tuple[list[tuple[int, int, int, int]], int, dict]:
    """Trades (buy id, sell id, lots, price_x2), cancel misses and open orders, for checking."""
    engine = new_engine()
    trades: list[tuple[int, int, int, int]] = []
    misses = 0
    for op in ops:
        if op[0] == CANCEL:
            try:
                engine.cancel(op[1], op[2])
            except Reject:
                misses += 1
        else:
            res = engine.place(op[1], MARKET, op[2], op[3], op[4], op[5], op[6], op[7])
            trades.extend(
                (t.buy_order_id, t.sell_order_id, t.quantity, t.price_x2) for t in res.trades
            )
    open_orders = {o.id: o.quantity - o.filled for o in engine.open_orders.values()}
    return trades, misses, open_orders


# -- the naive reference (the spec's design) -------------------------------------------------
NAIVE_SCHEMA = """
CREATE TABLE orders (
    id      INTEGER PRIMARY KEY,
    account INTEGER NOT NULL,
    product INTEGER NOT NULL,   -- 0 = continuous, else the delivery start
    side    INTEGER NOT NULL,   -- 0 = buy, 1 = sell
    price   INTEGER NOT NULL,   -- ticks
    key     INTEGER NOT NULL,   -- price for sells, -price for buys: best first when ascending
    qty     INTEGER NOT NULL,   -- lots
    filled  INTEGER NOT NULL,
    status  INTEGER NOT NULL,   -- 0 = open, 1 = filled, 2 = cancelled
    tif     INTEGER NOT NULL,   -- 0 = GTC, 1 = IOC
    seq     INTEGER NOT NULL    -- arrival sequence: time priority
);
CREATE INDEX orders_book ON orders (product, side, status, key, seq);
CREATE TABLE trades (
    id       INTEGER PRIMARY KEY,
    product  INTEGER NOT NULL,
    buy_id   INTEGER NOT NULL,
    sell_id  INTEGER NOT NULL,
    qty      INTEGER NOT NULL,
    price_x2 INTEGER NOT NULL,
    at       REAL NOT NULL
);
"""

BEST_COUNTER = (
    "SELECT id, account, price, qty - filled FROM orders"
    " WHERE product = ? AND side = ? AND status = 0 AND key <= ?"
    " ORDER BY key, seq LIMIT 1"
)


class NaiveExchange:
    """The spec's design: the store is the book; every step is a query or a write."""

    def __init__(self, path: str = ":memory:") -> None:
        self.conn = sqlite3.connect(path, isolation_level="DEFERRED")
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(NAIVE_SCHEMA)
        self.next_id = 1
        plan = " ".join(
            str(row[-1])
            for row in self.conn.execute("EXPLAIN QUERY PLAN " + BEST_COUNTER, (0, 1, 0))
        )
        if "orders_book" not in plan or "TEMP B-TREE" in plan:
            raise RuntimeError(f"naive best-counter query does not use its index: {plan}")
        self.plan = plan

    def place(
        self,
        account: int,
        side: object,
        price: int,
        qty: int,
        now: float,
        tif: object,
        delivery: int | None,
    ) -> None:
        conn = self.conn
        execute = conn.execute
        oid = self.next_id
        self.next_id = oid + 1
        product = delivery or 0
        is_buy = side is BUY
        # The counter side, and the bound on its key that crosses the limit
        # (asks: price <= limit; bids: price >= limit, i.e. -price <= -limit).
        counter_side, bound = (1, price) if is_buy else (0, -price)
        remaining = qty
        while remaining:
            row = execute(BEST_COUNTER, (product, counter_side, bound)).fetchone()
            if row is None:
                break
            rid, racct, rprice, available = row
            if racct == account:  # self-trade prevention: cancel the resting own order
                execute("UPDATE orders SET status = 2 WHERE id = ?", (rid,))
                continue
            q = remaining if remaining < available else available
            buy_id, sell_id = (oid, rid) if is_buy else (rid, oid)
            execute(
                "INSERT INTO trades (product, buy_id, sell_id, qty, price_x2, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (product, buy_id, sell_id, q, price + rprice, now),
            )
            execute(
                "UPDATE orders SET filled = filled + ?,"
                " status = CASE WHEN filled + ? = qty THEN 1 ELSE 0 END WHERE id = ?",
                (q, q, rid),
            )
            remaining -= q
        if remaining == 0:
            status = 1
        elif tif is GTC:
            status = 0
        else:
            status = 2
        execute(
            "INSERT INTO orders (id, account, product, side, price, key, qty, filled, status,"
            " tif, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                oid, account, product, 0 if is_buy else 1, price, -price if is_buy else price,
                qty, qty - remaining, status, 0 if tif is GTC else 1, oid,
            ),
        )  # fmt: skip
        conn.commit()

    def cancel(self, order_id: int, now: float) -> bool:
        cur = self.conn.execute(
            "UPDATE orders SET status = 2 WHERE id = ? AND status = 0", (order_id,)
        )
        self.conn.commit()
        return cur.rowcount == 1

    def trades(self) -> list[tuple[int, int, int, int]]:
        return list(
            self.conn.execute("SELECT buy_id, sell_id, qty, price_x2 FROM trades ORDER BY id")
        )

    def trade_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM trades").fetchone()[0]

    def open_orders(self) -> dict[int, int]:
        return dict(self.conn.execute("SELECT id, qty - filled FROM orders WHERE status = 0"))

    def close(self) -> None:
        self.conn.close()


def run_naive(
    ops: Sequence[Op], label: str, path: str, timed_ops: bool, chunks: int = 10
) -> tuple[float, float, int, list[int] | None, NaiveExchange]:
    naive = NaiveExchange(path)
    place = naive.place
    cancel = naive.cancel
    misses = 0
    lat: list[int] | None = [] if timed_ops else None
    n = len(ops)
    step = max(1, -(-n // chunks))
    elapsed = cpu = 0.0
    gc.collect()
    for start in range(0, n, step):
        chunk = ops[start : start + step]
        if lat is None:
            c0 = time.thread_time()
            t0 = time.perf_counter()
            for op in chunk:
                if op[0] == CANCEL:
                    if not cancel(op[1], op[2]):
                        misses += 1
                else:
                    place(op[1], op[2], op[3], op[4], op[5], op[6], op[7])
            elapsed += time.perf_counter() - t0
            cpu += time.thread_time() - c0
        else:
            ns = time.perf_counter_ns
            record = lat.append
            c0 = time.thread_time()
            t0 = time.perf_counter()
            for op in chunk:
                if op[0] == CANCEL:
                    a = ns()
                    if not cancel(op[1], op[2]):
                        misses += 1
                    b = ns()
                else:
                    a = ns()
                    place(op[1], op[2], op[3], op[4], op[5], op[6], op[7])
                    b = ns()
                record(b - a)
            elapsed += time.perf_counter() - t0
            cpu += time.thread_time() - c0
        done = min(start + step, n)
        progress(f"{label}: {done:,}/{n:,} ops ({100 * done // n}%), {elapsed:.2f} s")
    return elapsed, cpu, misses, lat, naive


# -- measurement helpers ----------------------------------------------------------------------
def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentiles(samples: list[int], kinds: Sequence[int] | None = None) -> dict:
    """p50/p90/p99/p99.9/max in µs over all samples, and per op kind when ``kinds`` is given."""

    def summary(values: list[int]) -> dict:
        if not values:
            return {"count": 0}
        values = sorted(values)
        n = len(values)

        def at(q: float) -> float:
            return round(values[min(n - 1, int(q * n))] / 1000, 3)

        return {
            "count": n,
            "mean_us": round(sum(values) / n / 1000, 3),
            "p50_us": at(0.50),
            "p90_us": at(0.90),
            "p99_us": at(0.99),
            "p999_us": at(0.999),
            "max_us": round(values[-1] / 1000, 3),
        }

    out = {"all": summary(samples)}
    if kinds is not None:
        for kind, name in enumerate(KIND_NAMES):
            out[name] = summary([s for s, k in zip(samples, kinds, strict=True) if k == kind])
    return out


def timer_overhead_ns(samples: int = 200_000) -> dict:
    """What one ``perf_counter_ns()`` pair costs with nothing between the two calls."""
    ns = time.perf_counter_ns
    deltas = []
    for _ in range(samples):
        a = ns()
        b = ns()
        deltas.append(b - a)
    deltas.sort()
    return {"p50_ns": deltas[len(deltas) // 2], "p99_ns": deltas[int(0.99 * len(deltas))]}


def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def git_dirty() -> bool | None:
    """Whether the engine or this benchmark differ from the commit (None when unknown)."""
    status = git("status", "--porcelain", "--", ":/src/phoenyra/core", ":/bench/bench_engine.py")
    return None if status is None else bool(status)


def pin_to_one_cpu() -> int | None:
    """Pin this process to the first CPU it may use; returns it (None where unsupported)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def fmt_int(n: float) -> str:
    return f"{round(n):,}"


def run_pure_python(args: argparse.Namespace, repeat: int) -> dict:
    """The engine part of this benchmark again in a child process with the pure-Python core."""
    progress("engine again with the pure-Python core (PHOENYRA_PURE_PYTHON=1, child process) ...")
    with tempfile.TemporaryDirectory(prefix="bench-engine-pure-") as tmp:
        output = Path(tmp) / "pure.json"
        command = [sys.executable, __file__, "--ops", str(args.ops), "--seed", str(args.seed)]
        command += ["--repeat", str(repeat), "--naive-ops", "0", "--output", str(output)]
        command += ["--no-pin"] if args.no_pin else []
        env = {**os.environ, "PHOENYRA_PURE_PYTHON": "1"}
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        child = json.loads(output.read_text())
    assert child["machine"]["core"].startswith("pure Python"), child["machine"]["core"]
    return child["engine"]


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000, help="ops for the engine")
    parser.add_argument(
        "--naive-ops", type=int, default=50_000, help="prefix of the same stream for the naive run"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="engine throughput runs (median)")
    parser.add_argument(
        "--naive-file-ops",
        type=int,
        default=0,
        help="naive design on a SQLite file (WAL, synchronous=FULL) on this prefix too; 0: skip",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    parser.add_argument(
        "--no-pure",
        action="store_true",
        help="with the compiled core, skip the extra run of the same stream in pure Python",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.ops <= 0 or args.naive_ops < 0 or args.repeat <= 0:
        parser.error("--ops and --repeat must be positive, --naive-ops non-negative")
    naive_n = min(args.naive_ops, args.ops)
    file_n = min(args.naive_file_ops, args.ops)
    started = time.perf_counter()

    cpu = None if args.no_pin else pin_to_one_cpu()
    machine = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpus_online": os.cpu_count(),
        "pinned_cpu": cpu,
        "threads": threading.active_count(),
        "sqlite": sqlite3.sqlite_version,
        "gc_enabled": gc.isenabled(),
        "core": core.describe(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
    }

    progress(f"generating {args.ops:,} ops (seed {args.seed}) ...")
    t = time.perf_counter()
    ops, workload = generate(args.ops, args.seed)
    kinds = [op[0] for op in ops]
    workload["generate_s"] = round(time.perf_counter() - t, 3)
    progress(f"generated in {workload['generate_s']} s: {workload}")

    timer = timer_overhead_ns()
    harness_s = min(run_harness_only(ops) for _ in range(3))

    # Engine: throughput runs (no per-op timing), then one latency run.
    runs = []
    cpu_runs = []
    for r in range(args.repeat):
        elapsed, cpu_s, misses, _, engine = run_engine(
            ops, f"engine throughput {r + 1}/{args.repeat}"
        )
        runs.append(elapsed)
        cpu_runs.append(cpu_s)
        trades = engine.next_trade_id - 1
        open_count = len(engine.open_orders)
        levels = sum(len(b.bids.levels) + len(b.asks.levels) for b in engine.books.values())
        del engine
    engine_s = median(runs)
    engine_cpu_s = median(cpu_runs)
    lat_s, _, lat_misses, lat, engine = run_engine(ops, "engine latency", timed_ops=True)
    assert lat is not None and lat_misses == misses and engine.next_trade_id - 1 == trades
    del engine
    engine_lat = percentiles(lat, kinds)
    del lat
    workload.update(
        cancels_hitting_open_orders=workload["cancels"] - misses,
        cancels_not_open=misses,
        trades=trades,
        open_orders_at_end=open_count,
        price_levels_at_end=levels,
    )

    result: dict = {
        "benchmark": "engine",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "machine": machine,
        "parameters": {
            "ops": args.ops,
            "naive_ops": naive_n,
            "naive_file_ops": file_n,
            "seed": args.seed,
            "repeat": args.repeat,
            "market": MARKET,
        },
        "workload": workload,
        "timer_overhead": timer,
        "harness_overhead_ns_per_op": round(harness_s / args.ops * 1e9, 1),
        "engine": {
            "ops": args.ops,
            "throughput_runs_s": [round(x, 4) for x in runs],
            "throughput_runs_cpu_s": [round(x, 4) for x in cpu_runs],
            "seconds": round(engine_s, 4),
            "ops_per_s": round(args.ops / engine_s),
            "best_ops_per_s": round(args.ops / min(runs)),
            "cpu_seconds": round(engine_cpu_s, 4),
            "ops_per_cpu_s": round(args.ops / engine_cpu_s),
            "wall_time_on_cpu": round(engine_cpu_s / engine_s, 3),
            "latency_run_s": round(lat_s, 4),
            "latency": engine_lat,
            "trades": trades,
            "core": core.describe(),
            "target_ops_per_s": 250_000,
            "meets_target": args.ops / engine_s >= 250_000,
        },
    }

    rows = [
        (
            f"engine (MatchingEngine, {'compiled' if core.COMPILED else 'pure Python'}, "
            f"all {args.ops:,} ops)",
            args.ops,
            args.ops / engine_s,
            engine_lat["all"]["p50_us"],
            engine_lat["all"]["p99_us"],
            trades,
        )
    ]

    if core.COMPILED and not args.no_pure:
        pure = run_pure_python(args, len(runs))
        result["engine_pure_python"] = pure
        rows.append(
            (
                f"engine, same source, pure Python (PHOENYRA_PURE_PYTHON=1, {args.ops:,} ops)",
                args.ops,
                pure["ops_per_s"],
                pure["latency"]["all"]["p50_us"],
                pure["latency"]["all"]["p99_us"],
                pure["trades"],
            )
        )
        assert pure["trades"] == trades, "the pure-Python core traded differently"

    if naive_n:
        prefix = ops[:naive_n]
        prefix_kinds = kinds[:naive_n]
        # Engine on the same prefix, for an apples-to-apples ratio.
        p_both = [run_engine(prefix, "engine prefix", chunks=1)[:2] for _ in range(args.repeat)]
        p_runs = [w for w, _ in p_both]
        p_s = median(p_runs)
        p_cpu = median([c for _, c in p_both])
        _, _, _, p_lat, _ = run_engine(prefix, "engine prefix latency", timed_ops=True, chunks=1)
        assert p_lat is not None
        p_pct = percentiles(p_lat, prefix_kinds)
        e_trades, e_misses, e_open = engine_trades(prefix)

        n_s, n_cpu, n_misses, _, naive = run_naive(
            prefix, "naive :memory: throughput", ":memory:", False
        )
        n_trades = naive.trades()
        n_open = naive.open_orders()
        plan = naive.plan
        naive.close()
        nl_s, _, _, n_lat, naive = run_naive(prefix, "naive :memory: latency", ":memory:", True)
        naive.close()
        assert n_lat is not None
        n_pct = percentiles(n_lat, prefix_kinds)

        same = n_trades == e_trades and n_misses == e_misses and n_open == e_open
        if not same:
            first = next(
                (i for i, (a, b) in enumerate(zip(e_trades, n_trades, strict=False)) if a != b),
                min(len(e_trades), len(n_trades)),
            )
            raise SystemExit(
                f"cross-check FAILED on the {naive_n:,}-op prefix: engine {len(e_trades)} trades, "
                f"{e_misses} cancel misses, {len(e_open)} open; naive {len(n_trades)} trades, "
                f"{n_misses} cancel misses, {len(n_open)} open; first differing trade #{first}"
            )
        progress(f"cross-check OK: {len(e_trades):,} identical trades on the prefix")
        result["engine_prefix"] = {
            "ops": naive_n,
            "throughput_runs_s": [round(x, 4) for x in p_runs],
            "seconds": round(p_s, 4),
            "ops_per_s": round(naive_n / p_s),
            "ops_per_cpu_s": round(naive_n / p_cpu),
            "latency": p_pct,
            "trades": len(e_trades),
        }
        result["naive_memory"] = {
            "design": "SQLite :memory:, one transaction per op; per step: SELECT best crossing "
            "counter-order (index on product, side, status, key=±price, seq; LIMIT 1), INSERT "
            "trade, UPDATE resting order; then INSERT the incoming order; cancel = UPDATE.",
            "query_plan": plan,
            "ops": naive_n,
            "prefix_of_engine_stream": True,
            "seconds": round(n_s, 4),
            "ops_per_s": round(naive_n / n_s),
            "ops_per_cpu_s": round(naive_n / n_cpu),
            "latency_run_s": round(nl_s, 4),
            "latency": n_pct,
            "trades": len(n_trades),
            "traded_lots": sum(t[2] for t in n_trades),
            "cancel_misses": n_misses,
            "open_orders_at_end": len(n_open),
        }
        result["cross_check"] = {
            "ops": naive_n,
            "identical_trades": True,
            "trades": len(e_trades),
            "traded_lots": sum(t[2] for t in e_trades),
            "identical_cancel_misses": True,
            "identical_open_orders": True,
        }
        ratio = {
            "basis": f"engine and naive on the same {naive_n:,}-op prefix",
            "ops_per_s": round((naive_n / p_s) / (naive_n / n_s), 1),
            "ops_per_cpu_s": round(n_cpu / p_cpu, 1),
            "p50_speedup": round(n_pct["all"]["p50_us"] / p_pct["all"]["p50_us"], 1),
            "p99_speedup": round(n_pct["all"]["p99_us"] / p_pct["all"]["p99_us"], 1),
            "full_run_engine_vs_naive_ops_per_s": round((args.ops / engine_s) / (naive_n / n_s), 1),
        }
        result["ratio_engine_over_naive"] = ratio
        rows.append(
            (
                f"engine (same first {naive_n:,} ops)",
                naive_n,
                naive_n / p_s,
                p_pct["all"]["p50_us"],
                p_pct["all"]["p99_us"],
                len(e_trades),
            )
        )
        rows.append(
            (
                f"naive (spec design, SQLite :memory:, first {naive_n:,} ops)",
                naive_n,
                naive_n / n_s,
                n_pct["all"]["p50_us"],
                n_pct["all"]["p99_us"],
                len(n_trades),
            )
        )

        if file_n:
            with tempfile.TemporaryDirectory(prefix="bench-naive-") as tmp:
                path = os.path.join(tmp, "naive.db")
                f_s, f_cpu, _, f_lat, naive = run_naive(ops[:file_n], "naive file", path, True)
                f_trades = naive.trade_count()
                naive.close()
            assert f_lat is not None
            f_pct = percentiles(f_lat, kinds[:file_n])
            result["naive_file"] = {
                "design": "as naive_memory, on a file (WAL, synchronous=FULL), one commit per op; "
                "single run with per-op timing",
                "ops": file_n,
                "seconds": round(f_s, 4),
                "ops_per_s": round(file_n / f_s),
                "cpu_seconds": round(f_cpu, 4),
                "latency": f_pct,
                "trades": f_trades,
            }
            rows.append(
                (
                    f"naive (SQLite file WAL, first {file_n:,} ops)",
                    file_n,
                    file_n / f_s,
                    f_pct["all"]["p50_us"],
                    f_pct["all"]["p99_us"],
                    f_trades,
                )
            )

    if hasattr(os, "getloadavg"):
        machine["loadavg_at_end"] = [
            round(x, 2) for x in os.getloadavg()
        ]  # other processes share the machine
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    # -- report -----------------------------------------------------------------------------
    out = print
    out(f"Python {machine['python']} ({machine['implementation']}), CPU: {machine['cpu_model']}")
    pin = f"pinned to CPU {cpu}" if cpu is not None else "not pinned"
    out(f"One core, single thread ({pin}; {machine['cpus_online']} CPUs online); seed {args.seed}")
    out(
        f"Workload: {workload['passive_places']:,} passive places, "
        f"{workload['aggressive_places']:,} aggressive places "
        f"({workload['aggressive_ioc']:,} IOC), {workload['cancels']:,} cancels "
        f"({workload['cancels_hitting_open_orders']:,} hit open orders, "
        f"{workload['cancels_not_open']:,} answered ORDER_NOT_OPEN); {trades:,} trades; "
        f"{open_count:,} open orders on {levels:,} price levels at the end"
    )
    out("")
    out("| implementation | ops | ops/s | p50 µs | p99 µs | trades |")
    out("|---|---:|---:|---:|---:|---:|")
    for name, n, rate, p50, p99, tr in rows:
        out(f"| {name} | {n:,} | {fmt_int(rate)} | {p50:.2f} | {p99:.2f} | {tr:,} |")
    if naive_n:
        r = result["ratio_engine_over_naive"]
        out(
            f"| ratio (engine / naive), same {naive_n:,} ops | — | {r['ops_per_s']}× "
            f"| {r['p50_speedup']}× | {r['p99_speedup']}× | identical |"
        )
    out("")
    e = result["engine"]
    out(
        f"Engine ops/s: median of {args.repeat} runs without per-op timing "
        f"(best {fmt_int(e['best_ops_per_s'])}); target 250,000: "
        f"{'MET' if e['meets_target'] else 'MISSED'}. Counting only this thread's CPU time: "
        f"{fmt_int(e['ops_per_cpu_s'])} ops/s ({100 * e['wall_time_on_cpu']:.0f} % of the wall "
        f"time on CPU; load average at start {machine['loadavg_at_start']})."
    )
    pure = result.get("engine_pure_python")
    out(
        f"Core: {e['core']}"
        + (
            f"; the same source as pure Python: {fmt_int(pure['ops_per_s'])} ops/s, the same "
            f"number of trades (compiled {e['ops_per_s'] / pure['ops_per_s']:.1f}× faster; "
            "tests/core/test_native_core.py compares every answer)."
            if pure
            else "."
        )
    )
    if e["wall_time_on_cpu"] < 0.9:
        out(
            "WARNING: the engine was off the CPU for a notable share of the wall time (other "
            "processes or the hypervisor): the wall-clock figures understate it; rerun on an "
            "idle machine."
        )
    out(
        f"p50/p99 from a separate run timing each op with perf_counter_ns (a bare timer pair "
        f"costs {timer['p50_ns']} ns p50, not subtracted); the dispatch loop alone costs "
        f"{result['harness_overhead_ns_per_op']} ns/op and is included in ops/s."
    )
    if naive_n:
        out(
            (
                f"The naive design runs on the first {naive_n:,} ops only (it is slow); "
                if naive_n < args.ops
                else "The naive design runs on the whole stream; "
            )
            + "its trades, cancel misses and open orders are identical to the engine's there. "
            + "Ratio row: ops/s engine/naive, latency naive/engine (times faster). "
            + "Engine's full-run ops/s over naive's: "
            + f"{result['ratio_engine_over_naive']['full_run_engine_vs_naive_ops_per_s']}×."
        )
    for kind in KIND_NAMES:
        s = engine_lat[kind]
        out(
            f"Engine {kind}: {s['count']:,} ops, p50 {s['p50_us']:.2f} µs, p99 {s['p99_us']:.2f} µs"
        )
    out(f"Results: {args.output} (total {result['elapsed_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
