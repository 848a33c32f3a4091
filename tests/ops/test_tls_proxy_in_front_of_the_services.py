"""The compose stack's TLS proxy: Caddy with deploy/proxy/Caddyfile (only its upstreams and
ports moved to the test's) terminates HTTPS and WSS for the exchange and the web app and keeps
/metrics internal."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess

import httpx
import pytest
import websockets

from ops_support import DEPLOY, WebappProcess, binary, wait_until
from support import ExchangeProcess, free_ports, signed_url


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proxy")
    caddy = binary("caddy")
    exchange = ExchangeProcess(tmp / "exchange").start()
    web = WebappProcess(exchange, tmp / "web", WEBAPP_TRUST_PROXY="true").start()
    web_port, exchange_port, http_port, admin_port = free_ports(4)
    env = {
        "HOME": str(tmp),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "PATH": "/usr/bin:/bin",
        "PHOENYRA_HOST": "127.0.0.1",
        "WEBAPP_HTTPS_PORT": str(web_port),
        "EXCHANGE_HTTPS_PORT": str(exchange_port),
        "PROXY_HTTP_PORT": str(http_port),
        "PROXY_ADMIN": f"localhost:{admin_port}",
        "WEBAPP_UPSTREAM": web.base_url.removeprefix("http://"),
        "EXCHANGE_UPSTREAM": exchange.base_url.removeprefix("http://"),
    }
    log = open(tmp / "caddy.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [caddy, "run", "--config", str(DEPLOY / "proxy" / "Caddyfile"), "--adapter", "caddyfile"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        trust = wait_until(
            lambda: root.is_file() and ssl.create_default_context(cafile=root),
            20,
            "Caddy made no local CA",
            lambda: (tmp / "caddy.log").read_text(errors="replace"),
        )
        base = {
            "web": f"https://127.0.0.1:{web_port}",
            "exchange": f"https://127.0.0.1:{exchange_port}",
        }
        wait_until(
            lambda: httpx.get(base["exchange"] + "/healthz", verify=trust).status_code == 200,
            20,
            "the proxy does not answer",
            lambda: (tmp / "caddy.log").read_text(errors="replace"),
        )
        # The compose health check's question: the admin API answers on the loopback.
        admin = httpx.get(f"http://localhost:{admin_port}/config/", timeout=5)
        assert admin.status_code == 200 and "apps" in admin.json()
        yield {"trust": trust, "exchange_process": exchange, **base}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        web.stop()
        exchange.stop()


def test_the_proxy_serves_the_exchange_over_https_and_keeps_metrics_internal(stack):
    with httpx.Client(base_url=stack["exchange"], verify=stack["trust"], timeout=5) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["database"] is True
        assert ready.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "X-Request-ID" in ready.headers  # the exchange's own header passes through
        orders = client.get("/api/orders", headers={"X-API-Key": "demo"})
        assert orders.status_code == 200
        assert client.get("/metrics").status_code == 404
    # Prometheus still scrapes the service itself on the internal network.
    assert httpx.get(stack["exchange_process"].base_url + "/metrics").status_code == 200


def test_the_exchange_event_stream_through_the_proxy_is_wss(stack):
    exchange = stack["exchange_process"]
    url = signed_url(exchange).replace(exchange.base_url.replace("http://", "ws://"), "")
    url = stack["exchange"].replace("https://", "wss://") + url

    async def hello():
        async with websockets.connect(url, ssl=stack["trust"]) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert asyncio.run(hello())["type"] == "hello"


def test_the_proxy_serves_the_web_app_over_https_with_websocket_upgrades(stack):
    with httpx.Client(base_url=stack["web"], verify=stack["trust"], timeout=5) as client:
        login = client.get("/login")
        assert login.status_code == 200 and "text/html" in login.headers["content-type"]
        # Behind the proxy the web app sees https (X-Forwarded-Proto) and marks its pages so.
        assert login.headers["Strict-Transport-Security"].startswith("max-age=")
        assert client.get("/metrics").status_code == 404

    # Socket.IO's WebSocket transport upgrades through the proxy: Engine.IO's open packet.
    url = stack["web"].replace("https://", "wss://") + "/socket.io/?EIO=4&transport=websocket"

    async def open_packet():
        # Engine.IO does not answer a close frame at once; do not wait out the default 10 s.
        async with websockets.connect(url, ssl=stack["trust"], close_timeout=1) as ws:
            return await asyncio.wait_for(ws.recv(), 5)

    packet = asyncio.run(open_packet())
    assert packet.startswith("0") and "sid" in json.loads(packet[1:])
