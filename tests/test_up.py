"""`phoenyra up` (behind `make run`): the exchange and the market feed on one machine."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import time

import httpx

from support import ROOT, free_port, free_ports


def _start(tmp_path, *args, **env):
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
        [sys.executable, "-m", "phoenyra.cli", "up", *args],
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


def _until(check, log_path, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what}:\n" + log_path.read_text(errors="replace")[-4000:])


def test_up_tls_serves_https_and_wss_and_restarts_a_service_that_dies(tmp_path):
    proc, base, feed, log = _start(tmp_path, "--tls", MARKET_SOURCE="synthetic")
    log_path = tmp_path / log.name.rsplit("/", 1)[-1]
    base, web = base.replace("http://", "https://"), proc.web.replace("http://", "https://")
    ca = tmp_path / "data" / "tls" / "ca.crt"
    try:
        # The exchange speaks HTTPS with the generated pair; the telemetry service and the
        # feed reach it (verifying with the generated CA): the battery is live, prices arrive.
        trust = _until(
            lambda: ca.is_file() and ssl.create_default_context(cafile=ca), log_path, "no CA"
        )
        headers = {"X-API-Key": "demo"}

        def battery_online():
            r = httpx.get(f"{base}/api/bess/status", headers=headers, verify=trust, timeout=2)
            return r.status_code == 200 and r.json()["online"]

        _until(battery_online, log_path, "the battery never came online over https")
        _until(
            lambda: (
                httpx.get(f"{base}/api/market-data", headers=headers, verify=trust).json()["mark"]
                is not None
            ),
            log_path,
            "no prices over https",
        )
        # The web app serves HTTPS and its relay holds the exchange's wss:// stream.
        _until(
            lambda: httpx.get(f"{web}/readyz", verify=trust, timeout=2).json()["relay"][
                "connected"
            ],
            log_path,
            "the web app's relay never connected over wss",
        )
        text = log_path.read_text(errors="replace")
        assert f"exchange     {base}" in text and "TLS          certificate" in text
        # The exchange's clients start once it is ready (no burst of "cannot reach" warnings).
        assert text.index("exchange is ready") < text.index("started market-feed")
        # Readable lines for a person, not JSON, each naming its service.
        (started,) = [line for line in text.splitlines() if "market feed started" in line]
        assert not started.startswith("{") and "service=market-feed" in started

        # A service that dies is restarted, and its death is logged.
        pid = int(re.search(r"started market-feed \(pid (\d+)\)", text).group(1))
        os.kill(pid, signal.SIGKILL)
        _until(
            lambda: "restarted market-feed" in log_path.read_text(errors="replace"),
            log_path,
            "the market feed was not restarted",
            timeout=30,
        )
        assert "market-feed was killed by SIGKILL" in log_path.read_text(errors="replace")
        _until(
            lambda: httpx.get(f"{feed}/healthz", timeout=2).status_code == 200,
            log_path,
            "the restarted feed does not answer",
        )
    finally:
        code = _stop(proc)
        log.close()
    assert code == 0, log_path.read_text(errors="replace")[-3000:]
