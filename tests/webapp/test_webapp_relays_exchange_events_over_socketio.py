"""Live events: a trade on the exchange reaches a signed-in browser over Socket.IO, and a
trader never receives other accounts' order events."""

import queue
import re

import httpx
import pytest
import socketio

from support import new_trader
from webapp_support import ADMIN_PASSWORD, PASSWORD, WebappProcess


@pytest.fixture
def webapp(exchange, tmp_path):
    proc = WebappProcess(exchange, tmp_path / "webapp").start()
    yield proc
    proc.stop()


def signed_in_http(webapp, name, password) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=webapp.base_url, timeout=10)
    page = http.get("/login").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = http.post("/login", data={"username": name, "password": password, "csrf_token": token})
    assert r.status_code == 302, r.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', http.get("/").text).group(1)
    return http, token


def listen(webapp, http: httpx.Client) -> tuple[socketio.Client, queue.Queue]:
    events: queue.Queue = queue.Queue()
    sio = socketio.Client(reconnection=False)
    for name in ("order", "trade"):
        sio.on(name, lambda data, name=name: events.put((name, data)))
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    sio.connect(webapp.base_url, headers={"Cookie": cookie}, transports=["websocket"])
    return sio, events


def until_trade(events: queue.Queue) -> list[tuple[str, dict]]:
    seen = []
    while True:
        name, data = events.get(timeout=5)
        seen.append((name, data))
        if name == "trade":
            return seen


def test_trade_is_relayed_and_other_accounts_orders_are_not_leaked(webapp, exchange):
    with httpx.Client(base_url=webapp.base_url) as anonymous:
        assert anonymous.get("/me").status_code == 302
    admin_http, _ = signed_in_http(webapp, "admin", ADMIN_PASSWORD)
    r = admin_http.post(
        "/admin/users",
        json={"username": "tom", "password": PASSWORD, "role": "trader"},
        headers={"X-CSRFToken": signed_in_http(webapp, "admin", ADMIN_PASSWORD)[1]},
    )
    # A token from another session of the same user is not this session's token.
    assert r.status_code == 400
    admin_http, admin_token = signed_in_http(webapp, "admin", ADMIN_PASSWORD)
    r = admin_http.post(
        "/admin/users",
        json={"username": "tom", "password": PASSWORD, "role": "trader"},
        headers={"X-CSRFToken": admin_token},
    )
    assert r.status_code == 201, r.text
    trader_http, trader_token = signed_in_http(webapp, "tom", PASSWORD)
    trader_sio, trader_events = listen(webapp, trader_http)
    admin_sio, admin_events = listen(webapp, admin_http)
    try:
        other = new_trader(exchange)
        resting = other.post(
            "/api/orders",
            json={"market": "epex_at", "side": "SELL", "quantity": 0.1, "price": 42.0},
        )
        assert resting.status_code == 201, resting.text
        crossing = trader_http.post(
            "/api/orders",
            json={"market": "epex_at", "side": "BUY", "quantity": 0.1, "price": 42.0},
            headers={"X-CSRFToken": trader_token},
        )
        assert crossing.status_code == 201, crossing.text
        assert crossing.json()["status"] == "FILLED"

        seen = until_trade(trader_events)
        trade = seen[-1][1]
        assert trade["price"] == 42.0 and trade["quantity"] == 0.1
        assert trade["buy_order_id"] == crossing.json()["id"]
        order_ids = {d["id"] for n, d in seen if n == "order"}
        assert resting.json()["id"] not in order_ids  # another account's order: not leaked
        admin_seen = until_trade(admin_events)
        assert resting.json()["id"] in {d["id"] for n, d in admin_seen if n == "order"}
    finally:
        trader_sio.disconnect()
        admin_sio.disconnect()


def test_socket_without_sign_in_is_refused(webapp):
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(webapp.base_url, transports=["websocket"])


def test_the_web_app_log_is_plain_lines_without_the_servers_banner(webapp):
    """Its output goes to files and log collectors: no colour escape codes, and no Werkzeug
    "development server, do not use in production" banner about the server it runs on by
    choice (its own start line names the address)."""
    httpx.get(webapp.base_url + "/healthz", timeout=5)
    out = webapp.log()
    assert "web app on http://" in out
    assert "\x1b[" not in out
    assert "development server" not in out.lower()
