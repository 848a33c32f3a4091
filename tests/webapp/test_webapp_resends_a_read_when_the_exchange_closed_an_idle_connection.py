"""A kept-alive connection to the exchange that its server closes just as the web app sends on
it gives no answer at all. A read (GET) is sent again on a new connection instead of showing
the user a 502; a POST (an order) is never repeated by the client.

The server here is a real socket server playing that race: it answers the first request of a
connection and closes the connection when the next request arrives, without answering it."""

from __future__ import annotations

import socket
import threading

import pytest

from phoenyra.webapp.exchange_client import ExchangeClient, ExchangeUnavailable


class ClosingServer:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[str] = []  # request lines read, in order
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                f = conn.makefile("rb")
                for n in range(2):
                    line = f.readline().decode().strip()
                    if not line:
                        break
                    self.requests.append(line)
                    length = 0
                    while (header := f.readline()) not in (b"\r\n", b""):
                        if header.lower().startswith(b"content-length:"):
                            length = int(header.split(b":")[1])
                    f.read(length)
                    if n == 1:  # the race: closed as the second request arrived
                        conn.shutdown(socket.SHUT_RDWR)  # (the file object holds it open)
                        break
                    body = line.split()[1].encode()
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                    )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server():
    s = ClosingServer()
    yield s
    s.close()


def test_a_read_is_sent_again_on_a_new_connection(server):
    client = ExchangeClient(f"http://127.0.0.1:{server.port}", None, 5.0)
    try:
        assert client.request("GET", "/api/bess/status").body == b"/api/bess/status"
        r = client.request("GET", "/api/orders")  # its connection is closed under it
        assert r.status == 200 and r.body == b"/api/orders"
    finally:
        client.close()
    assert server.requests == [
        "GET /api/bess/status HTTP/1.1",
        "GET /api/orders HTTP/1.1",  # read, then the connection closed
        "GET /api/orders HTTP/1.1",  # again, on the second connection
    ]
    assert server.connections == 2


def test_an_order_is_not_sent_twice(server):
    client = ExchangeClient(f"http://127.0.0.1:{server.port}", None, 5.0)
    try:
        client.request("GET", "/api/bess/status")
        with pytest.raises(ExchangeUnavailable) as failed:
            client.request("POST", "/api/orders", json={"side": "BUY"})
    finally:
        client.close()
    assert failed.value.code == "EXCHANGE_UNAVAILABLE"
    assert [r for r in server.requests if r.startswith("POST")] == ["POST /api/orders HTTP/1.1"]
