"""HTTP benchmark: orders/s and latency of POST /api/orders, next to the spec's naive design.

Usage::

    python bench/bench_http.py [--duration 15] [--warmup 3] [--connections 16,64] [--pin]
    python bench/bench_http.py --serve-naive --port P --db PATH   # (the naive server; internal)

What it does:

1. Load generator: ``wrk`` (Debian package ``wrk``; installed with apt-get if missing) in its own
   process, ``-t 1`` (one core), keep-alive connections, ``--latency``, driven by
   ``bench/wrk_orders.lua``: random but valid GTC limit orders on ``epex_at``/``epex_de`` (price
   on the 0.01 tick around a fixed mid, quantity a multiple of 0.1 from 0.1 to 3.0; the BUY and
   SELL price ranges overlap, so many orders trade), the API key rotating per request over
   ``--accounts`` trader accounts (created with the admin key ``demo``, no battery link, so no
   SoC checks). The script counts every status in a ``response()`` hook and prints a JSON line.
2. Exchange under test: ``python -m phoenyra.cli exchange --port P`` in its own process with
   ``PHOENYRA_ENV=development``, a fresh ``PHOENYRA_DATA_DIR`` (SQLite, WAL, ``synchronous``
   FULL by default) and the throttle raised out of the way
   (``PHOENYRA_THROTTLE_RATE``/``_BURST`` = 1,000,000).
3. Naive reference, built only here (``--serve-naive``): the spec's design on the same stack
   (FastAPI, uvicorn with uvloop and httptools, one worker, orjson answers, a pydantic body
   model, key lookup by SHA-256): per request, in one SQLite transaction (a file in the same kind
   of fresh directory, WAL, ``synchronous=FULL``): loop { SELECT the best crossing counter-order
   (indexed, ``ORDER BY price, id LIMIT 1``); self-trade: cancel the resting own order; else
   INSERT a trade at the average of the two limits and UPDATE the resting order }, INSERT the
   incoming order, COMMIT, answer 201. Its sqlite3 calls block, so the endpoint is a plain
   ``def`` (FastAPI runs it in its threadpool) serialised by one lock: the simple way the naive
   design implies. One commit (one WAL fsync) per order.
4. For each connection count: a fresh server of each kind, ``--warmup`` seconds of load, then
   the measured ``--duration`` seconds. Both runs' 201s are then checked against the database
   (read directly after the server stopped): every 201 must be stored, and at most the requests
   in flight when wrk stopped (≤ connections per wrk run) may be stored without a counted 201.
   Any non-201 answer or socket error makes the result invalid.

Also recorded, for the measured window: CPU of the server (its main thread, which runs the event
loop, and its other threads), of wrk, and of everything else on the machine (a busy machine
makes the numbers low: check ``cpu_cores.everything_else``); the server's CPU per order and its
resident memory; for the exchange its group-commit batches (from its /metrics).

The exchange is whatever ``phoenyra`` the interpreter imports, so a patched copy of the package
can be measured without touching ``src/``: ``PYTHONPATH=/tmp/patched python bench/bench_http.py
--only exchange --output /tmp/patched.json`` (the server inherits ``PYTHONPATH``).

Latency is wrk's per-request time with a fixed number of connections (closed loop): at
saturation it is about connections / throughput (Little's law), so p99 depends on ``-c``.

Prints progress to stderr, a Markdown table to stdout, and writes ``bench/results/http.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import httpx
import orjson
from fastapi import FastAPI, Header
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from common import (
    CLK_TCK,
    cpu_probe_ms,
    cpu_seconds,
    git_commit,
    git_dirty,
    machine,
    proc_stat,
    version_of,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "http.json"
LUA = HERE / "wrk_orders.lua"

TARGET_ORDERS_PER_S = 3000.0
TARGET_P99_MS = 25.0
ADMIN_KEY = "demo"
IMPLEMENTATIONS = ("exchange", "naive")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the naive reference server (the spec's design), built only here --------------------------
NAIVE_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    role     TEXT NOT NULL,
    key_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    market     TEXT NOT NULL,
    side       TEXT NOT NULL,      -- BUY or SELL
    price      INTEGER NOT NULL,   -- ticks of 0.01 EUR/MWh
    sort_key   INTEGER NOT NULL,   -- price for sells, -price for buys: best first ascending
    quantity   INTEGER NOT NULL,   -- lots of 0.1 MWh
    filled     INTEGER NOT NULL,
    status     TEXT NOT NULL,      -- ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELLED
    is_open    INTEGER NOT NULL,   -- 1 while ACCEPTED or PARTIALLY_FILLED
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_book ON orders (market, side, is_open, sort_key, id);
CREATE TABLE IF NOT EXISTS trades (
    id            INTEGER PRIMARY KEY,
    market        TEXT NOT NULL,
    price         REAL NOT NULL,   -- EUR/MWh, the average of the two limits
    quantity      REAL NOT NULL,   -- MWh
    buy_order_id  INTEGER NOT NULL,
    sell_order_id INTEGER NOT NULL,
    executed_at   REAL NOT NULL
);
"""

