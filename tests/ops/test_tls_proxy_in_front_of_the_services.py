"""The compose stack's TLS proxy: Caddy with deploy/proxy/Caddyfile (only its upstreams and
ports moved to the test's) terminates HTTPS and WSS for the exchange and the web app and keeps
/metrics internal."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from ops_support import WebappProcess, caddy_proxy, wait_until
from support import ExchangeProcess, signed_url


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proxy")
    exchange = ExchangeProcess(tmp / "exchange").start()
    web = WebappProcess(exchange, tmp / "web", WEBAPP_TRUST_PROXY="true").start()
    try:
        with caddy_proxy(tmp, web, exchange, "127.0.0.1") as proxy:
            base = {
                "web": f"https://127.0.0.1:{proxy.web_port}",
                "exchange": f"https://127.0.0.1:{proxy.exchange_port}",
            }
            wait_until(
                lambda: (
                    httpx.get(base["exchange"] + "/healthz", verify=proxy.trust).status_code == 200
                ),
                20,
                "the proxy does not answer",
                proxy.log,
            )
            # The compose health check's question: the admin API answers on the loopback.
            admin = httpx.get(f"http://localhost:{proxy.admin_port}/config/", timeout=5)
            assert admin.status_code == 200 and "apps" in admin.json()
            yield {"trust": proxy.trust, "exchange_process": exchange, **base}
    finally:
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
