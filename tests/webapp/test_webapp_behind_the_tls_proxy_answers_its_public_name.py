"""Behind the compose stack's TLS proxy (Caddy with deploy/proxy/Caddyfile) and with the Host
allow-list compose.yaml gives the web app, the public name PHOENYRA_HOST serves pages and the
Socket.IO WebSocket, while the web app itself still refuses any other name."""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
import time

import httpx
import pytest
import websockets
import yaml

from support import ROOT, free_ports, service_missing
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
    caddy = shutil.which("caddy")
    if caddy is None:
        service_missing("caddy (Debian package: apt-get install caddy)")
    tmp = tmp_path_factory.mktemp("proxy")
    allowed = compose_value("webapp", "WEBAPP_ALLOWED_HOSTS", {"PHOENYRA_HOST": PUBLIC_NAME})
    web = WebappProcess(
        exchange, tmp / "web", WEBAPP_TRUST_PROXY="true", WEBAPP_ALLOWED_HOSTS=allowed
    ).start()
    web_port, exchange_port, http_port, admin_port = free_ports(4)
    env = {
        "HOME": str(tmp),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "PATH": "/usr/bin:/bin",
        "PHOENYRA_HOST": PUBLIC_NAME,
        "WEBAPP_HTTPS_PORT": str(web_port),
        "EXCHANGE_HTTPS_PORT": str(exchange_port),
        "PROXY_HTTP_PORT": str(http_port),
        "PROXY_ADMIN": f"localhost:{admin_port}",
        "WEBAPP_UPSTREAM": web.base_url.removeprefix("http://"),
        "EXCHANGE_UPSTREAM": exchange.base_url.removeprefix("http://"),
    }
    log_path = tmp / "caddy.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                caddy,
                "run",
                "--config",
                str(ROOT / "deploy/proxy/Caddyfile"),
                "--adapter",
                "caddyfile",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    root = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    base = f"https://{PUBLIC_NAME}:{web_port}"
    try:
        deadline = time.monotonic() + 30
        trust = None
        while time.monotonic() < deadline:
            try:
                trust = trust or (root.is_file() and ssl.create_default_context(cafile=root))
                if trust and public_get(base, "/healthz", trust).status_code == 200:
                    break
            except (httpx.HTTPError, ssl.SSLError, OSError):
                pass
            time.sleep(0.2)
        else:
            pytest.fail(f"the proxy does not answer:\n{log_path.read_text(errors='replace')}")
        yield {"base": base, "port": web_port, "trust": trust, "web": web}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
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