# The best open counter-order that crosses the limit: best price first, then oldest first.
NAIVE_BEST = (
    "SELECT id, account_id, price, quantity - filled FROM orders"
    " WHERE market = ? AND side = ? AND is_open = 1 AND sort_key <= ?"
    " ORDER BY sort_key, id LIMIT 1"
)


class NaiveOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    market: Literal["epex_at", "epex_de", "epex_ch", "epex_it"]
    side: Literal["BUY", "SELL"]
    quantity: float = Field(gt=0, strict=True)
    price: float = Field(strict=True)


class NaiveAccountIn(BaseModel):
    name: str
    role: str = "trader"


def naive_app(db_path: str) -> FastAPI:
    """The spec's naive design as a FastAPI app: the store is the book."""
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(NAIVE_SCHEMA)
    plan = " ".join(
        str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + NAIVE_BEST, ("epex_at", "SELL", 0))
    )
    if "orders_book" not in plan or "TEMP B-TREE" in plan:
        raise RuntimeError(f"naive best-counter query does not use its index: {plan}")
    lock = threading.Lock()  # one connection, one writer: requests run one after another
    keys = {hashlib.sha256(ADMIN_KEY.encode()).hexdigest(): (0, "admin")}
    app = FastAPI(title="naive reference (bench only)")

    def answer(body: object, status: int = 200) -> Response:
        return Response(orjson.dumps(body), status_code=status, media_type="application/json")

    def error(code: str, message: str, status: int) -> Response:
        return answer({"error": {"code": code, "message": message}}, status)

    def account_of(key: str | None) -> tuple[int, str] | None:
        if not key:
            return None
        return keys.get(hashlib.sha256(key.encode()).hexdigest())

    @app.get("/readyz")
    def readyz():
        return answer({"status": "ok"})

    @app.post("/api/accounts", status_code=201)
    def create_account(body: NaiveAccountIn, x_api_key: Annotated[str | None, Header()] = None):
        who = account_of(x_api_key)
        if who is None or who[1] != "admin":
            return error("FORBIDDEN", "admin key required", 403)
        key = "nv_" + secrets.token_urlsafe(32)
        digest = hashlib.sha256(key.encode()).hexdigest()
        with lock:
            cur = conn.execute(
                "INSERT INTO accounts (name, role, key_hash) VALUES (?, ?, ?)",
                (body.name, body.role, digest),
            )
            keys[digest] = (cur.lastrowid, body.role)
        return answer({"id": cur.lastrowid, "name": body.name, "api_key": key}, 201)

    @app.post("/api/orders", status_code=201)
    def place_order(body: NaiveOrderIn, x_api_key: Annotated[str | None, Header()] = None):
        who = account_of(x_api_key)
        if who is None:
            return error("INVALID_API_KEY", "The API key is not valid.", 401)
        account = who[0]
        ticks = round(body.price * 100)
        lots = round(body.quantity * 10)
        if abs(ticks - body.price * 100) > 1e-6 or not -50_000 <= ticks <= 400_000:
            return error("INVALID_TICK", "price off the 0.01 tick or out of bounds", 422)
        if abs(lots - body.quantity * 10) > 1e-6:
            return error("INVALID_LOT", "quantity off the 0.1 lot", 422)
        is_buy = body.side == "BUY"
        counter = "SELL" if is_buy else "BUY"
        bound = ticks if is_buy else -ticks  # counter sort_key <= bound crosses the limit
        remaining = lots
        trades = []
        with lock:
            now = time.time()
            execute = conn.execute
            execute("BEGIN IMMEDIATE")
            try:
                oid = execute("SELECT coalesce(max(id), 0) + 1 FROM orders").fetchone()[0]
                while remaining:
                    row = execute(NAIVE_BEST, (body.market, counter, bound)).fetchone()
                    if row is None:
                        break
                    rid, racct, rprice, available = row
                    if racct == account:  # self-trade prevention: cancel the resting own order
                        execute(
                            "UPDATE orders SET status = 'CANCELLED', is_open = 0, updated_at = ?"
                            " WHERE id = ?",
                            (now, rid),
                        )
                        continue
                    q = min(remaining, available)
                    price = (ticks + rprice) / 200
                    buy_id, sell_id = (oid, rid) if is_buy else (rid, oid)
                    cur = execute(
                        "INSERT INTO trades (market, price, quantity, buy_order_id,"
                        " sell_order_id, executed_at) VALUES (?, ?, ?, ?, ?, ?)",
                        (body.market, price, q / 10, buy_id, sell_id, now),
                    )
                    execute(
                        "UPDATE orders SET filled = filled + ?, status = CASE WHEN filled + ?"
                        " = quantity THEN 'FILLED' ELSE 'PARTIALLY_FILLED' END,"
                        " is_open = filled + ? < quantity, updated_at = ? WHERE id = ?",
                        (q, q, q, now, rid),
                    )
                    trades.append(
                        {
                            "id": cur.lastrowid,
                            "price": price,
                            "quantity": q / 10,
                            "buy_order_id": buy_id,
                            "sell_order_id": sell_id,
                        }
                    )
                    remaining -= q
                if remaining == 0:
                    status = "FILLED"
                elif remaining < lots:
                    status = "PARTIALLY_FILLED"
                else:
                    status = "ACCEPTED"
                execute(
                    "INSERT INTO orders (id, account_id, market, side, price, sort_key, quantity,"
                    " filled, status, is_open, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        oid, account, body.market, body.side, ticks, -ticks if is_buy else ticks,
                        lots, lots - remaining, status, remaining > 0, now, now,
                    ),
                )  # fmt: skip
                execute("COMMIT")
            except BaseException:
                execute("ROLLBACK")
                raise
        return answer(
            {
                "id": oid,
                "account_id": account,
                "market": body.market,
                "side": body.side,
                "price": ticks / 100,
                "quantity": lots / 10,
                "filled": (lots - remaining) / 10,
                "status": status,
                "trades": trades,
            },
            201,
        )

    return app


