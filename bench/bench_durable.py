"""Benchmark of the durable order path (ExchangeService + group commit) against the naive design.

Usage::

    python bench/bench_durable.py [--orders 100000] [--naive-orders 5000] [--clients 64]
                                  [--sweep] [--sweep-orders 20000] [--seed 1] [--dir PATH]

What it measures, in one run:

1. Our durable path: a real ``ExchangeService`` on a fresh SQLite file (WAL) in a temporary
   directory, with its ``GroupCommitWriter``. ``C`` client coroutines share one deterministic,
   pre-generated order stream and each calls ``await service.place_order(account, request)`` in
   a loop. ``place_order`` returns only after the group commit that holds the order (and the
   trades and resting-order updates it caused) has committed, so every order counted is a
   durable, acknowledged order. orders/s = orders / wall time of the whole run; the latency of
   each order is ``time.perf_counter()`` around its await (the ack latency a caller sees,
   including the wait for its batch). Run with ``PHOENYRA_SQLITE_SYNCHRONOUS=FULL`` (the
   default; a commit survives power loss) as the headline, and ``NORMAL`` (WAL: survives a
   process crash, the last commits may be lost on power loss) as a second row. The writer is
   the exchange's default on a SQLite file, a child process (``PHOENYRA_DB_WRITER=auto``); a
   third row runs FULL with the writer as a thread of the exchange process instead (the
   earlier design), unless ``--no-thread-row``. The writer process's CPU is read from /proc.
2. The naive reference, built only here: the spec's design (for each new order, query the store
   for the best crossing counter-order, write the trade and the resting order, repeat; then
   insert the incoming order) with one transaction and one commit per order, on a SQLite file
   (WAL, same ``synchronous``). One client, sequential: the design has no concurrency story
   (SQLite serialises writers and every order needs its own commit, so more clients would only
   queue on the write lock). It runs on a prefix of the same stream (``--naive-orders``).
3. Checks: during the run, every 997th order is read back through a separate ``sqlite3``
   connection right after its acknowledgement (it must be committed already). After
   ``service.stop()`` the database file is reopened with ``sqlite3``: the orders table must hold
   exactly ids 1..N, the trades table exactly as many trades as the
   acknowledgements reported, and the open orders must be those the engine held. Because all
   clients pull from one stream and ``place_order`` runs synchronously up to its commit, the
   engine sees the orders in stream order whatever ``C`` is; so the naive design's trades on the
   prefix must be identical (ids, lots, price) to the stored trades of the first orders there.

The workload: 16 trader accounts (no battery, so no SoC checks), markets ``epex_at`` and
``epex_de`` (continuous book), 60 % passive GTC orders resting around a drifting mid, 40 %
aggressive orders crossing the spread (half GTC, half IOC). Prices on the 0.01 EUR/MWh tick,
quantities on the 0.1 MWh lot. Throttling is set out of the way (rate and burst 1e9).

Prints progress to stderr, a Markdown table to stdout, and writes ``bench/results/durable.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from phoenyra.config import Settings
from phoenyra.core.errors import Reject
from phoenyra.core.orders import BUY, SELL, Side, TimeInForce
from phoenyra.exchange.service import ExchangeService, OrderRequest
from phoenyra.exchange.store import Store

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] installs it
    uvloop = None

from common import cpu_model, cpu_probe_ms, cpu_seconds, git_commit, proc_stat

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "durable.json"

MARKETS = ("epex_at", "epex_de")
ACCOUNTS = 16
TICK = 0.01  # EUR/MWh (both markets' default)
LOT = 0.1  # MWh
GTC = TimeInForce.GTC
IOC = TimeInForce.IOC
TARGET = 20_000  # durable orders/s on SQLite (the target)

# One order of the stream: (account index, market index, side, price ticks, lots, tif)
Spec = tuple[int, int, Side, int, int, TimeInForce]


# -- workload ---------------------------------------------------------------------------------
def generate(n: int, seed: int) -> tuple[list[Spec], dict]:
    """The order stream, built before any timing. Deterministic for a given (n, seed)."""
    rng = random.Random(seed)
    random_ = rng.random
    expo = rng.expovariate
    randint = rng.randint
    anchor = {0: 8000.0, 1: 9500.0}  # 80.00 and 95.00 EUR/MWh in ticks
    mids = dict(anchor)
    half_spread = 5
    out: list[Spec] = []
    passive = aggressive = ioc = 0
    for _ in range(n):
        m = 0 if random_() < 0.6 else 1
        mid = mids[m] + (random_() - 0.5) * 4.0 + (anchor[m] - mids[m]) * 0.002
        mids[m] = mid
        is_buy = random_() < 0.5
        account = randint(0, ACCOUNTS - 1)
        if random_() < 0.4:
            cross = half_spread + 1 + int(expo(1.0 / 10))
            price = round(mid) + cross if is_buy else round(mid) - cross
            lots = randint(1, 40)
            tif = IOC if random_() < 0.5 else GTC
            aggressive += 1
            ioc += tif is IOC
        else:
            depth = half_spread + int(expo(1.0 / 15))
            price = round(mid) - depth if is_buy else round(mid) + depth
            lots = randint(1, 30)
            tif = GTC
            passive += 1
        out.append((account, m, BUY if is_buy else SELL, price, lots, tif))
    stats = {
        "orders": n,
        "seed": seed,
        "accounts": ACCOUNTS,
        "markets": list(MARKETS),
        "products": ["continuous"],
        "passive_gtc": passive,
        "aggressive": aggressive,
        "aggressive_ioc": ioc,
    }
    return out, stats


def to_request(spec: Spec) -> OrderRequest:
    _, m, side, ticks, lots, tif = spec
    return OrderRequest(
        market=MARKETS[m],
        side=side,
        quantity=round(lots * LOT, 1),
        price=round(ticks * TICK, 2),
        time_in_force=tif,
    )


# -- our durable path -------------------------------------------------------------------------
def make_settings(data_dir: Path, synchronous: str, writer: str = "auto") -> Settings:
    # Constructor arguments by their environment names (validation aliases); they take
    # precedence over the process environment. DATABASE_URL=None keeps us on SQLite even if the
    # environment points at PostgreSQL.
    return Settings(
        PHOENYRA_ENV="development",
        PHOENYRA_DATA_DIR=data_dir,
        DATABASE_URL=None,
        PHOENYRA_SQLITE_SYNCHRONOUS=synchronous,
        PHOENYRA_DB_WRITER=writer,
        PHOENYRA_THROTTLE_RATE=1e9,
        PHOENYRA_THROTTLE_BURST=1e9,
    )


def new_runner() -> asyncio.Runner:
    if uvloop is not None:
        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()


SPOT_CHECK_EVERY = 997  # orders between reads of an acknowledged order from another connection


async def _drive(
    service: ExchangeService,
    stream: Sequence[Spec],
    clients: int,
    label: str,
    db_path: Path,
) -> dict:
    """Create the accounts, then run ``clients`` coroutines over the stream. Timed part only.

    Every ``SPOT_CHECK_EVERY``-th order, right after its acknowledgement, is read back through a
    separate sqlite3 connection: it must be there already (committed before the answer).
    """
    accounts = []
    for k in range(ACCOUNTS):
        wire = await service.create_account(f"bench-trader-{k:02d}", "trader", None)
        accounts.append(service.keyring.accounts[wire["id"]])
    requests = [(accounts[s[0]], to_request(s)) for s in stream]
    n = len(requests)
    lat = [0.0] * n
    ids = [0] * n
    trades_per_order = [0] * n
    errors: list[str] = []
    nxt = iter(range(n))
    place = service.place_order
    perf = time.perf_counter
    writer = service.writer
    commit_s: list[float] = []
    observe = writer.observe

    def observe_commit(seconds: float) -> None:
        commit_s.append(seconds)
        if observe is not None:
            observe(seconds)

    writer.observe = observe_commit
    done = 0
    step = max(1, n // 10)
    marks: list[float] = []  # seconds at each tenth of the run
    spot = sqlite3.connect(db_path)
    spot_checked = spot_missing = 0

    async def client() -> None:
        nonlocal done, spot_checked, spot_missing
        for i in nxt:  # one shared iterator: the engine sees the orders in stream order
            account, req = requests[i]
            t0 = perf()
            try:
                _, body = await place(account, req)
            except Reject as exc:
                errors.append(f"{i}: {exc.code}")
                continue
            lat[i] = perf() - t0
            ids[i] = body["id"]
            trades_per_order[i] = len(body["trades"])
            if i % SPOT_CHECK_EVERY == 0:
                row = spot.execute("SELECT status FROM orders WHERE id = ?", (body["id"],))
                spot_checked += 1
                spot_missing += row.fetchone() is None
            done += 1
            if done % step == 0:
                marks.append(perf() - started)
                progress(f"  {label}: {done:,}/{n:,} acknowledged, {marks[-1]:.1f} s")

    batches0, rows0 = writer.batches, writer.rows
    gc.collect()
    child_cpu0 = process_cpu_s(writer.process_pid)
    cpu0, loop_cpu0 = time.process_time(), time.thread_time()
    started = perf()
    await asyncio.gather(*(client() for _ in range(clients)))
    wall = perf() - started
    cpu, loop_cpu = time.process_time() - cpu0, time.thread_time() - loop_cpu0
    child_cpu = process_cpu_s(writer.process_pid)
    if child_cpu is not None and child_cpu0 is not None:
        child_cpu -= child_cpu0
    batches, rows = writer.batches - batches0, writer.rows - rows0
    writer.observe = observe
    spot.close()
    open_ids = sorted(service.engine.open_orders)
    return {
        "wall": wall,
        "lat": lat,
        "ids": ids,
        "trades_per_order": trades_per_order,
        "errors": errors,
        "batches": batches,
        "rows": rows,
        "commit_s": commit_s,
        "marks": marks,
        "step": step,
        "process_cpu_s": cpu,
        "loop_cpu_s": loop_cpu,
        "writer_mode": writer.mode,
        "writer_process_cpu_s": child_cpu,
        "open_ids": open_ids,
        "spot_checked": spot_checked,
        "spot_missing": spot_missing,
    }


async def _run_service(
    data_dir: Path,
    synchronous: str,
    stream: Sequence[Spec],
    clients: int,
    label: str,
    writer: str,
) -> dict:
    settings = make_settings(data_dir, synchronous, writer)
    store = Store(settings.effective_database_url, settings.sqlite_synchronous)
    service = ExchangeService(settings, store)
    service.load()
    await service.start()
    try:
        out = await _drive(service, stream, clients, label, data_dir / "exchange.db")
    finally:
        await service.stop()
    out["db_url"] = settings.effective_database_url
    return out


def verify(db_path: Path, n: int, run: dict) -> dict:
    """Reopen the file with sqlite3 and check that every acknowledged change is there."""
    conn = sqlite3.connect(db_path)
    try:
        count, lo, hi = conn.execute("SELECT count(*), min(id), max(id) FROM orders").fetchone()
        trades = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        stored_open = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM orders WHERE status IN ('ACCEPTED', 'PARTIALLY_FILLED') ORDER BY id"
            )
        ]
        journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    acked = n - len(run["errors"])
    returned_trades = sum(run["trades_per_order"])
    checks = {
        "orders_rows": count,
        "orders_acknowledged": acked,
        "orders_ids_min_max": [lo, hi],
        "trades_rows": trades,
        "trades_returned": returned_trades,
        "open_orders_stored": len(stored_open),
        "open_orders_in_engine": len(run["open_ids"]),
        "journal_mode": journal_mode,
        "ids_in_stream_order": run["ids"] == list(range(1, n + 1)),
        "acknowledged_orders_read_back_during_run": run["spot_checked"],
        "of_which_not_yet_committed": run["spot_missing"],
    }
    checks["ok"] = (
        count == acked == n
        and (lo, hi) == (1, n)
        and trades == returned_trades
        and stored_open == run["open_ids"]
        and checks["ids_in_stream_order"]
        and run["spot_missing"] == 0
    )
    return checks


def stored_trades(db_path: Path, upto_order: int) -> list[tuple[int, int, int, int]]:
    """(buy id, sell id, lots, price_x2) of trades among the first ``upto_order`` orders."""
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT buy_order_id, sell_order_id, quantity, price FROM trades"
            " WHERE max(buy_order_id, sell_order_id) <= ? ORDER BY id",
            (upto_order,),
        ).fetchall()
    finally:
        conn.close()
    return [(b, s, round(q / LOT), round(p * 2 / TICK)) for b, s, q, p in rows]


def run_ours(
    base: Path | None,
    synchronous: str,
    stream: Sequence[Spec],
    clients: int,
    label: str,
    writer: str = "auto",
) -> dict:
    progress(
        f"{label}: {len(stream):,} orders, {clients} clients, synchronous={synchronous}, "
        f"writer {writer}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    disk = fsync_probe(base, 100)
    with tempfile.TemporaryDirectory(prefix="bench-durable-", dir=base) as tmp:
        data_dir = Path(tmp)
        with new_runner() as runner:
            run = runner.run(_run_service(data_dir, synchronous, stream, clients, label, writer))
        db_path = data_dir / "exchange.db"
        checks = verify(db_path, len(stream), run)
        progress(
            f"  check {'OK' if checks['ok'] else 'FAILED'}: {checks['orders_rows']:,} order rows "
            f"(ids {checks['orders_ids_min_max'][0]}..{checks['orders_ids_min_max'][1]}) for "
            f"{checks['orders_acknowledged']:,} acknowledged; {checks['trades_rows']:,} trade "
            f"rows for {checks['trades_returned']:,} returned; {checks['open_orders_stored']:,} "
            f"open orders stored = {checks['open_orders_in_engine']:,} in the engine; "
            f"{checks['acknowledged_orders_read_back_during_run']} orders read back from another "
            f"connection right after their ack, {checks['of_which_not_yet_committed']} missing"
        )
        run["checks"] = checks
        # For the naive cross-check, read the trades before the directory goes.
        run["stored_trades"] = stored_trades(db_path, len(stream))
    out = summarize_ours(run, len(stream), clients, synchronous, label)
    out["loadavg_1min_at_start"] = load
    out["fsync_4k_ms_before_run"] = disk
    return out


def summarize_ours(run: dict, n: int, clients: int, synchronous: str, label: str) -> dict:
    wall = run["wall"]
    commits = sorted(run["commit_s"])
    batches = run["batches"]
    acked = n - len(run["errors"])
    out = {
        "implementation": label,
        "synchronous": synchronous,
        "clients": clients,
        "orders": n,
        "acknowledged": acked,
        "errors": run["errors"][:20],
        "seconds": round(wall, 4),
        "orders_per_s": round(acked / wall),
        "latency_ms": percentiles_ms(run["lat"]),
        "trades": sum(run["trades_per_order"]),
        "orders_with_trades": sum(1 for t in run["trades_per_order"] if t),
        "open_orders_at_end": len(run["open_ids"]),
        "writer": {
            "mode": run["writer_mode"],
            "process_cpu_s": None
            if run["writer_process_cpu_s"] is None
            else round(run["writer_process_cpu_s"], 3),
            "process_busy_fraction": None
            if run["writer_process_cpu_s"] is None
            else round(run["writer_process_cpu_s"] / wall, 3),
            "batches": batches,
            "rows": run["rows"],
            "avg_orders_per_batch": round(acked / batches, 2) if batches else None,
            "avg_rows_per_batch": round(run["rows"] / batches, 2) if batches else None,
            "commit_ms": percentiles_ms(commits),
            "commit_busy_fraction": round(sum(commits) / wall, 3),
        },
        "cpu": {
            "process_cpu_s": round(run["process_cpu_s"], 3),
            "event_loop_thread_cpu_s": round(run["loop_cpu_s"], 3),
            "event_loop_busy_fraction": round(run["loop_cpu_s"] / wall, 3),
            "event_loop_cpu_us_per_order": round(run["loop_cpu_s"] / max(1, acked) * 1e6, 1),
            "other_threads_cpu_s": round(run["process_cpu_s"] - run["loop_cpu_s"], 3),
        },
        "orders_per_s_by_tenth": tenths(run["marks"], run["step"]),
        "checks": run["checks"],
        "meets_target": synchronous == "FULL" and acked / wall >= TARGET,
    }
    out["_stored_trades"] = run["stored_trades"]
    return out


# -- the naive reference (the spec's design) -------------------------------------------------
NAIVE_SCHEMA = """
CREATE TABLE orders (
    id         INTEGER PRIMARY KEY,
    account    INTEGER NOT NULL,
    market     INTEGER NOT NULL,
    side       INTEGER NOT NULL,   -- 0 = buy, 1 = sell
    price      INTEGER NOT NULL,   -- ticks
    key        INTEGER NOT NULL,   -- price for sells, -price for buys: best first ascending
    qty        INTEGER NOT NULL,   -- lots
    filled     INTEGER NOT NULL,
    status     INTEGER NOT NULL,   -- 0 = open, 1 = filled, 2 = cancelled
    tif        INTEGER NOT NULL,   -- 0 = GTC, 1 = IOC
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX orders_book ON orders (market, side, status, key, id);
CREATE TABLE trades (
    id       INTEGER PRIMARY KEY,
    market   INTEGER NOT NULL,
    buy_id   INTEGER NOT NULL,
    sell_id  INTEGER NOT NULL,
    qty      INTEGER NOT NULL,
    price_x2 INTEGER NOT NULL,   -- limit + resting price: the average of the two, in half ticks
    at       REAL NOT NULL
);
"""

BEST_COUNTER = (
    "SELECT id, account, qty - filled, price FROM orders"
    " WHERE market = ? AND side = ? AND status = 0 AND key <= ?"
    " ORDER BY key, id LIMIT 1"
)


class NaiveExchange:
    """The spec's design: the store is the book; every step is a query or a write."""

    def __init__(self, path: str, synchronous: str) -> None:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT), so the
        # SELECTs run inside the order's transaction too.
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.executescript(NAIVE_SCHEMA)
        self.next_id = 1
        plan = " ".join(
            str(row[-1])
            for row in self.conn.execute("EXPLAIN QUERY PLAN " + BEST_COUNTER, (0, 1, 0))
        )
        if "orders_book" not in plan or "TEMP B-TREE" in plan:
            raise RuntimeError(f"naive best-counter query does not use its index: {plan}")
        self.plan = plan

    def place(self, account: int, market: int, side: Side, price: int, qty: int, tif) -> int:
        """One order, one transaction; returns the number of trades."""
        execute = self.conn.execute
        now = time.time()
        oid = self.next_id
        self.next_id = oid + 1
        is_buy = side is BUY
        counter_side, bound = (1, price) if is_buy else (0, -price)
        remaining = qty
        trades = 0
        execute("BEGIN IMMEDIATE")
        while remaining:
            row = execute(BEST_COUNTER, (market, counter_side, bound)).fetchone()
            if row is None:
                break
            rid, racct, available, rprice = row
            if racct == account:  # self-trade prevention: cancel the resting own order
                execute("UPDATE orders SET status = 2, updated_at = ? WHERE id = ?", (now, rid))
                continue
            q = remaining if remaining < available else available
            buy_id, sell_id = (oid, rid) if is_buy else (rid, oid)
            execute(
                "INSERT INTO trades (market, buy_id, sell_id, qty, price_x2, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (market, buy_id, sell_id, q, price + rprice, now),
            )
            execute(
                "UPDATE orders SET filled = filled + ?, updated_at = ?,"
                " status = CASE WHEN filled + ? = qty THEN 1 ELSE 0 END WHERE id = ?",
                (q, now, q, rid),
            )
            remaining -= q
            trades += 1
        if remaining == 0:
            status = 1
        elif tif is GTC:
            status = 0
        else:
            status = 2
        execute(
            "INSERT INTO orders (id, account, market, side, price, key, qty, filled, status,"
            " tif, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                oid, account, market, 0 if is_buy else 1, price, -price if is_buy else price,
                qty, qty - remaining, status, 0 if tif is GTC else 1, now, now,
            ),
        )  # fmt: skip
        execute("COMMIT")  # durable (per ``synchronous``) before the order is acknowledged
        return trades

    def trades(self) -> list[tuple[int, int, int, int]]:
        return list(
            self.conn.execute("SELECT buy_id, sell_id, qty, price_x2 FROM trades ORDER BY id")
        )

    def counts(self) -> tuple[int, int]:
        orders = self.conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        return orders, self.conn.execute("SELECT count(*) FROM trades").fetchone()[0]

    def close(self) -> None:
        self.conn.close()


