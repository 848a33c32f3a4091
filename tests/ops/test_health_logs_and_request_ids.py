"""Health and logs: JSON log lines carry the request id the response echoes; LOG_FORMAT is
checked; the telemetry service's /readyz checks its MQTT broker; the web app's /metrics needs
no sign-in; ``phoenyra healthcheck`` is what the containers' health checks run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from ops_support import WebappProcess, wait_until
from support import (
    ROOT,
    ExchangeProcess,
    ServiceProcess,
    free_port,
    new_trader,
    service_missing,
)


def _json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    proc = ExchangeProcess(
        tmp_path_factory.mktemp("exchange"), LOG_FORMAT="json", PHOENYRA_ACCESS_LOG="true"
    ).start()
    yield proc
    proc.stop()


def test_exchange_logs_json_lines_with_the_request_id_it_echoes(exchange):
    r = httpx.get(exchange.base_url + "/api/orders", headers={"X-Request-ID": "trace-42"})
    assert r.status_code == 401 and r.headers["X-Request-ID"] == "trace-42"
    # Without one (or with one that could forge a log line) the exchange makes its own.
    own = httpx.get(exchange.base_url + "/healthz").headers["X-Request-ID"]
    forged = httpx.get(
        exchange.base_url + "/healthz", headers={"X-Request-ID": 'x" level="critical'}
    ).headers["X-Request-ID"]
    assert len(own) == 32 and len(forged) == 32 and own != forged

    def logged():
        lines = _json_lines(exchange.log_path.read_text())
        return {line.get("request_id"): line for line in lines if line.get("event") == "request"}

    lines = wait_until(lambda: own in logged() and logged(), 5, "no access log line", exchange.log)
    line = lines["trace-42"]
    assert line["path"] == "/api/orders" and line["status"] == 401 and line["method"] == "GET"
    assert line["service"] == "exchange" and line["level"] == "info" and "timestamp" in line
    assert lines[own]["path"] == "/healthz"
    # Every line of the log is JSON (no stray text a log collector would choke on).
    text = exchange.log_path.read_text().strip().splitlines()
    assert len(_json_lines("\n".join(text))) == len(text)


def _logged_client(proc, request_id: str) -> str:
    def line():
        for entry in _json_lines(proc.log_path.read_text()):
            if entry.get("event") == "request" and entry.get("request_id") == request_id:
                return entry
        return None

    return wait_until(line, 5, "no access log line", proc.log)["client"]


def test_forwarded_client_addresses_are_believed_only_behind_a_trusted_proxy(exchange, tmp_path):
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    # Reached directly, anyone could claim any address: the header is ignored.
    httpx.get(exchange.base_url + "/healthz", headers={**forwarded, "X-Request-ID": "direct-1"})
    assert _logged_client(exchange, "direct-1") == "127.0.0.1"
    # Behind the TLS proxy (compose sets EXCHANGE_TRUST_PROXY) the log names the real client.
    proxied = ExchangeProcess(
        tmp_path, LOG_FORMAT="json", PHOENYRA_ACCESS_LOG="true", EXCHANGE_TRUST_PROXY="true"
    ).start()
    try:
        httpx.get(proxied.base_url + "/healthz", headers={**forwarded, "X-Request-ID": "proxy-1"})
        assert _logged_client(proxied, "proxy-1") == "203.0.113.7"
    finally:
        proxied.stop()


def test_an_unknown_log_format_is_refused():
    r = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "exchange", "--port", "1"],
        env={**os.environ, "PHOENYRA_ENV": "development", "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode != 0
    assert "LOG_FORMAT='xml': choose one of json, console" in r.stderr


def test_web_app_metrics_need_no_sign_in_and_pages_get_request_ids(exchange, tmp_path):
    web = WebappProcess(exchange, tmp_path / "web").start()
    try:
        page = httpx.get(web.base_url + "/", headers={"X-Request-ID": "page-1"})
        assert page.status_code == 302  # sign-in required for pages...
        assert page.headers["X-Request-ID"] == "page-1"
        metrics = httpx.get(web.base_url + "/metrics")  # ...but not for Prometheus
        assert metrics.status_code == 200
        page_count = "phoenyra_webapp_http_request_duration_seconds_count"
        assert f'{page_count}{{method="GET",route="/",status="302"}} 1.0' in metrics.text
        assert "phoenyra_webapp_exchange_stream_connected 1.0" in metrics.text
    finally:
        web.stop()


class TelemetryProcess(ServiceProcess):
    name = "bess-telemetry"

    def __init__(self, exchange, data_dir, mqtt_port: int) -> None:
        super().__init__(
            ["phoenyra.cli", "bess-telemetry"],
            data_dir,
            {
                "PHOENYRA_ENV": "development",
                "EXCHANGE_URL": exchange.base_url,
                "BESS_MQTT_ENABLED": "true",
                "BESS_MQTT_BROKER": "127.0.0.1",
                "BESS_MQTT_PORT": str(mqtt_port),
                "BESS_MODBUS_ENABLED": "false",
                "BESS_CONFIG_POLL_S": "20",
            },
        )
        # The telemetry service takes its health port from the environment.
        self.args = self.args[:-2]
        self.env["BESS_TELEMETRY_PORT"] = str(self.port)

    def ready(self, response: httpx.Response) -> bool:
        return response.status_code in (200, 503)  # answering; the test reads the checks


def _broker_running() -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", 1883)) == 0


def test_telemetry_readiness_follows_the_mqtt_broker(exchange, tmp_path):
    if not _broker_running():
        service_missing("Mosquitto on 127.0.0.1:1883")
    with_broker = TelemetryProcess(exchange, tmp_path / "a", 1883).start()
    without = TelemetryProcess(exchange, tmp_path / "b", free_port()).start()
    try:
        ok = wait_until(
            lambda: httpx.get(with_broker.base_url + "/readyz").status_code == 200,
            15,
            "not ready with a running broker",
            with_broker.log,
        )
        assert ok
        body = httpx.get(with_broker.base_url + "/readyz").json()
        assert body["checks"] == {"exchange": True, "mqtt_broker": True}
        r = httpx.get(without.base_url + "/readyz")
        assert r.status_code == 503 and r.json()["checks"]["mqtt_broker"] is False
        alive = httpx.get(without.base_url + "/healthz", headers={"X-Request-ID": "t-1"})
        assert alive.status_code == 200  # alive all the same
        assert alive.headers["X-Request-ID"] == "t-1"
    finally:
        with_broker.stop()
        without.stop()


def test_healthcheck_command_exit_status_follows_the_answer(exchange):
    def check(url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "phoenyra.cli", "healthcheck", url],
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert check(exchange.base_url + "/readyz").returncode == 0
    missing = check(exchange.base_url + "/no-such-page")
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr
    assert check(f"http://127.0.0.1:{free_port()}/healthz").returncode == 1


def test_the_order_path_carries_request_ids_access_log_and_error_answers(exchange):
    """POST /api/orders is served in front of FastAPI's middleware (the hot path): it must still
    echo request ids, write its access-log line and answer errors like every other route."""
    url = exchange.base_url + "/api/orders"
    order = {"market": "epex_at", "side": "BUY", "quantity": 1.0, "price": 50.0}
    unauth = httpx.post(url, json=order, headers={"X-Request-ID": "order-1"})
    assert unauth.status_code == 401 and unauth.headers["X-Request-ID"] == "order-1"
    assert unauth.json()["error"]["code"] == "UNAUTHENTICATED"
    bad = httpx.post(
        url,
        content=b"{not json",
        headers={"X-API-Key": "demo", "Content-Type": "application/json", "X-Request-ID": "o-2"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "MALFORMED_JSON"
    assert len(bad.headers["X-Request-ID"]) == 3
    big = httpx.post(url, content=b"{" + b" " * 70_000 + b"}", headers={"X-API-Key": "demo"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "BODY_TOO_LARGE"
    assert len(big.headers["X-Request-ID"]) == 32

    def logged():
        lines = _json_lines(exchange.log_path.read_text())
        return {line.get("request_id"): line for line in lines if line.get("event") == "request"}

    lines = wait_until(
        lambda: "o-2" in logged() and logged(), 5, "no access log line", exchange.log
    )
    assert lines["order-1"]["path"] == "/api/orders" and lines["order-1"]["method"] == "POST"
    assert lines["order-1"]["status"] == 401 and lines["o-2"]["status"] == 422


def test_with_gateways_a_parsed_order_is_answered_and_logged_by_its_gateway(tmp_path):
    """The gateway's own order path is taken (the order, not the request, reaches the core):
    its access-log line comes from the gateway, with the request id; a body the gateway does
    not parse goes to the core's app, which logs it itself."""
    proc = ExchangeProcess(
        tmp_path, LOG_FORMAT="json", PHOENYRA_ACCESS_LOG="true", EXCHANGE_GATEWAYS="1"
    ).start()
    try:
        trader = new_trader(proc)
        order = {"market": "epex_at", "side": "SELL", "quantity": 1.0, "price": 70.0}
        r = trader.post("/api/orders", json=order, headers={"X-Request-ID": "fast-1"})
        assert r.status_code == 201 and r.headers["X-Request-ID"] == "fast-1"
        r = trader.post(
            "/api/orders", json={**order, "side": "HOLD"}, headers={"X-Request-ID": "core-1"}
        )
        assert r.status_code == 422 and r.headers["X-Request-ID"] == "core-1"

        def logged():
            lines = _json_lines(proc.log_path.read_text())
            out = {line.get("request_id"): line for line in lines if line.get("event") == "request"}
            return "fast-1" in out and "core-1" in out and out

        lines = wait_until(logged, 5, "no access log lines", proc.log)
        fast, core = lines["fast-1"], lines["core-1"]
        assert (fast["service"], fast["path"], fast["status"]) == (
            "exchange-gateway",
            "/api/orders",
            201,
        )
        assert (core["service"], core["path"], core["status"]) == ("exchange", "/api/orders", 422)
        text = proc.log_path.read_text().strip().splitlines()
        assert len(_json_lines("\n".join(text))) == len(text)
    finally:
        proc.stop()
