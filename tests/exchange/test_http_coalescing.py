"""uvicorn with CoalescingHttpTools: a response leaves in one write, and nothing written is held
back — streamed chunks, a Connection: close answer, 100-continue and a WebSocket all arrive
as they are sent. A real uvicorn server on a real socket; the count of writes is read from the
server's transport."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest
import uvicorn
import websockets.sync.client

from phoenyra.httpwrite import CoalescingHttpTools, CoalescingTransport

RELEASE = threading.Event()  # the streaming app's second chunk waits for the client


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": "echo " + message["text"]})
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        while not RELEASE.is_set():  # only once the client has read the first chunk
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"second"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = b'{"ok":true,"got":%d}' % len(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    if path == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


WRITES: list[int] = []  # sizes of the writes that reached the real transports


class CountingProtocol(CoalescingHttpTools):
    def connection_made(self, transport):
        real_write = transport.write

        class Counting:  # the real transport, its writes counted
            def __getattr__(self, name):
                return getattr(transport, name)

            def write(self, data):
                WRITES.append(len(data))
                real_write(data)

        super().connection_made(Counting())


@pytest.fixture(scope="module")
def server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="uvloop", http=CountingProtocol, log_config=None, access_log=False
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_each_answer_leaves_in_one_write(server):
    WRITES.clear()
    with httpx.Client(base_url=f"http://{server}") as client:
        for i in range(20):
            r = client.post("/orders", content=b"x" * i)
            assert (r.status_code, r.json()) == (201, {"ok": True, "got": i})
    assert len(WRITES) == 20  # uvicorn alone: 40 (the head, then the body)


def test_a_streamed_chunk_arrives_before_the_next_is_written(server):
    RELEASE.clear()
    with (
        httpx.Client(base_url=f"http://{server}", timeout=5) as client,
        client.stream("GET", "/stream") as r,
    ):
        chunks = r.iter_raw()
        assert next(chunks) == b"first;"  # not held back waiting for a second write
        RELEASE.set()
        assert b"".join(chunks) == b"second"


def test_an_answer_with_connection_close_is_complete_before_the_socket_closes(server):
    with socket.create_connection(server.split(":")) as s:
        s.sendall(b"POST /close HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        data = b""
        while chunk := s.recv(65536):  # until the server closes
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201") and b"connection: close" in head.lower()
    assert body == b'{"ok":true,"got":3}'


def test_a_head_answer_with_connection_close_is_sent_before_the_socket_closes(server):
    """HEAD writes the head alone (no body follows): it is held until the end of the turn, but
    uvicorn closes the connection at once; closing sends what is held first."""
    with socket.create_connection(server.split(":")) as s:
        s.sendall(b"HEAD /close HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 201") and data.endswith(b"\r\n\r\n")
    assert b"content-length: 19" in data.lower()


def test_what_is_held_goes_out_when_the_client_closes_its_side():
    """The event loop closes the transport itself after ``eof_received``, before the end of the
    turn: the protocol sends what is held first."""
    from uvicorn.server import ServerState

    sent: list[bytes] = []

    class Transport:  # the event loop's side of one connection
        def get_extra_info(self, name, default=None):
            return {"sockname": ("127.0.0.1", 9000), "peername": ("127.0.0.1", 5555)}.get(name)

        def write(self, data):
            sent.append(bytes(data))

        def is_closing(self):
            return False

    async def scenario():
        config = uvicorn.Config(app, log_config=None)
        config.load()
        protocol = CoalescingHttpTools(config=config, server_state=ServerState(), app_state={})
        protocol.connection_made(Transport())
        protocol.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # held alone
        assert sent == []
        protocol.eof_received()
        assert sent == [b"HTTP/1.1 100 Continue\r\n\r\n"]

    asyncio.run(scenario())


def test_100_continue_is_answered_before_the_body_is_sent(server):
    with socket.create_connection(server.split(":")) as s:
        s.sendall(
            b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        s.settimeout(5)
        assert s.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"abcd")
        assert s.recv(65536).endswith(b'{"ok":true,"got":4}')


def test_a_websocket_works_through_it(server):
    with websockets.sync.client.connect(f"ws://{server}/ws", open_timeout=5) as ws:
        for text in ("one", "two"):
            ws.send(text)
            assert ws.recv(timeout=5) == f"echo {text}"


def test_writes_keep_their_order_and_close_sends_what_is_held():
    sent: list[bytes] = []

    class Sink:
        closed = False

        def write(self, data):
            sent.append(bytes(data))

        def is_closing(self):
            return self.closed

        def close(self):
            self.closed = True

        def get_write_buffer_size(self):
            return 0

    async def scenario():
        t = CoalescingTransport(Sink(), asyncio.get_running_loop())
        t.write(b"a")
        t.write(b"b")  # joins the held one: one write
        t.write(b"c")  # held until the end of the loop turn
        assert t.get_write_buffer_size() == 1
        await asyncio.sleep(0)
        t.write(bytearray(b"d"))
        t.close()  # sends "d" first

    asyncio.run(scenario())
    assert sent == [b"ab", b"c", b"d"]