def serve_naive(port: int, db: str) -> None:
    import uvicorn

    uvicorn.run(
        naive_app(db),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
    )


# -- servers under test -----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def affinity(cpus: set[int] | None) -> Callable[[], None] | None:
    if not cpus:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cpus)

    return pin


class Server:
    """The exchange or the naive reference, in its own process with a fresh data directory."""

    def __init__(self, kind: str, cpus: set[int] | None, keep: bool, gateways: int = 0) -> None:
        self.kind = kind
        self.cpus = cpus
        self.keep = keep
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"phoenyra-bench-http-{kind}-"))
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None
        if kind == "exchange":
            self.db_path = self.dir / "exchange.db"
            self.cmd = [sys.executable, "-m", "phoenyra.cli", "exchange", "--port", str(self.port)]
            self.env = {
                **os.environ,
                "PHOENYRA_ENV": "development",
                "PHOENYRA_DATA_DIR": str(self.dir),
                "PHOENYRA_THROTTLE_RATE": "1000000",
                "PHOENYRA_THROTTLE_BURST": "1000000",
                "PYTHONUNBUFFERED": "1",
                "EXCHANGE_GATEWAYS": str(gateways),
            }
            for name in ("DATABASE_URL", "PHOENYRA_SQLITE_SYNCHRONOUS", "PHOENYRA_MARKETS"):
                self.env.pop(name, None)  # the defaults are what is measured
        else:
            self.db_path = self.dir / "naive.db"
            self.cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-naive",
                "--port",
                str(self.port),
                "--db",
                str(self.db_path),
            ]
            self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start(self, timeout: float = 60.0) -> Server:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            preexec_fn=affinity(self.cpus),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def create_accounts(self, n: int) -> list[str]:
        keys = []
        with httpx.Client(base_url=self.base_url, headers={"X-API-Key": ADMIN_KEY}) as c:
            for i in range(n):
                r = c.post(
                    "/api/accounts",
                    json={"name": f"bench-trader-{i + 1}", "role": "trader"},
                    timeout=10,
                )
                if r.status_code != 201:
                    raise RuntimeError(f"creating an account failed: {r.status_code} {r.text}")
                keys.append(r.json()["api_key"])
        return keys

    def commit_stats(self) -> dict | None:
        """Group-commit batches so far (the exchange's /metrics), else None."""
        if self.kind != "exchange":
            return None
        try:
            text = httpx.get(f"{self.base_url}/metrics", timeout=5).text
        except httpx.HTTPError:
            return None
        out = {}
        for name in ("count", "sum"):
            m = re.search(rf"^phoenyra_db_commit_duration_seconds_{name} (\S+)$", text, re.M)
            out[name] = float(m.group(1)) if m else None
        return out

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def stored(self) -> dict:
        """What the database holds, read directly (after the server stopped)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            by_status = dict(conn.execute("SELECT status, count(*) FROM orders GROUP BY status"))
            trades = conn.execute("SELECT count(*) FROM trades").fetchone()[0]
        finally:
            conn.close()
        return {"orders": sum(by_status.values()), "orders_by_status": by_status, "trades": trades}


# -- measuring --------------------------------------------------------------------------------


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process's main thread ("main") and of its other threads by name."""
    out: dict[str, float] = {}
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tids = list(task_dir.iterdir())
    except OSError:
        return out
    for tid in tids:
        stat = proc_stat(tid / "stat")
        if stat is None:
            continue
        name, fields = stat
        cpu = cpu_seconds(fields)
        if tid.name == str(pid):
            name = "main"
        else:
            name = "other:" + (re.sub(r"[_-]?\d+$", "", name) or name)
        out[name] = out.get(name, 0.0) + cpu
    # Child processes (the exchange's SQLite writer, its order gateways) count as the server's
    # CPU too.
    for child in child_pids(pid):
        stat = proc_stat(f"/proc/{child}/stat")
        if stat is not None:  # its own children's CPU as well
            cpu = cpu_seconds(stat[1], children=True)
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                gateway = b"phoenyra.exchange.gateway" in cmdline
            except OSError:
                gateway = False
            name = "gateway processes" if gateway else "child process"
            out[name] = out.get(name, 0.0) + cpu
    return out