def run_naive(base: Path | None, synchronous: str, stream: Sequence[Spec]) -> dict:
    label = f"naive ({synchronous})"
    progress(f"{label}: {len(stream):,} orders, 1 client, one transaction per order")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    disk = fsync_probe(base, 100)
    n = len(stream)
    lat = [0.0] * n
    perf = time.perf_counter
    step = max(1, n // 5)
    with tempfile.TemporaryDirectory(prefix="bench-naive-", dir=base) as tmp:
        naive = NaiveExchange(os.path.join(tmp, "naive.db"), synchronous)
        place = naive.place
        trades = 0
        gc.collect()
        started = perf()
        for i, (account, market, side, price, lots, tif) in enumerate(stream):
            t0 = perf()
            trades += place(account, market, side, price, lots, tif)
            lat[i] = perf() - t0
            if (i + 1) % step == 0:
                progress(f"  {label}: {i + 1:,}/{n:,}, {perf() - started:.1f} s")
        wall = perf() - started
        stored_orders, stored_trade_count = naive.counts()
        trade_list = naive.trades()
        plan = naive.plan
        naive.close()
    return {
        "implementation": "naive reference (spec design)",
        "synchronous": synchronous,
        "clients": 1,
        "orders": n,
        "acknowledged": n,
        "seconds": round(wall, 4),
        "orders_per_s": round(n / wall),
        "latency_ms": percentiles_ms(lat),
        "trades": trades,
        "checks": {
            "orders_rows": stored_orders,
            "trades_rows": stored_trade_count,
            "ok": stored_orders == n and stored_trade_count == trades,
        },
        "query_plan": plan,
        "loadavg_1min_at_start": load,
        "fsync_4k_ms_before_run": disk,
        "_trades": trade_list,
    }


# -- measurement helpers ----------------------------------------------------------------------
def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentiles_ms(samples: Sequence[float]) -> dict:
    if not samples:
        return {"count": 0}
    values = sorted(samples)
    n = len(values)

    def at(q: float) -> float:
        return round(values[min(n - 1, int(q * n))] * 1000, 3)

    return {
        "count": n,
        "mean": round(sum(values) / n * 1000, 3),
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p999": at(0.999),
        "max": round(values[-1] * 1000, 3),
    }


def tenths(marks: Sequence[float], step: int) -> list[int]:
    """orders/s in each tenth of a run, from the times at which each tenth was acknowledged."""
    out, prev = [], 0.0
    for t in marks:
        out.append(round(step / (t - prev)) if t > prev else 0)
        prev = t
    return out


def filesystem_of(path: Path) -> dict:
    """The mount (device, type) holding ``path``: fsync on tmpfs costs nothing, so say which."""
    best: tuple[str, str, str] = ("?", "?", "/")
    resolved = str(path.resolve())
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            dev, mnt, fstype = parts[0], parts[1], parts[2]
            inside = resolved == mnt or resolved.startswith(mnt.rstrip("/") + "/")
            if inside and len(mnt) >= len(best[2]):
                best = (dev, fstype, mnt)
    return {"path": resolved, "device": best[0], "fstype": best[1], "mount": best[2]}


def fsync_probe(base: Path | None, samples: int = 200) -> dict:
    """Latency of appending 4 KiB and fdatasync-ing it (what a WAL commit waits for, at least)."""
    with tempfile.TemporaryDirectory(prefix="bench-fsync-", dir=base) as tmp:
        fd = os.open(os.path.join(tmp, "probe"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        sync = getattr(os, "fdatasync", os.fsync)
        block = b"\0" * 4096
        times = []
        try:
            for _ in range(samples):
                t0 = time.perf_counter()
                os.write(fd, block)
                sync(fd)
                times.append(time.perf_counter() - t0)
        finally:
            os.close(fd)
    return percentiles_ms(times)


def process_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None without one."""
    stat = None if pid is None else proc_stat(f"/proc/{pid}/stat")
    return None if stat is None else cpu_seconds(stat[1])


def fmt_int(x: float) -> str:
    return f"{round(x):,}"


def public(d: dict) -> dict:
    return {k: v for k, v in d.items() if not k.startswith("_")}


# -- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders for the main runs")
    parser.add_argument(
        "--naive-orders", type=int, default=5_000, help="prefix of the stream for the naive design"
    )
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (main runs)")
    parser.add_argument(
        "--sweep", action="store_true", help="also run FULL with 1, 8, 64 and 256 clients"
    )
    parser.add_argument(
        "--sweep-orders",
        type=int,
        default=20_000,
        help="orders per sweep point (1 client: at most --naive-orders)",
    )
    parser.add_argument(
        "--no-thread-row", action="store_true", help="skip the thread-writer comparison run"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the temporary databases go (default: TMPDIR)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.orders <= 0 or args.clients <= 0 or args.naive_orders < 0 or args.sweep_orders <= 0:
        parser.error("--orders, --clients and --sweep-orders must be positive")
    naive_n = min(args.naive_orders, args.orders)
    started = time.perf_counter()

    base = args.dir
    if base is not None:
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--dir {base}: cannot create it ({exc.strerror})")
    fs = filesystem_of(base or Path(tempfile.gettempdir()))
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5:
        progress(
            f"WARNING: load average {os.getloadavg()[0]:.2f}: other processes compete for the "
            "CPUs; the figures will be low and noisy"
        )
    if fs["fstype"] in ("tmpfs", "ramfs"):
        progress(f"WARNING: {fs['path']} is on {fs['fstype']}: fsync is free there; use --dir")
    machine = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpus_online": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "sqlite": sqlite3.sqlite_version,
        "event_loop": f"uvloop {uvloop.__version__}" if uvloop is not None else "asyncio",
        "database_filesystem": fs,
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }

    machine["fsync_4k_ms_at_start"] = fsync_probe(base)
    machine["cpu_probe_ms_at_start"] = cpu_probe_ms()
    total = max(args.orders, args.sweep_orders if args.sweep else 0)
    progress(f"generating {total:,} orders (seed {args.seed}) ...")
    stream, workload = generate(total, args.seed)
    main_stream = stream[: args.orders]

    rows: list[dict] = []
    full = run_ours(base, "FULL", main_stream, args.clients, "phoenyra (group commit)")
    rows.append(full)
    normal = run_ours(base, "NORMAL", main_stream, args.clients, "phoenyra (group commit)")
    rows.append(normal)
    if not args.no_thread_row:
        # The same run with the writer as a thread of the exchange process (the design before
        # the writer process), for comparison.
        rows.append(
            run_ours(base, "FULL", main_stream, args.clients, "phoenyra, thread writer", "thread")
        )

    sweep: list[dict] = []
    if args.sweep:
        for c in (1, 8, 64, 256):
            # One client commits one order per fsync: cap its run like the naive design's.
            k = args.sweep_orders if c > 1 else min(args.sweep_orders, naive_n or args.sweep_orders)
            sweep.append(run_ours(base, "FULL", stream[:k], c, "phoenyra (group commit), sweep"))

    naive_rows: list[dict] = []
    cross: dict | None = None
    if naive_n:
        prefix = stream[:naive_n]
        naive_full = run_naive(base, "FULL", prefix)
        naive_normal = run_naive(base, "NORMAL", prefix)
        naive_rows = [naive_full, naive_normal]
        ours_prefix = [t for t in full["_stored_trades"] if max(t[0], t[1]) <= naive_n]
        identical = ours_prefix == naive_full["_trades"] == naive_normal["_trades"]
        cross = {
            "orders": naive_n,
            "identical_trades": identical,
            "trades": len(ours_prefix),
            "traded_lots": sum(t[2] for t in ours_prefix),
        }
        progress(
            f"cross-check {'OK' if identical else 'FAILED'}: {len(ours_prefix):,} trades of our "
            f"first {naive_n:,} orders vs {len(naive_full['_trades']):,} of the naive design"
        )

    all_checks_ok = all(r["checks"]["ok"] for r in rows + sweep + naive_rows) and (
        cross is None or cross["identical_trades"]
    )
    ratio = None
    if naive_rows:
        nf, nn = naive_rows
        ratio = {
            "full_orders_per_s": round(full["orders_per_s"] / nf["orders_per_s"], 1),
            "full_p50_latency_naive_over_ours": round(
                nf["latency_ms"]["p50"] / full["latency_ms"]["p50"], 2
            ),
            "full_p99_latency_naive_over_ours": round(
                nf["latency_ms"]["p99"] / full["latency_ms"]["p99"], 2
            ),
            "normal_orders_per_s": round(normal["orders_per_s"] / nn["orders_per_s"], 1),
            "basis": f"ours: {args.orders:,} orders, {args.clients} clients; naive: first "
            f"{naive_n:,} orders of the same stream, 1 client",
        }

    machine["fsync_4k_ms_at_end"] = fsync_probe(base)
    machine["cpu_probe_ms_at_end"] = cpu_probe_ms()
    if hasattr(os, "getloadavg"):
        machine["loadavg_at_end"] = list(os.getloadavg())
    result = {
        "benchmark": "durable",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine,
        "parameters": {
            "orders": args.orders,
            "naive_orders": naive_n,
            "clients": args.clients,
            "sweep": args.sweep,
            "sweep_orders": args.sweep_orders if args.sweep else None,
            "seed": args.seed,
            "throttle_rate": 1e9,
            "throttle_burst": 1e9,
        },
        "workload": workload,
        "target_orders_per_s": TARGET,
        "meets_target": full["meets_target"],
        "ours": [public(r) for r in rows],
        "sweep": [public(r) for r in sweep],
        "naive": [public(r) for r in naive_rows],
        "cross_check": cross,
        "ratio_ours_over_naive": ratio,
        "all_checks_ok": all_checks_ok,
        "elapsed_s": round(time.perf_counter() - started, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    # -- report -----------------------------------------------------------------------------
    out = print
    out(
        f"Python {machine['python']}, {machine['event_loop']}, SQLite {machine['sqlite']}; "
        f"CPU {machine['cpu_model']} ({machine['cpus_usable']} usable of "
        f"{machine['cpus_online']}); database on {fs['device']} ({fs['fstype']}) at {fs['mount']}"
    )
    out(f"Date {result['date']}, git commit {result['git_commit'] or 'unknown'}")
    out(
        f"CPU probe (10 M Python additions, best of 3): {machine['cpu_probe_ms_at_start']:.0f} ms "
        f"before, {machine['cpu_probe_ms_at_end']:.0f} ms after (this VM's speed varies ~2x)"
    )
    f0, f1 = machine["fsync_4k_ms_at_start"], machine["fsync_4k_ms_at_end"]
    load = machine["loadavg_at_start"]
    out(
        f"Disk: append 4 KiB + fdatasync p50 {f0['p50']:.2f} ms / p99 {f0['p99']:.2f} ms before, "
        f"{f1['p50']:.2f} / {f1['p99']:.2f} ms after; load average at start "
        + (f"{load[0]:.2f}" if load else "unknown")
    )
    out("")
    out(
        "| implementation | synchronous | clients | orders | orders/s | p50 ms | p99 ms |"
        " avg batch | disk fsync p50 ms |"
    )
    out("|---|---|---:|---:|---:|---:|---:|---:|---:|")

    def line(r: dict, batch: str) -> None:
        lat = r["latency_ms"]
        out(
            f"| {r['implementation']} | {r['synchronous']} | {r['clients']} | {r['orders']:,} "
            f"| {fmt_int(r['orders_per_s'])} | {lat['p50']:.2f} | {lat['p99']:.2f} | {batch} "
            f"| {r['fsync_4k_ms_before_run']['p50']:.2f} |"
        )

    for r in rows + sweep:
        line(r, f"{r['writer']['avg_orders_per_batch']:.1f}")
    for r in naive_rows:
        line(r, "1 (no group commit)")
    if ratio:
        out(
            f"| **ratio ours / naive** | FULL | {args.clients} vs 1 | — "
            f"| **{ratio['full_orders_per_s']}×** | {ratio['full_p50_latency_naive_over_ours']}× "
            f"| {ratio['full_p99_latency_naive_over_ours']}× | — | — |"
        )
        out(
            f"| ratio ours / naive | NORMAL | {args.clients} vs 1 | — "
            f"| {ratio['normal_orders_per_s']}× | — | — | — | — |"
        )
    out("")
    verdict = "MET" if full["meets_target"] else "MISSED"
    out(
        f"Target ≥ {TARGET:,} durable orders/s (synchronous=FULL): {verdict} "
        f"({fmt_int(full['orders_per_s'])} orders/s)."
    )
    out(
        "FULL: every commit is fsynced (survives power loss). NORMAL: WAL without fsync at "
        "commit (survives a process crash; the last commits may be lost on power loss)."
    )
    out(
        "disk fsync p50: append 4 KiB + fdatasync, probed just before each row's run (this "
        "VM's disk latency varies a lot when other processes use it). "
        "Every orders/s figure counts only acknowledged orders: place_order returns after the "
        "group commit holding the order. Latency: perf_counter around each await (ms). "
        "avg batch: acknowledged orders per committed transaction."
    )
    for r in rows + sweep:
        w = r["writer"]
        out(
            f"- {r['implementation']}, {r['synchronous']}, {r['clients']} clients, writer "
            f"{w['mode']}"
            + (
                f" (process CPU {w['process_cpu_s']:.2f} s, busy {w['process_busy_fraction']:.0%})"
                if w["process_cpu_s"] is not None
                else ""
            )
            + f": {w['batches']:,} commits, "
            f"{w['avg_rows_per_batch']} rows each, commit p50 {w['commit_ms']['p50']:.2f} ms / "
            f"p99 {w['commit_ms']['p99']:.2f} ms, writer busy {w['commit_busy_fraction']:.0%} "
            f"of wall; event loop CPU {r['cpu']['event_loop_cpu_us_per_order']} µs/order "
            f"(busy {r['cpu']['event_loop_busy_fraction']:.0%} of wall); {r['trades']:,} trades, "
            f"{r['orders_with_trades']:,} orders traded"
        )
    if naive_rows:
        out(
            "The naive design runs single-client and sequential: it has no concurrency story "
            "(one transaction and one commit per order; SQLite serialises writers). "
            f"It ran on the first {naive_n:,} orders of the same stream."
        )
    for r in rows + sweep + naive_rows:
        c = r["checks"]
        out(
            f"- check {r['implementation']} {r['synchronous']} {r['clients']} clients: "
            f"{'OK' if c['ok'] else 'FAILED'} ({c['orders_rows']:,} order rows, "
            f"{c['trades_rows']:,} trade rows"
            + (
                f"; {c['acknowledged_orders_read_back_during_run']} acknowledged orders read "
                f"back during the run from another connection, "
                f"{c['of_which_not_yet_committed']} missing)"
                if "acknowledged_orders_read_back_during_run" in c
                else ")"
            )
        )
    if cross:
        out(
            f"- cross-check: the naive design's trades on the first {naive_n:,} orders are "
            f"{'identical to' if cross['identical_trades'] else 'DIFFERENT from'} ours "
            f"({cross['trades']:,} trades, {cross['traded_lots']:,} lots)"
        )
    out(f"Results: {args.output} (total {result['elapsed_s']} s)")
    return 0 if all_checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
