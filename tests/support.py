"""Test support: real exchange processes and service checks (imported by tests and fixtures)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"
# The real market data shipped beside the repository (../shared/data); PHOENYRA_SHARED_DATA
# points elsewhere.
SHARED_DATA = Path(
    os.environ.get("PHOENYRA_SHARED_DATA")
    or next(
        (p for p in (ROOT.parent / "shared" / "data", Path("/work/shared/data")) if p.is_dir()),
        ROOT.parent / "shared" / "data",
    )
)
PG_URL = os.environ.get(
    "PHOENYRA_TEST_PG_URL", "postgresql+psycopg://phoenyra:phoenyra@127.0.0.1:5432/phoenyra_test"
)
# Under pytest-xdist each worker resets and fills a database of its own (phoenyra_test_gw1, ...;
# the first worker keeps phoenyra_test); conftest.pg_url creates it on first use.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_WORKER_INDEX = int(_WORKER.removeprefix("gw") or 0)
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKER_INDEX:
    from sqlalchemy import make_url

    _url = make_url(PG_URL)
    PG_URL = _url.set(database=f"{_url.database}_{_WORKER}").render_as_string(hide_password=False)


# A battery without losses (the default counts 95 % each way): for tests whose figures are
# about something else than the losses.
LOSSLESS = {"BESS_CHARGE_EFFICIENCY": "1", "BESS_DISCHARGE_EFFICIENCY": "1"}


def service_missing(what: str) -> None:
    """Under CI a missing service fails the test; on a developer machine it skips."""
    message = f"{what} is not available: run scripts/services start"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    return free_ports(1)[0]


_handed_out: set[int] = set()


def free_ports(n: int) -> list[int]:
    """``n`` free ports, never one handed out before in this test process: the kernel may give
    the same just-closed port to two callers, and two services would then collide. Under
    pytest-xdist each worker takes only ports of its own residue, so two workers never hand
    out the same port either (of port // 2: Linux hands out ports of one parity to bind())."""
    out: list[int] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 20_000:
            raise RuntimeError(
                f"no free port for worker {_WORKER} of {_WORKERS} after {tries} tries: too many "
                "test workers for the local port range (/proc/sys/net/ipv4/ip_local_port_range)?"
            )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if (port >> 1) % _WORKERS != _WORKER_INDEX % _WORKERS:
            continue
        if port not in _handed_out:
            _handed_out.add(port)
            out.append(port)
    return out


def spawn_cli(args: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    """``phoenyra <args>`` in its own process with ``env``, its output into ``log_path`` (for a
    failing test's message); the caller stops it."""
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "phoenyra.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def wait_for(predicate, timeout: float, what: str, logs: list[Path]):
    """The first truthy value of ``predicate()``, polled every 0.2 s; after ``timeout`` seconds
    an AssertionError naming ``what`` with the end of each log."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            text = "\n".join(p.read_text(errors="replace")[-2000:] for p in logs)
            raise AssertionError(f"timed out waiting for {what}\n{text}")
        time.sleep(0.2)


def read_setpoint_mw(port: int, preset: str = "generic") -> float:
    """The power setpoint a simulated battery on 127.0.0.1:``port`` holds, MW (+ discharging),
    read over Modbus as any client would (the synchronous client: browser tests run in
    Playwright's event loop)."""
    from pymodbus.client import ModbusTcpClient

    from phoenyra.telemetry.presets import load_preset
    from phoenyra.telemetry.registers import decode_field

    rmap = load_preset(preset).map
    f = rmap.setpoint_mw
    client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    try:
        assert client.connect()
        rr = client.read_holding_registers(f.address, count=f.words, device_id=rmap.unit_id)
        assert not rr.isError(), rr
        words = {("holding", f.address + i): w for i, w in enumerate(rr.registers)}
        return decode_field("setpoint_mw", f, words)
    finally:
        client.close()


def modbus_telemetry_env(exchange_url: str, sim_port: int, **extra: str) -> dict[str, str]:
    """What `phoenyra up` gives `phoenyra bess-telemetry` for a simulated battery on Modbus TCP
    at 127.0.0.1:``sim_port``, pushing to ``exchange_url``; ``extra`` adds or overrides."""
    return {
        **os.environ,
        "PHOENYRA_ENV": "development",
        "EXCHANGE_URL": exchange_url,
        "BESS_MODBUS_ENABLED": "true",
        "BESS_MODBUS_HOST": "127.0.0.1",
        "BESS_MODBUS_PORT": str(sim_port),
        "BESS_UPDATE_INTERVAL": "0.5",
        "BESS_TELEMETRY_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class ServiceProcess:
    """One of our services in its own process, as an operator would run it; ready when
    ``ready(response of GET /readyz)`` holds."""

    name = "service"
    timeout = 30.0
    # How the readiness poll verifies an https service (an ssl.SSLContext with the test's CA).
    verify: object = True

    def __init__(self, args: list[str], data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.args = [*args, "--port", str(self.port)]
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.proc: subprocess.Popen | None = None
        self.log_path = data_dir / f"{self.name}-{self.port}.log"

    def ready(self, response: httpx.Response) -> bool:
        return response.status_code == 200

    def start(self, timeout: float | None = None):
        timeout = timeout or self.timeout
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()}")
            try:
                if self.ready(httpx.get(f"{self.base_url}/readyz", timeout=1, verify=self.verify)):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.log()}")

    def run_refused(self, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run the service in the foreground expecting it to refuse to start: its exit code
        and output."""
        return subprocess.run(
            [sys.executable, "-m", *self.args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ExchangeProcess(ServiceProcess):
    """`phoenyra exchange` in its own process."""

    name = "exchange"

    def __init__(self, data_dir: Path, database_url: str | None = None, **env: str) -> None:
        base = {"PHOENYRA_ENV": "development", "PHOENYRA_DATA_DIR": str(data_dir), **env}
        if database_url:
            base["DATABASE_URL"] = database_url
        super().__init__(["phoenyra.cli", "exchange"], data_dir, base)

    def client(self, key: str = "demo") -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-API-Key": key}, timeout=10)


_counter = iter(range(1, 1_000_000))


def new_trader(exchange: ExchangeProcess, role: str = "trader", battery_id=None) -> httpx.Client:
    """A fresh account (a market participant unless linked to a battery) and its client."""
    with exchange.client() as admin:
        r = admin.post(
            "/api/accounts",
            json={
                "name": f"{role}-{os.getpid()}-{next(_counter)}",
                "role": role,
                "battery_id": battery_id,
            },
        )
        assert r.status_code == 201, r.text
        return exchange.client(r.json()["api_key"])


def bess_status(exchange: ExchangeProcess) -> dict:
    """The default battery's status as the exchange holds it (GET /api/bess/status)."""
    with exchange.client() as c:
        return c.get("/api/bess/status").json()


def battery_buys(exchange: ExchangeProcess, mwh: float = 0.1) -> None:
    """The default battery's own account buys ``mwh`` on epex_at's continuous book from a fresh
    market participant (filled at once): at 1 MW the battery then charges for mwh × 60 minutes,
    which dispatch asks of it."""
    with new_trader(exchange, battery_id="default") as me, new_trader(exchange) as other:
        offer = {"market": "epex_at", "side": "SELL", "quantity": mwh, "price": 10.0}
        assert other.post("/api/orders", json=offer).status_code == 201
        bought = me.post("/api/orders", json={**offer, "side": "BUY"})
        assert bought.json()["status"] == "FILLED", bought.text


def wait_charging(exchange: ExchangeProcess, from_soc: float, logs: list[Path]) -> dict:
    """The default battery's status once its SoC has risen 0.4 points above ``from_soc``
    (a dispatched charge reaching the exchange through telemetry); it must read −1 MW."""
    status = wait_for(
        lambda: (s := bess_status(exchange))["soc_percent"] > from_soc + 0.4 and s,
        20,
        "the SoC to rise",
        logs,
    )
    assert status["power_mw"] == -1.0, status
    return status


def end_processes(*procs: subprocess.Popen | None) -> None:
    """SIGTERM to those of ``procs`` still running (a test's clean-up), and wait for each."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def stop_telemetry(proc: subprocess.Popen, log: Path) -> str:
    """SIGTERM to a telemetry service: it must end cleanly (exit 0, dispatch set idle on the
    way out, as its log says); returns the log."""
    proc.terminate()
    assert proc.wait(timeout=15) == 0, log.read_text()
    text = log.read_text()
    assert "dispatch of default stopped: setpoint 0 MW" in text, text
    return text


def set_soc(exchange: ExchangeProcess, soc: float, battery_id: str = "default") -> None:
    with exchange.client("demo-bess") as c:
        r = c.post(
            "/api/bess/telemetry",
            json={
                "battery_id": battery_id,
                "soc_percent": soc,
                "power_mw": 0.0,
                "temperature_c": 25.0,
            },
        )
        assert r.status_code == 202, r.text


SECRET = "dev-hmac-secret"  # the development default of HMAC_SECRET


def signed_url(exchange, key_id="api", ts=None, nonce=None, secret=SECRET):
    """The exchange's /ws URL signed as the spec asks: HMAC-SHA256 over key_id:ts:nonce."""
    ts = str(int(time.time())) if ts is None else str(ts)
    nonce = nonce or secrets.token_hex(8)
    sig = hmac.new(secret.encode(), f"{key_id}:{ts}:{nonce}".encode(), hashlib.sha256).hexdigest()
    base = exchange.base_url.replace("http://", "ws://")
    return f"{base}/ws?key_id={key_id}&ts={ts}&nonce={nonce}&sig={sig}"


async def ws_events(url: str, count: int, action, types: set[str] | None = None) -> list[dict]:
    """Connect, run ``action`` (blocking, in a thread), return the next ``count`` events (of
    ``types`` when given)."""
    import websockets

    async with websockets.connect(url) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "hello"
        await asyncio.to_thread(action)
        out = []
        while len(out) < count:
            event = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if types is None or event["type"] in types:
                out.append(event)
        return out


def sqlite_service(tmp_path: Path, writer: str = "auto"):
    """An ExchangeService on a SQLite file in ``tmp_path``, loaded, not started; and the file."""
    from phoenyra.config import Settings
    from phoenyra.exchange.service import ExchangeService
    from phoenyra.exchange.store import Store

    settings = Settings(
        PHOENYRA_ENV="development",
        PHOENYRA_DATA_DIR=str(tmp_path),
        DATABASE_URL=None,
        PHOENYRA_DB_WRITER=writer,
        PHOENYRA_THROTTLE_RATE=1e9,
        PHOENYRA_THROTTLE_BURST=1e9,
    )
    store = Store(settings.effective_database_url, settings.sqlite_synchronous)
    service = ExchangeService(settings, store)
    service.load()
    return service, store.sqlite_file


def push_swinging_prices(exchange: ExchangeProcess, market: str = "epex_at") -> None:
    """Two days of quarter-hour day-ahead prices from now on ``market``, two peaks and troughs a
    day (80 ± 70 EUR/MWh): something for the optimiser to trade."""
    import math
    from datetime import UTC, datetime

    def iso(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")

    qh = 900
    first = int(time.time() // qh) * qh
    intervals = [
        {
            "start": iso(first + i * qh),
            "end": iso(first + (i + 1) * qh),
            "resolution": "PT15M",
            "price": round(80 + 70 * math.sin(i / 48 * math.pi), 2),
        }
        for i in range(192)
    ]
    body = {"market": market, "source": "test", "simulated": True, "intervals": intervals}
    with exchange.client("demo-feed") as c:
        r = c.post("/api/market/prices", json=body)
        assert r.status_code == 200, r.text