def child_pids(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = proc_stat(entry / "stat")
        if stat is not None and int(stat[1][1]) == pid:
            out.append(int(entry.name))
    return out


def process_memory(pid: int) -> dict[str, int]:
    """Resident set size now and at its peak, in MiB (from /proc/PID/status)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name = "rss_mib" if line.startswith("VmRSS") else "peak_rss_mib"
                    out[name] = round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return out


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_wrk(
    url: str,
    keys: list[str],
    connections: int,
    threads: int,
    seconds: float,
    seed: int,
    cpus: set[int] | None,
    script: Path = LUA,
    script_args: list[str] | None = None,
) -> tuple[dict, float]:
    """One wrk run; returns (its JSON summary, its CPU seconds)."""
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        *(script_args if script_args is not None else [",".join(keys), str(seed)]),
    ]
    before = children_cpu()
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
        preexec_fn=affinity(cpus),
    )
    cpu = children_cpu() - before
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return json.loads(line[len("WRK_JSON ") :]), cpu


def non_2xx(statuses: dict[str, int]) -> int:
    return sum(n for code, n in statuses.items() if not 200 <= int(code) < 300)


def non_201(statuses: dict[str, int]) -> int:
    return sum(n for code, n in statuses.items() if int(code) != 201)


def measure(kind: str, connections: int, args: argparse.Namespace) -> dict:
    server_cpus, wrk_cpus = (None, None)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        server_cpus, wrk_cpus = {cpus[0]}, {cpus[-1]}
    server = Server(kind, server_cpus, args.keep, args.gateways)
    progress(f"[{kind} c={connections}] starting server in {server.dir}")
    try:
        server.start()
        keys = server.create_accounts(args.accounts)
        progress(f"[{kind} c={connections}] {len(keys)} accounts; warm-up {args.warmup:g} s")
        warm, _ = run_wrk(
            server.base_url, keys, connections, args.threads, args.warmup, args.seed, wrk_cpus
        )
        commits0 = server.commit_stats()
        assert server.proc is not None
        pid = server.proc.pid
        cpu0 = thread_cpu(pid)
        sys0 = system_cpu()
        progress(f"[{kind} c={connections}] measuring {args.duration:g} s")
        res, wrk_cpu = run_wrk(
            server.base_url,
            keys,
            connections,
            args.threads,
            args.duration,
            args.seed + 1,
            wrk_cpus,
        )
        sys1 = system_cpu()
        cpu1 = thread_cpu(pid)
        commits1 = server.commit_stats()
        memory = process_memory(pid)
        rc = server.stop()
        stored = server.stored()
    except BaseException:
        server.stop()
        progress(f"[{kind} c={connections}] server log tail:\n{server.log()}")
        server.cleanup()
        raise
    server.cleanup()

    wall = res["duration_us"] / 1e6
    per_thread = {
        name: round((cpu1.get(name, 0.0) - cpu0.get(name, 0.0)) / wall, 3)
        for name in sorted(set(cpu0) | set(cpu1))
    }
    per_thread = {k: v for k, v in per_thread.items() if v > 0.0}
    server_cores = round(sum(per_thread.values()), 3)
    busy_cores = (sys1[0] - sys0[0]) / wall
    wrk_cores = wrk_cpu / wall
    ok_measured = res["statuses"].get("201", 0)
    ok = ok_measured + warm["statuses"].get("201", 0)
    in_flight_bound = 2 * connections  # requests wrk may have sent but not counted, per run
    surplus = stored["orders"] - ok
    socket_errors = sum(v for k, v in res["errors"].items() if k != "status") + sum(
        v for k, v in warm["errors"].items() if k != "status"
    )
    bad = non_201(res["statuses"]) + non_201(warm["statuses"])
    lat = res["latency_us"]
    row = {
        "implementation": kind,
        "connections": connections,
        "wrk_threads": args.threads,
        "seconds": round(wall, 3),
        "requests": res["requests"],
        "orders_per_s": round(res["statuses"].get("201", 0) / wall, 1),
        "requests_per_s": round(res["requests"] / wall, 1),
        "latency_ms": {
            k: round(lat[k] / 1000, 3) for k in ("p50", "p90", "p99", "p999", "max", "mean")
        },
        "statuses": res["statuses"],
        "non_2xx": non_2xx(res["statuses"]),
        "non_201": non_201(res["statuses"]),
        "socket_errors": {k: v for k, v in res["errors"].items() if k != "status"},
        "warmup": {
            "seconds": round(warm["duration_us"] / 1e6, 3),
            "requests": warm["requests"],
            "statuses": warm["statuses"],
        },
        "server_cpu_us_per_order": round(1e6 * server_cores / max(1.0, ok_measured / wall), 1),
        "cpu_cores": {
            "server": server_cores,
            "server_threads": per_thread,
            "wrk": round(wrk_cores, 3),
            "machine_busy": round(busy_cores, 3),
            "everything_else": round(max(0.0, busy_cores - server_cores - wrk_cores), 3),
        },
        "server_memory": memory,
        "pinned": {"server": sorted(server_cpus or []), "wrk": sorted(wrk_cpus or [])},
        "verification": {
            "responses_201_counted": ok,
            "orders_stored": stored["orders"],
            "stored_minus_counted": surplus,
            "allowed_in_flight": in_flight_bound,
            "every_201_stored": surplus >= 0,
            "ok": 0 <= surplus <= in_flight_bound,
            "orders_by_status": stored["orders_by_status"],
            "trades_stored": stored["trades"],
            "server_exit_code": rc,
        },
        "valid": bad == 0 and socket_errors == 0 and 0 <= surplus <= in_flight_bound,
    }
    if commits0 and commits1 and commits0["count"] is not None and commits1["count"] is not None:
        batches = commits1["count"] - commits0["count"]
        seconds = commits1["sum"] - commits0["sum"]
        row["group_commit"] = {
            "batches": int(batches),
            "orders_per_batch": round(res["requests"] / batches, 2) if batches else None,
            "mean_commit_ms": round(1000 * seconds / batches, 3) if batches else None,
            "writer_busy_share": round(seconds / wall, 3),
        }
    progress(
        f"[{kind} c={connections}] {row['orders_per_s']:,.0f} orders/s, "
        f"p50 {row['latency_ms']['p50']:.2f} ms, p99 {row['latency_ms']['p99']:.2f} ms, "
        f"non-201 {row['non_201']}, stored {stored['orders']:,} for {ok:,} counted 201s, "
        f"trades {stored['trades']:,}; server {server_cores:.2f} cores "
        f"({row['server_cpu_us_per_order']:.0f} µs/order), wrk {wrk_cores:.2f}, "
        f"other {row['cpu_cores']['everything_else']:.2f}"
    )
    return row


# -- machine, output --------------------------------------------------------------------------
def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    progress("wrk is not installed; installing the Debian package 'wrk' with apt-get ...")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
        subprocess.run(
            sudo + cmd, check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        )
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is required: install it with 'apt-get install wrk'")
    return path


def markdown(rows: list[dict], ratios: list[dict]) -> str:
    lines = [
        "| implementation | connections | orders/s | p50 ms | p99 ms | non-2xx | valid "
        "| server CPU µs/order | other load (cores) |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['implementation']} | {r['connections']} | {r['orders_per_s']:,.0f} | "
            f"{r['latency_ms']['p50']:.2f} | {r['latency_ms']['p99']:.2f} | {r['non_2xx']} | "
            f"{'yes' if r['valid'] else 'NO'} | {r['server_cpu_us_per_order']:.0f} | "
            f"{r['cpu_cores']['everything_else']:.2f} |"
        )
    for q in ratios:
        lines.append(
            f"| **ratio exchange / naive** | {q['connections']} | "
            f"**{q['orders_per_s']:.2f}×** | {q['p50']:.2f}× | {q['p99']:.2f}× | | | | |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per run")
    parser.add_argument(
        "--connections", default="16,64", help="comma-separated wrk connection counts"
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (-t)")
    parser.add_argument("--accounts", type=int, default=8, help="trader accounts (API keys)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the Lua order generator")
    parser.add_argument(
        "--only", choices=IMPLEMENTATIONS, default=None, help="run one implementation only"
    )
    parser.add_argument(
        "--pin", action="store_true", help="pin the server to the first CPU and wrk to the last"
    )
    parser.add_argument("--keep", action="store_true", help="keep the servers' data directories")
    parser.add_argument(
        "--gateways",
        type=int,
        default=0,
        help="EXCHANGE_GATEWAYS of the exchange (0: one process, the default)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--serve-naive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve_naive:
        serve_naive(args.port, args.db)
        return 0

    wrk = ensure_wrk()
    connections = [int(c) for c in args.connections.split(",") if c.strip()]
    kinds = [args.only] if args.only else list(IMPLEMENTATIONS)
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        progress(
            f"warning: load average {load_before[0]:.2f} before the run; other processes "
            "compete for the 2 cores and will lower the numbers (see cpu_cores.everything_else)"
        )
    started = datetime.now(UTC)
    probe_before = cpu_probe_ms()
    rows = []
    for c in connections:
        for kind in kinds:
            rows.append(measure(kind, c, args))
    ratios = []
    for c in connections:
        by = {r["implementation"]: r for r in rows if r["connections"] == c}
        if "exchange" in by and "naive" in by:
            e, n = by["exchange"], by["naive"]
            ratios.append(
                {
                    "connections": c,
                    "orders_per_s": round(e["orders_per_s"] / n["orders_per_s"], 3),
                    "p50": round(e["latency_ms"]["p50"] / n["latency_ms"]["p50"], 3),
                    "p99": round(e["latency_ms"]["p99"] / n["latency_ms"]["p99"], 3),
                }
            )
    target = [
        {
            "connections": r["connections"],
            "orders_per_s_ok": r["orders_per_s"] >= TARGET_ORDERS_PER_S,
            "p99_ok": r["latency_ms"]["p99"] < TARGET_P99_MS,
        }
        for r in rows
        if r["implementation"] == "exchange"
    ]
    wrk_version = subprocess.run(
        [wrk, "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    result = {
        "benchmark": "http",
        "date": started.isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "machine": machine(
            sqlite=sqlite3.sqlite_version,
            wrk=wrk_version[0].split(" [")[0] if wrk_version else None,
            uvicorn=version_of("uvicorn"),
            fastapi=version_of("fastapi"),
            uvloop=version_of("uvloop"),
            httptools=version_of("httptools"),
            load_average_before=[round(x, 2) for x in load_before],
            load_average_after=[round(x, 2) for x in os.getloadavg()],
            cpu_probe_ms_before=probe_before,
            cpu_probe_ms_after=cpu_probe_ms(),
        ),
        "parameters": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": connections,
            "wrk_threads": args.threads,
            "accounts": args.accounts,
            "seed": args.seed,
            "pin": args.pin,
            "lua": str(LUA.relative_to(ROOT)),
            "exchange_env": {
                "PHOENYRA_ENV": "development",
                "PHOENYRA_THROTTLE_RATE": "1000000",
                "PHOENYRA_THROTTLE_BURST": "1000000",
                "EXCHANGE_GATEWAYS": args.gateways,
                "database": "SQLite in a fresh PHOENYRA_DATA_DIR, synchronous FULL (default)",
            },
            "naive": "FastAPI sync endpoint in the threadpool, one lock, one sqlite3 connection, "
            "WAL + synchronous=FULL, one transaction (one fsync) per order",
        },
        "target": {"orders_per_s": TARGET_ORDERS_PER_S, "p99_ms": TARGET_P99_MS, "met": target},
        "runs": rows,
        "ratios_exchange_over_naive": ratios,
        "valid": all(r["valid"] for r in rows),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    progress(f"wrote {args.output}")

    m = result["machine"]
    print(f"## HTTP benchmark: POST /api/orders ({started:%Y-%m-%d %H:%M} UTC)\n")
    print(
        f"{m['cpu_model']}, {m['cpus_online']} CPUs, Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['wrk']}; commit {result['git_commit'] or '?'}"
        f"{' (uncommitted changes)' if result['git_dirty'] else ''}; "
        f"load average before {load_before[0]:.2f}; CPU probe (10 M Python additions) "
        f"{m['cpu_probe_ms_before']:.0f} ms before, {m['cpu_probe_ms_after']:.0f} ms after\n"
    )
    print(
        f"wrk -t{args.threads}, keep-alive, {args.warmup:g} s warm-up + {args.duration:g} s "
        f"measured, fresh server per row, {args.accounts} accounts, "
        f"{args.gateways or 'no'} order gateways"
        f"{', pinned' if args.pin else ''}.\n"
    )
    print(markdown(rows, ratios))
    print()
    for t in target:
        print(
            f"- target at c={t['connections']}: ≥ {TARGET_ORDERS_PER_S:,.0f} orders/s "
            f"{'met' if t['orders_per_s_ok'] else 'MISSED'}, p99 < {TARGET_P99_MS:g} ms "
            f"{'met' if t['p99_ok'] else 'MISSED'}"
        )
    if not result["valid"]:
        print("- INVALID: a run had non-201 answers, socket errors or unstored orders")
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
