"""Bad input gets a 4xx JSON error with a code and changes nothing."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from support import new_trader

GOOD = {"market": "epex_at", "side": "BUY", "quantity": 1.0, "price": 50.0}


def _past_quarter() -> str:
    t = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return t.isoformat()


def _quarter_in(delta: timedelta) -> str:
    t = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + delta
    return t.isoformat()


def _epoch_in(delta: timedelta) -> int:
    return int(datetime.fromisoformat(_quarter_in(delta)).timestamp())


CASES = [
    ({**GOOD, "quantity": 0}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "quantity": -1.0}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "quantity": "1.0"}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "price": 50.001}, 422, "INVALID_TICK"),
    ({**GOOD, "quantity": 0.15}, 422, "INVALID_LOT"),
    ({**GOOD, "price": 4000.01}, 422, "PRICE_OUT_OF_BOUNDS"),
    ({**GOOD, "price": -500.01}, 422, "PRICE_OUT_OF_BOUNDS"),
    ({**GOOD, "market": "epex_xx"}, 422, "UNKNOWN_MARKET"),
    ({**GOOD, "side": "HOLD"}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "time_in_force": "GTD"}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "leverage": 10}, 422, "VALIDATION_ERROR"),
    ({k: v for k, v in GOOD.items() if k != "price"}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "delivery_start": _past_quarter()}, 422, "INVALID_DELIVERY"),
    ({**GOOD, "delivery_start": "2030-01-01T10:07:00Z"}, 422, "INVALID_DELIVERY"),
    ({**GOOD, "delivery_start": "2030-01-01T10:00:00"}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "client_order_id": "has space"}, 422, "VALIDATION_ERROR"),
    # Finite but beyond any integer of ticks or lots: refused by the bounds, not a crash.
    ({**GOOD, "quantity": 1e308}, 422, "QUANTITY_TOO_LARGE"),
    ({**GOOD, "price": 1e308}, 422, "PRICE_OUT_OF_BOUNDS"),
    ({**GOOD, "price": -1e308}, 422, "PRICE_OUT_OF_BOUNDS"),
    # A mistyped year: before, this was stored, answered 500 and broke order listings.
    ({**GOOD, "delivery_start": "9999-12-31T23:45:00Z"}, 422, "INVALID_DELIVERY"),
    ({**GOOD, "delivery_start": _quarter_in(timedelta(days=8))}, 422, "INVALID_DELIVERY"),
    # Epoch seconds (or milliseconds?) are not the wire's ISO 8601 text, even when they name a
    # valid quarter-hour tomorrow.
    ({**GOOD, "delivery_start": _epoch_in(timedelta(days=1))}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "delivery_start": str(_epoch_in(timedelta(days=1)))}, 422, "VALIDATION_ERROR"),
    ({**GOOD, "delivery_start": 1000 * _epoch_in(timedelta(days=1))}, 422, "VALIDATION_ERROR"),
]


@pytest.fixture(scope="module")
def trader(exchange):
    return new_trader(exchange)


def _state(exchange):
    with exchange.client() as admin:
        return (
            admin.get("/orders", params={"limit": 1000}).json()["items"],
            admin.get("/api/orders").json(),
        )


@pytest.mark.parametrize(("body", "status", "code"), CASES)
def test_invalid_order_is_refused_with_a_code_and_changes_nothing(
    exchange, trader, body, status, code
):
    before = _state(exchange)
    r = trader.post("/api/orders", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert len(err["message"]) > 10
    assert _state(exchange) == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"market": "epex_at",',
        b"not json",
        b"[1, 2]",
        b'{"market":"epex_at","side":"BUY","quantity":NaN,"price":1}',
        b'{"market":"epex_at","side":"BUY","quantity":1,"price":Infinity}',
    ],
)
def test_malformed_or_non_finite_json_is_refused(exchange, trader, raw):
    before = _state(exchange)
    r = trader.post("/api/orders", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] in ("MALFORMED_JSON", "VALIDATION_ERROR")
    assert _state(exchange) == before


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", "json"],
)
def test_an_order_sent_as_another_media_type_is_refused(exchange, trader, content_type):
    # A valid JSON order under another Content-Type (curl -d without -H sends a form type).
    before = _state(exchange)
    raw = json.dumps(GOOD).encode()
    r = trader.post("/api/orders", content=raw, headers={"Content-Type": content_type})
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "Content-Type: application/json" in r.json()["error"]["message"]
    assert _state(exchange) == before


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/x+json"]
)
def test_json_media_types_with_parameters_or_suffix_are_orders(exchange, trader, content_type):
    raw = json.dumps(GOOD).encode()
    r = trader.post("/api/orders", content=raw, headers={"Content-Type": content_type})
    assert r.status_code == 201, r.text
    assert trader.delete(f"/api/orders/{r.json()['id']}").status_code == 200


def test_a_trailing_slash_is_another_path_not_a_redirect(exchange, trader):
    before = _state(exchange)
    r = trader.post("/api/orders/", json=GOOD, follow_redirects=False)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert trader.get("/api/orders/", follow_redirects=False).status_code == 404
    assert _state(exchange) == before


def test_body_over_64_kib_is_refused(exchange, trader):
    before = _state(exchange)
    body = {**GOOD, "client_order_id": "x"}
    raw = ('{"pad": "' + "x" * 70_000 + '", ' + str(body)[1:].replace("'", '"')).encode()
    r = trader.post("/api/orders", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "BODY_TOO_LARGE"
    assert _state(exchange) == before


@pytest.mark.parametrize(
    ("path", "key"),
    [("/api/orders", None), ("/api/accounts", "demo"), ("/api/bess/telemetry", "demo-bess")],
)
def test_body_over_64_kib_without_a_length_is_refused_too(exchange, trader, path, key):
    """Sent in chunks (no Content-Length), the limit is found while reading: still 413."""
    before = _state(exchange)
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-API-Key"] = key
    else:
        headers["X-API-Key"] = trader.headers["X-API-Key"]

    def chunks():
        yield b'{"pad": "'
        for _ in range(10):
            yield b"x" * 8_000
        yield b'"}'

    r = httpx.post(exchange.base_url + path, content=chunks(), headers=headers, timeout=10)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "BODY_TOO_LARGE"
    assert _state(exchange) == before


def _ask_to_continue(exchange, key: str, length: int) -> tuple[socket.socket, bytes]:
    """Send only the head of an order that asks for ``100 Continue``: the socket and the first
    thing the exchange answers (within 5 s)."""
    s = socket.create_connection(("127.0.0.1", exchange.port), timeout=5)
    s.sendall(
        (
            "POST /api/orders HTTP/1.1\r\nHost: exchange\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {key}\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
        ).encode()
    )
    return s, s.recv(65536)


def test_a_refusal_comes_before_the_body_a_client_asked_to_continue(exchange, trader):
    # A client that sends Expect: 100-continue waits before uploading: an order too large or
    # without a valid key is refused then, so its body is never sent.
    key = trader.headers["X-API-Key"]
    for who, length, status in ((key, 70_000, b"413"), ("not-a-key", 200, b"401")):
        s, first = _ask_to_continue(exchange, who, length)
        s.close()
        assert first.startswith(b"HTTP/1.1 " + status + b" "), first[:200]
    body = json.dumps({**GOOD, "price": 1.0}).encode()  # far from any SELL: it rests
    s, first = _ask_to_continue(exchange, key, len(body))
    with s:
        assert first == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == "ACCEPTED"


def test_unknown_route_and_bad_cursor_get_json_errors(exchange, trader):
    r = trader.get("/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = trader.get("/orders", params={"cursor": "abc"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_CURSOR"
    r = trader.get("/trades", params={"since": "yesterday"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_TIME"
    r = trader.get("/api/book", params={"market": "epex_at", "delivery_start": "soon"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_DELIVERY"


@pytest.mark.parametrize("order_id", ["9223372036854775808", "-9223372036854775809", "1" * 23])
def test_order_ids_no_database_can_hold_are_unknown_orders(trader, order_id):
    # Before: 500 (the driver could not bind the integer) and a dropped connection.
    for method in ("GET", "DELETE"):
        r = trader.request(method, f"/api/orders/{order_id}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", r.text
    assert trader.get("/api/orders").status_code == 200  # the same connection still answers


@pytest.mark.parametrize("path", ["/orders", "/trades"])
def test_cursors_no_database_can_hold_are_refused(trader, path):
    r = trader.get(path, params={"cursor": "9" * 24})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_CURSOR", r.text


@pytest.mark.parametrize("path", ["/api/orders", "/orders", "/api/trades", "/trades"])
def test_list_filters_name_a_market_the_exchange_trades(trader, path):
    # Before: an empty list, which reads as "no orders there" for a mistyped market.
    r = trader.get(path, params={"market": "epex_xx"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "UNKNOWN_MARKET", r.text
    assert trader.get(path, params={"market": "epex_at"}).status_code == 200
    assert trader.get(path, params={"market": ""}).status_code == 200  # empty: every market


def test_active_orders_filtered_by_a_final_status_say_where_those_are(exchange, trader):
    r = trader.get("/api/orders", params={"status": "FILLED"})
    assert r.status_code == 422, r.text
    assert "GET /orders?status=FILLED" in r.json()["error"]["message"]
    assert trader.get("/orders", params={"status": "FILLED"}).status_code == 200
    assert trader.get("/api/orders", params={"status": "ACCEPTED"}).status_code == 200
