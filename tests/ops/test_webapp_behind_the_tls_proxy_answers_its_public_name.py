"""Behind the compose stack's TLS proxy (Caddy with deploy/proxy/Caddyfile) and with the Host
allow-list compose.yaml gives the web app, the public name PHOENYRA_HOST serves pages and the
Socket.IO WebSocket, while the web app itself still refuses any other name."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import websockets
import yaml

from ops_support import caddy_proxy, wait_until
from support import ROOT
from webapp_support import WebappProcess

PUBLIC_NAME = "trade.localhost"  # a .localhost name: Caddy certifies it with its own CA


def compose_value(service: str, variable: str, env: dict[str, str]) -> str:
    """``variable`` of ``service`` in compose.yaml, interpolated as docker compose would."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    raw = str(compose["services"][service]["environment"][variable])
    return re.sub(
        r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m.group(1)) or m.group(2) or "", raw
    )


@pytest.fixture(scope="module")
def stack(exchange, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proxy")
    allowed = compose_value("webapp", "WEBAPP_ALLOWED_HOSTS", {"PHOENYRA_HOST": PUBLIC_NAME})
    web = WebappProcess(
        exchange, tmp / "web", WEBAPP_TRUST_PROXY="true", WEBAPP_ALLOWED_HOSTS=allowed
    ).start()
    try:
        with caddy_proxy(tmp, web, exchange, PUBLIC_NAME) as proxy:
            base = f"https://{PUBLIC_NAME}:{proxy.web_port}"
            wait_until(
                lambda: public_get(base, "/healthz", proxy.trust).status_code == 200,
                30,
                "the proxy does not answer",
                proxy.log,
            )
            yield {"base": base, "port": proxy.web_port, "trust": proxy.trust, "web": web}
    finally:
        web.stop()


def public_get(base: str, path: str, trust, **headers) -> httpx.Response:
    """GET through the proxy by its public name (resolved to this machine, sent as SNI)."""
    port = base.rsplit(":", 1)[1]
    with httpx.Client(verify=trust, timeout=5) as client:
        return client.get(
            f"https://127.0.0.1:{port}{path}",
            headers={"Host": f"{PUBLIC_NAME}:{port}", **headers},
            extensions={"sni_hostname": PUBLIC_NAME},
        )


def test_compose_allows_the_public_name_and_the_scrape_target():
    value = compose_value("webapp", "WEBAPP_ALLOWED_HOSTS", {"PHOENYRA_HOST": "trade.example.com"})
    assert value.split(",")[:2] == ["trade.example.com", "webapp"]
    assert compose_value("webapp", "WEBAPP_ALLOWED_HOSTS", {}).split(",")[:2] == [
        "localhost",
        "webapp",
    ]


def test_the_public_name_serves_pages_and_the_event_socket(stack):
    login = public_get(stack["base"], "/login", stack["trust"])
    assert login.status_code == 200 and "text/html" in login.headers["content-type"]
    assert login.headers["Strict-Transport-Security"].startswith("max-age=")

    port = stack["port"]
    url = f"wss://{PUBLIC_NAME}:{port}/socket.io/?EIO=4&transport=websocket"

    async def open_packet():
        async with websockets.connect(
            url,
            ssl=stack["trust"],
            host="127.0.0.1",  # where the public name points
            port=port,
            origin=f"https://{PUBLIC_NAME}:{port}",
            close_timeout=1,
        ) as ws:
            return await asyncio.wait_for(ws.recv(), 5)

    # Not signed in: Engine.IO opens, and Socket.IO then refuses the connect; what matters here
    # is that neither the Host check nor the Origin check refused the upgrade.
    assert asyncio.run(open_packet()).startswith("0")


def test_the_web_app_behind_the_proxy_still_refuses_other_names(stack):
    web = stack["web"]
    forged = {"Host": "webapp:5000", "X-Forwarded-Host": "rebind.attacker.example"}
    r = httpx.get(web.base_url + "/login", headers=forged, timeout=5)
    assert r.status_code == 400 and "WEBAPP_ALLOWED_HOSTS" in r.text
    scrape = httpx.get(web.base_url + "/metrics", headers={"Host": "webapp:5000"}, timeout=5)
    assert scrape.status_code == 200  # Prometheus's target in compose
