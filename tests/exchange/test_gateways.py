"""Order gateways (EXCHANGE_GATEWAYS=N): HTTP in gateway processes in front of the core.

The API must be the same with and without them, so the order-entry, bad-input, live-event,
health and API docs tests of the other modules run here again against an exchange with two
gateways (the ``exchange`` fixture below replaces the shared one for this module). Then what only
gateways have: their processes come back when one dies, go away with the core, and stop cleanly.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from test_bad_input import (  # noqa: F401 - collected here against the gateways
    test_a_refusal_comes_before_the_body_a_client_asked_to_continue,
    test_a_trailing_slash_is_another_path_not_a_redirect,
    test_an_order_sent_as_another_media_type_is_refused,
    test_body_over_64_kib_is_refused,
    test_body_over_64_kib_without_a_length_is_refused_too,
    test_invalid_order_is_refused_with_a_code_and_changes_nothing,
    test_json_media_types_with_parameters_or_suffix_are_orders,
    test_malformed_or_non_finite_json_is_refused,
    test_unknown_route_and_bad_cursor_get_json_errors,
    trader,
)
from test_live_events import (  # noqa: F401
    test_a_nonce_is_accepted_once,
    test_a_stream_ends_when_its_key_is_cut_off,
    test_bad_signatures_are_refused,
    test_signed_client_receives_order_and_tradews_events,
    test_trader_stream_carries_only_its_own_orders,
)
from test_metrics_and_health import _samples, test_health_and_readiness  # noqa: F401
from test_openapi import test_docs_page_loads_swagger_ui_from_the_exchange_itself  # noqa: F401
from test_order_entry_and_matching import (  # noqa: F401
    test_buy_crossing_a_resting_sell_trades_at_the_average_of_the_limits,
    test_cancel_twice_is_a_conflict_and_other_accounts_cannot_cancel,
    test_ioc_remainder_is_cancelled_and_fok_without_liquidity_trades_nothing,
    test_repeated_client_order_id_returns_the_original_order,
)

from support import ExchangeProcess, new_trader

ORDER = {"market": "epex_de", "side": "SELL", "quantity": 1.0, "price": 80.0}


def _gateway_process(tmp_path: Path, gateways: int = 2, **env: str) -> ExchangeProcess:
    return ExchangeProcess(tmp_path, EXCHANGE_GATEWAYS=str(gateways), **env)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    proc = _gateway_process(tmp_path_factory.mktemp("gateways")).start()
    yield proc
    proc.stop()


def _children(pid: int) -> dict[int, str]:
    """Child processes of ``pid``: their ids and command lines."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out[int(entry.name)] = cmdline
    return out


