"""`phoenyra up` (behind `make run`): the exchange and the market feed on one machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from support import ROOT, free_port, free_ports


def _start(tmp_path, **env):
    port, feed_port, web_port = free_ports(3)
    full_env = {
        **os.environ,
        "PHOENYRA_DATA_DIR": str(tmp_path / "data"),
        "EXCHANGE_PORT": str(port),
        "MARKET_FEED_PORT": str(feed_port),
        "WEBAPP_PORT": str(web_port),
        "BESS_SIMULATOR_PORT": str(free_port()),
        "BESS_TELEMETRY_PORT": str(free_port()),
        "BESS_UPDATE_INTERVAL": "1",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    for name in (
        "PHOENYRA_ENV",
        "DATABASE_URL",
        "MARKET_SOURCE",
        "ENTSO_E_TOKEN",
        "BESS_MODBUS_ENABLED",
        "BESS_MQTT_ENABLED",
    ):
        if name not in env:
            full_env.pop(name, None)
    log = open(tmp_path / f"up-{port}.log", "wb")  # noqa: SIM115 - closed by the caller
    proc = subprocess.Popen(
        [sys.executable, "-m", "phoenyra.cli", "up"],
        env=full_env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    proc.web = f"http://127.0.0.1:{web_port}"
    return proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{feed_port}", log


def _wait_for_prices(base: str, proc, log_path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text(errors="replace")
        try:
            r = httpx.get(f"{base}/api/market-data", headers={"X-API-Key": "demo"}, timeout=2)
            if r.status_code == 200 and r.json()["mark"] is not None:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("no prices arrived:\n" + log_path.read_text(errors="replace")[-4000:])


def _stop(proc) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=30)


def _wait_for_battery(base: str, proc, log_path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text(errors="replace")
        try:
            r = httpx.get(f"{base}/api/bess/status", headers={"X-API-Key": "demo"}, timeout=2)
            if r.status_code == 200 and r.json()["source"] == "modbus":
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("no battery reading:\n" + log_path.read_text(errors="replace")[-4000:])


def test_up_runs_the_system_offline_on_labelled_synthetic_prices_and_a_simulated_battery(
    tmp_path,
):
    # No token and no network (aWattar points at a closed port): the demo falls back to
    # synthetic prices and says so, in the log and in the market data.
    env = {"AWATTAR_BASE_URL": "http://127.0.0.1:9"}
    proc, base, feed, log = _start(tmp_path, **env)
    log_path = tmp_path / log.name.rsplit("/", 1)[-1]
    try:
        data = _wait_for_prices(base, proc, log_path)
        assert data["simulated"] is True and data["source"] == "synthetic"
        assert data["stale"] is False
        assert httpx.get(f"{feed}/readyz", timeout=5).status_code == 200
        with httpx.Client(base_url=base, headers={"X-API-Key": "demo"}) as c:
            count = len(c.get("/market/prices", params={"market": "epex_at"}).json())
        assert count >= 92  # today at least (tomorrow too), quarter-hours
        # No battery configured: the simulated one, over Modbus TCP, is live in the exchange.
        battery = _wait_for_battery(base, proc, log_path)
        assert battery["online"] is True and 0 <= battery["soc_percent"] <= 100
        # The web app is up and, in development, opens without sign-in.
        page = httpx.get(proc.web + "/", timeout=5)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        via_web = httpx.get(proc.web + "/api/bess/status", timeout=5).json()
        assert via_web["battery_id"] == "default"
    finally:
        code = _stop(proc)
        log.close()
    text = log_path.read_text(errors="replace")
    assert code == 0, text
    assert "SIMULATED prices" in text
    assert "stopped" in text
    # A second start finds the data again.
    proc, base, _, log = _start(tmp_path, **env)
    log_path = tmp_path / log.name.rsplit("/", 1)[-1]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(
                    f"{base}/market/prices",
                    params={"market": "epex_at"},
                    headers={"X-API-Key": "demo"},
                    timeout=2,
                )
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
        assert len(r.json()) == count
    finally:
        assert _stop(proc) == 0
        log.close()
