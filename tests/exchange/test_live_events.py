"""The WebSocket event stream and its HMAC-SHA256 authorisation."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time

import pytest
import websockets

from support import ROOT, new_trader, signed_url, ws_events


def test_signed_client_receives_order_and_tradews_events(exchange):
    seller, buyer = new_trader(exchange), new_trader(exchange)

    def trade():
        seller.post(
            "/api/orders",
            json={"market": "epex_at", "side": "SELL", "quantity": 1.0, "price": 77.0},
        )
        buyer.post(
            "/api/orders", json={"market": "epex_at", "side": "BUY", "quantity": 1.0, "price": 77.0}
        )

    events = asyncio.run(ws_events(signed_url(exchange), 4, trade))
    kinds = [e["type"] for e in events]
    assert kinds == ["order", "order", "order", "trade"]
    assert events[0]["data"]["status"] == "ACCEPTED"
    assert {events[1]["data"]["status"], events[2]["data"]["status"]} == {"FILLED"}
    assert events[3]["data"]["price"] == 77.0 and events[3]["data"]["quantity"] == 1.0


def test_telemetry_events_are_streamed(exchange):
    def send():
        with exchange.client("demo-bess") as c:
            c.post(
                "/api/bess/telemetry",
                json={"soc_percent": 42.5, "power_mw": -0.3, "temperature_c": 21.0},
            )

    (event,) = asyncio.run(ws_events(signed_url(exchange), 1, send))
    assert event["type"] == "telemetry"
    assert (event["data"]["soc_percent"], event["data"]["power_mw"]) == (42.5, -0.3)


async def _refused(url: str) -> tuple[int, dict]:
    """A refused handshake: the HTTP status and the JSON error, as over REST."""
    try:
        async with websockets.connect(url) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except websockets.InvalidStatus as exc:
        return exc.response.status_code, json.loads(exc.response.body)["error"]
    return 0, {"code": "accepted"}


# ±33 s, not ±31: the URL is built up to a second before the server reads its clock, and
# int() truncates, so a timestamp 31 s ahead can arrive inside the 30 s window.
@pytest.mark.parametrize(
    ("make_url", "code"),
    [
        (lambda ex: signed_url(ex, secret="wrong-secret"), "BAD_SIGNATURE"),
        (lambda ex: signed_url(ex, ts=int(time.time()) - 33), "SIGNATURE_EXPIRED"),
        (lambda ex: signed_url(ex, ts=int(time.time()) + 33), "SIGNATURE_EXPIRED"),
        (lambda ex: signed_url(ex, key_id="no-such-key"), "INVALID_API_KEY"),
        (lambda ex: ex.base_url.replace("http", "ws") + "/ws", "UNAUTHENTICATED"),
        # nan compares false with everything: it must not pass for a time inside the window.
        (lambda ex: signed_url(ex, ts="nan"), "BAD_SIGNATURE"),
        (lambda ex: signed_url(ex, ts="inf"), "BAD_SIGNATURE"),
        (lambda ex: signed_url(ex, ts="soon"), "BAD_SIGNATURE"),
    ],
)
def test_bad_signatures_are_refused(exchange, make_url, code):
    status, error = asyncio.run(_refused(make_url(exchange)))
    assert (status, error["code"]) == (401, code), error
    assert error["message"]


def test_a_nonce_is_accepted_once(exchange):
    nonce = secrets.token_hex(8)
    ts = int(time.time())
    url = signed_url(exchange, ts=ts, nonce=nonce)

    async def twice():
        async with websockets.connect(url) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
        return await _refused(url)

    status, error = asyncio.run(twice())
    assert (status, error["code"]) == (401, "REPLAYED_NONCE")


def test_trader_stream_carries_only_its_own_orders(exchange):
    trader = new_trader(exchange)
    me = trader.get("/api/accounts/me").json()
    key_id = trader.headers["X-API-Key"].split("_")[1]
    other = new_trader(exchange)

    def act():
        other.post(
            "/api/orders", json={"market": "epex_it", "side": "BUY", "quantity": 1.0, "price": 3.0}
        )
        trader.post(
            "/api/orders", json={"market": "epex_it", "side": "BUY", "quantity": 1.0, "price": 2.0}
        )

    # Market-data events go to everyone and may come in between; the first order event is ours.
    url = signed_url(exchange, key_id=key_id)
    (event,) = asyncio.run(ws_events(url, 1, act, types={"order", "trade"}))
    assert event["type"] == "order" and event["data"]["account_id"] == me["id"]


def test_telemetry_and_feed_keys_get_no_trades_or_orders_over_the_stream(exchange):
    """As over REST (403 on /api/trades): their streams carry market and telemetry events."""
    seller, buyer = new_trader(exchange), new_trader(exchange)

    def trade_then_reading():
        seller.post(
            "/api/orders", json={"market": "epex_ch", "side": "SELL", "quantity": 0.5, "price": 9.0}
        )
        buyer.post(
            "/api/orders", json={"market": "epex_ch", "side": "BUY", "quantity": 0.5, "price": 9.0}
        )
        with exchange.client("demo-bess") as bess:
            r = bess.post(
                "/api/bess/telemetry",
                json={"soc_percent": 51.0, "power_mw": 0.0, "temperature_c": 20.0},
            )
            assert r.status_code == 202, r.text

    for key_id in ("bess", "feed"):
        events = asyncio.run(
            ws_events(
                signed_url(exchange, key_id=key_id),
                1,
                trade_then_reading,
                types={"order", "trade", "telemetry"},
            )
        )
        assert [e["type"] for e in events] == ["telemetry"], (key_id, events)


def test_a_stream_ends_when_its_key_is_cut_off(exchange):
    trader = new_trader(exchange)
    key_id = trader.headers["X-API-Key"].split("_")[1]
    me = trader.get("/api/accounts/me").json()

    async def scenario():
        async with websockets.connect(signed_url(exchange, key_id=key_id)) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "hello"
            with exchange.client() as admin:
                r = await asyncio.to_thread(
                    admin.post, f"/api/accounts/{me['id']}/rotate-key", json={"overlap_s": 0}
                )
                assert r.status_code == 200, r.text
            started = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            return closed.value.rcvd, time.monotonic() - started

    frame, seconds = asyncio.run(scenario())
    assert frame.code == 4401 and frame.reason.startswith("KEY_EXPIRED")
    assert seconds < 3


def test_a_key_the_cli_made_while_the_exchange_runs_opens_a_stream(exchange):
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "phoenyra.cli", "accounts", "create",
         f"ws-cli-{secrets.token_hex(3)}", "--role", "viewer"],
        env=exchange.env, capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    key = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("api key"))
    key_id = key.split("_")[1]

    async def hello():
        async with websockets.connect(signed_url(exchange, key_id=key_id)) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    assert asyncio.run(hello())["type"] == "hello"