def _gateways(proc: ExchangeProcess) -> set[int]:
    return {
        pid for pid, cmd in _children(proc.proc.pid).items() if "phoenyra.exchange.gateway" in cmd
    }


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(condition, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_gateways_run_and_answer_orders_with_request_ids(exchange):
    assert len(_gateways(exchange)) == 2
    client = new_trader(exchange)
    # A parsed order (the gateway's own path) and a refused one (the core's app) both carry
    # the caller's request id, or a new one.
    r = client.post("/api/orders", json=ORDER, headers={"X-Request-ID": "gw-test-1"})
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "gw-test-1"
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["status"] == "ACCEPTED" and body["quantity"] == 1.0 and body["trades"] == []
    r = client.post("/api/orders", json={**ORDER, "price": 80.001})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_TICK"
    assert len(r.headers["x-request-id"]) == 32
    r = client.post("/api/orders", json={**ORDER, "side": "HOLD"}, headers={"X-Request-ID": "b"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"
    assert r.headers["x-request-id"] == "b"
    assert client.get(f"/api/orders/{body['id']}").json()["status"] == "ACCEPTED"
    for headers, code in (({}, "UNAUTHENTICATED"), ({"X-API-Key": "nope"}, "INVALID_API_KEY")):
        r = httpx.post(f"{exchange.base_url}/api/orders", json=ORDER, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == code, r.text
    with exchange.client() as admin:  # a viewer may not trade
        r = admin.post("/api/accounts", json={"name": "gw-viewer", "role": "viewer"})
        viewer = r.json()["api_key"]
    r = httpx.post(f"{exchange.base_url}/api/orders", json=ORDER, headers={"X-API-Key": viewer})
    assert r.status_code == 403, r.text


def test_throttled_orders_get_retry_after_through_a_gateway(tmp_path):
    proc = _gateway_process(
        tmp_path, gateways=1, PHOENYRA_THROTTLE_RATE="1", PHOENYRA_THROTTLE_BURST="2"
    ).start()
    try:
        trader = new_trader(proc)
        codes = [trader.post("/api/orders", json=ORDER) for _ in range(4)]
        assert [r.status_code for r in codes[:2]] == [201, 201]
        refused = codes[-1]
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "THROTTLED"
        assert int(refused.headers["retry-after"]) >= 1
    finally:
        proc.stop()


def test_request_durations_of_gateway_orders_reach_the_histogram(exchange):
    route = (
        "phoenyra_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/api/orders"), ("status", "201")),
    )
    before = _samples(exchange).get(route, 0)
    client = new_trader(exchange)
    for _ in range(3):
        assert client.post("/api/orders", json=ORDER).status_code == 201
    # Gateways report durations with their next order or within a second.
    _wait(
        lambda: _samples(exchange).get(route, 0) - before == 3,
        timeout=5,
        what="three durations in the histogram",
    )


def test_a_killed_gateway_is_replaced_and_the_others_keep_serving(tmp_path):
    proc = _gateway_process(tmp_path).start()
    try:
        first = _gateways(proc)
        assert len(first) == 2
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # New connections go to the gateway still accepting meanwhile.
        for _ in range(10):
            with proc.client() as c:
                assert c.get("/api/orders").status_code == 200
        now = _wait(
            lambda: (g := _gateways(proc)) and len(g) == 2 and victim not in g and g,
            what="a new gateway",
        )
        assert len(now & first) == 1
        trader = new_trader(proc)
        for _ in range(10):
            with httpx.Client(base_url=proc.base_url, headers=trader.headers) as c:
                assert c.post("/api/orders", json=ORDER).status_code == 201
        assert "gateway exited; starting a new one" in proc.log()
    finally:
        proc.stop()


def test_gateways_end_with_the_core_on_sigkill_and_on_sigterm(tmp_path):
    proc = _gateway_process(tmp_path).start()
    gateways = _gateways(proc)
    assert len(gateways) == 2
    proc.kill()  # the core dies without running any shutdown code
    _wait(lambda: not any(_alive(p) for p in gateways), what="orphaned gateways to exit")
    # A new core on the same data and port takes over.
    again = ExchangeProcess(tmp_path, EXCHANGE_GATEWAYS="2")
    again.port, again.base_url = proc.port, proc.base_url
    again.args[-1] = str(proc.port)
    again.start()
    gateways = _gateways(again)
    assert new_trader(again).post("/api/orders", json=ORDER).status_code == 201
    again.proc.terminate()
    # uvicorn ends a graceful shutdown by re-raising the signal: -15 after the lifespan ran.
    assert again.proc.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in again.log()
    assert not any(_alive(p) for p in gateways)


def test_gateway_count_is_validated():
    from phoenyra.config import Settings

    with pytest.raises(ValueError, match="EXCHANGE_GATEWAYS"):
        Settings(EXCHANGE_GATEWAYS=33)
    with pytest.raises(ValueError, match="EXCHANGE_GATEWAYS"):
        Settings(EXCHANGE_GATEWAYS=-1)


def test_reload_with_gateways_is_refused(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", "exchange", "--reload", "--gateways", "2"],
        env={**os.environ, "PHOENYRA_ENV": "development", "PHOENYRA_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "--reload runs one process" in r.stderr


class _Frames:
    """The gateway's end of a core bridge, read and written by hand over a real socketpair."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, message: tuple) -> None:
        import pickle

        body = pickle.dumps(message)
        self.sock.sendall(len(body).to_bytes(4, "big") + body)

    async def read(self, timeout: float = 0.3) -> list[tuple]:
        import asyncio
        import pickle

        out = []
        loop = asyncio.get_running_loop()
        try:
            while True:
                self.buf += await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 16), timeout)
                while len(self.buf) >= 4 and len(self.buf) >= 4 + int.from_bytes(self.buf[:4]):
                    n = int.from_bytes(self.buf[:4])
                    out.append(pickle.loads(self.buf[4 : 4 + n]))
                    self.buf = self.buf[4 + n :]
        except TimeoutError:
            return out


def test_a_websocket_client_that_does_not_read_holds_the_core_back_and_can_leave():
    """Flow control, as uvicorn's own send: the core's app may have at most WINDOW messages
    unwritten to a client; a client that leaves ends the app's stream ("gone")."""
    import asyncio
    import socket
    from types import SimpleNamespace

    from phoenyra.exchange.gateway import ACK_EVERY, WINDOW, CoreBridge

    sent = []
    received = []

    async def app(scope, receive, send):  # an ASGI app streaming events, as /ws does
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})

        async def listen():
            received.append(await receive())

        task = asyncio.create_task(listen())
        for i in range(1000):
            if task.done():
                return
            await send({"type": "websocket.send", "text": str(i)})
            sent.append(i)
        await task

    async def run():
        state = SimpleNamespace(gateway_order=None, gateway_observe=None)
        bridge = CoreBridge(SimpleNamespace(state=state))
        bridge.app = app  # the app under test in place of the exchange's
        core_end, gateway_end = socket.socketpair()
        gateway_end.setblocking(False)
        await asyncio.get_running_loop().create_unix_connection(
            lambda: bridge.channel, sock=core_end
        )
        gw = _Frames(gateway_end)
        scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
        gw.send(("open", 1, scope, {"type": "websocket.connect"}))
        frames = await gw.read()
        out = [f for f in frames if f[0] == "tx"]
        # WINDOW + 1 messages (the accept and WINDOW events) left the core, then send waited
        assert len(out) == WINDOW + 1 and len(sent) == WINDOW - 1
        gw.send(("acked", 1, ACK_EVERY))  # the gateway wrote 16 of them to the client
        await gw.read()
        assert len(sent) == WINDOW - 1 + ACK_EVERY
        pulls = [f for f in frames if f[0] == "pull"]
        assert pulls, "the app listens for the client"
        gw.send(("gone", 1))  # the client went away
        frames = await gw.read()
        assert received == [{"type": "websocket.disconnect", "code": 1006}]
        assert len(sent) == WINDOW + ACK_EVERY  # released, then it saw the disconnect
        assert not bridge.streams and not bridge.tasks
        core_end.close()
        gateway_end.close()

    asyncio.run(run())
