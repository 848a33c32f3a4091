"""HTTPS and WSS: the exchange and the web app listen with the certificate pair named by
TLS_CERT_FILE/TLS_KEY_FILE, clients verify it against EXCHANGE_CA_FILE, the web app's relay
follows the exchange's events over wss://, and a half or broken TLS configuration is refused
before anything listens."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time

import httpx
import pytest
import websockets

from ops_support import WebappProcess
from phoenyra.tls import generate_self_signed
from support import ROOT, ExchangeProcess, signed_url


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    cert, key, ca = generate_self_signed(tmp_path_factory.mktemp("tls"), ["127.0.0.1", "localhost"])
    return {"cert": cert, "key": key, "ca": ca, "context": ssl.create_default_context(cafile=ca)}


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return generate_self_signed(tmp_path_factory.mktemp("other"), ["127.0.0.1"])[2]


def _https(process, pki):
    process.base_url = process.base_url.replace("http://", "https://")
    process.verify = pki["context"]
    return process


@pytest.fixture(scope="module")
def exchange(tmp_path_factory, pki):
    proc = ExchangeProcess(
        tmp_path_factory.mktemp("exchange"),
        TLS_CERT_FILE=str(pki["cert"]),
        TLS_KEY_FILE=str(pki["key"]),
    )
    _https(proc, pki).start()
    yield proc
    proc.stop()


def test_exchange_answers_https_verified_by_its_ca_and_nothing_else(exchange, pki):
    r = httpx.get(exchange.base_url + "/readyz", verify=pki["context"], timeout=5)
    assert r.status_code == 200 and r.json()["checks"]["database"] is True
    # The system's trust store does not know the local CA: verification fails, as it must.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(exchange.base_url + "/healthz", timeout=5)
    # Plain HTTP on the TLS port gets no answer.
    with pytest.raises(httpx.HTTPError):
        httpx.get(exchange.base_url.replace("https://", "http://") + "/healthz", timeout=5)


def test_exchange_event_stream_over_wss(exchange, pki):
    url = signed_url(exchange).replace("https://", "wss://")
    assert url.startswith("wss://127.0.0.1:")

    async def hello():
        async with websockets.connect(url, ssl=pki["context"]) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert asyncio.run(hello())["type"] == "hello"


def test_order_gateways_serve_https_and_wss(pki, tmp_path):
    """With EXCHANGE_GATEWAYS the gateways terminate TLS: orders (their own path) and the event
    stream (bridged to the core) over https and wss."""
    proc = ExchangeProcess(
        tmp_path,
        TLS_CERT_FILE=str(pki["cert"]),
        TLS_KEY_FILE=str(pki["key"]),
        EXCHANGE_GATEWAYS="2",
    )
    _https(proc, pki).start()
    try:
        with httpx.Client(base_url=proc.base_url, verify=pki["context"]) as c:
            r = c.post(
                "/api/accounts",
                json={"name": "tls-trader", "role": "trader"},
                headers={"X-API-Key": "demo"},
            )
            assert r.status_code == 201, r.text
            r = c.post(
                "/api/orders",
                json={"market": "epex_at", "side": "SELL", "quantity": 1.0, "price": 60.0},
                headers={"X-API-Key": r.json()["api_key"]},
            )
        assert r.status_code == 201 and r.json()["status"] == "ACCEPTED", r.text
        url = signed_url(proc).replace("https://", "wss://")

        async def hello():
            async with websockets.connect(url, ssl=pki["context"]) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 5))

        assert asyncio.run(hello())["type"] == "hello"
    finally:
        proc.stop()


def test_web_app_over_https_relays_the_exchange_events_over_wss(exchange, pki, tmp_path):
    web = WebappProcess(
        exchange,
        tmp_path / "web",
        EXCHANGE_CA_FILE=str(pki["ca"]),
        TLS_CERT_FILE=str(pki["cert"]),
        TLS_KEY_FILE=str(pki["key"]),
    )
    _https(web, pki).start()  # ready only once its relay holds the wss:// stream
    try:
        assert exchange.base_url.startswith("https://")
        with httpx.Client(base_url=web.base_url, verify=pki["context"], timeout=5) as client:
            before = client.get("/readyz").json()
            assert before["checks"]["exchange"] == "ok" and before["relay"]["connected"]
            r = httpx.post(
                exchange.base_url + "/api/bess/telemetry",
                headers={"X-API-Key": "demo-bess"},
                json={"soc_percent": 51, "power_mw": 0, "temperature_c": 20},
                verify=pki["context"],
            )
            assert r.status_code == 202, r.text

            def relayed():
                return client.get("/readyz").json()["relay"]["events_relayed"]

            for _ in range(50):
                if relayed() > before["relay"]["events_relayed"]:
                    break
                time.sleep(0.1)
            assert relayed() > before["relay"]["events_relayed"]
            # Over HTTPS the web app asks browsers to stay on HTTPS.
            page = client.get("/login")
            assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        web.stop()


def test_web_app_refuses_an_exchange_certificate_from_another_ca(exchange, other_ca, tmp_path):
    web = WebappProcess(exchange, tmp_path / "web", EXCHANGE_CA_FILE=str(other_ca))
    web.ready = lambda response: response.status_code == 503  # up, but the exchange untrusted
    web.start()
    try:
        body = httpx.get(web.base_url + "/readyz", timeout=5).json()
        assert "CERTIFICATE_VERIFY_FAILED" in body["checks"]["exchange"]
        for _ in range(50):
            error = httpx.get(web.base_url + "/readyz", timeout=5).json()["relay"]["last_error"]
            if error:
                break
            time.sleep(0.1)
        assert "CERTIFICATE_VERIFY_FAILED" in error
        assert body["relay"]["connected"] is False
    finally:
        web.stop()


def _run(command: str, **env) -> subprocess.CompletedProcess:
    import os

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TLS_", "EXCHANGE_CA"))}
    return subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", command, "--port", "1"],
        env={**clean, "PHOENYRA_ENV": "development", **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize("command", ["exchange", "webapp"])
def test_a_half_or_broken_tls_configuration_is_refused_with_a_clear_error(command, pki, tmp_path):
    half = _run(command, TLS_CERT_FILE=str(pki["cert"]))
    assert half.returncode != 0
    assert "TLS_CERT_FILE and TLS_KEY_FILE must be set together" in half.stderr
    if command == "webapp":
        return  # the same check as the exchange's; the wiring is what differs
    missing = _run(command, TLS_CERT_FILE=str(tmp_path / "nope.crt"), TLS_KEY_FILE=str(pki["key"]))
    assert missing.returncode != 0 and "nope.crt does not exist" in missing.stderr
    mismatched = _run(command, TLS_CERT_FILE=str(pki["cert"]), TLS_KEY_FILE=str(pki["ca"]))
    assert mismatched.returncode != 0
    assert "are not a matching PEM certificate and key" in mismatched.stderr
