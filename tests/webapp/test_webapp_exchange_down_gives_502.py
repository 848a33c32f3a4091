"""When the exchange is down or too slow, pass-through calls answer 502 with a clear error."""

import contextlib
import socket
import threading

from webapp_support import ADMIN_PASSWORD, sign_in


def _signed_in(app):
    client = app.test_client()
    assert sign_in(client, "admin", ADMIN_PASSWORD).status_code == 302
    return client


def test_exchange_down_gives_502_json(make_app):
    client = _signed_in(make_app(None))  # EXCHANGE_BASE_URL points at a closed port
    r = client.get("/api/orders")
    assert r.status_code == 502
    error = r.get_json()["error"]
    assert error["code"] == "EXCHANGE_UNAVAILABLE"
    assert "http://127.0.0.1:9 cannot be reached" in error["message"]
    assert client.get("/readyz").status_code == 503


@contextlib.contextmanager
def silent_server():
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_exchange_timeout_gives_502_json(make_app):
    with silent_server() as url:
        app = make_app(None, EXCHANGE_BASE_URL=url, WEBAPP_EXCHANGE_TIMEOUT_S="0.3")
        r = _signed_in(app).get("/api/market-data?market=epex_at")
    assert r.status_code == 502
    error = r.get_json()["error"]
    assert error["code"] == "EXCHANGE_TIMEOUT"
    assert f"The exchange at {url} did not answer within 0.3 s" in error["message"]
