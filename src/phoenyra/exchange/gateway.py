"""Order gateways: HTTP in their own processes, matching and storage in the exchange's.

With ``EXCHANGE_GATEWAYS=N`` the exchange process (the *core*) accepts no connection itself. It
binds the listening socket and starts N gateway processes that share it; each runs uvicorn (HTTP
parsing, TLS, keep-alive, WebSocket framing, writing the answers). A well-formed
``POST /api/orders`` is read and validated in the gateway and only the order crosses to the core;
every other request crosses as ASGI messages over a private socket pair and the core runs its
unchanged application on them. Every route, error, log line and metric is what it is without
gateways (measured effect in bench/RESULTS.md).

The wire between a gateway and the core: frames of a 4-byte big-endian length and a pickle.
Pickle is safe here because nobody else can write to the channel: it is a ``socketpair`` the
core creates and the gateway inherits (no path, no port).

gateway → core: ``("order", sid, api_key, OrderRequest, request_id, durations)``,
``("observed", 0, durations)`` (of answered orders, for the histogram),
``("open", sid, scope, first_message)`` (None when the client waits for ``100 Continue``: the
core's app then pulls it), ``("rx", sid, message)``,
``("acked", sid, n)`` (n WebSocket messages written to the client),
``("gone", sid)`` (the client left, or the stream is unknown here).
core → gateway: ``("placed", sid, status, body, headers)``, ``("resp", sid, start, body)``
(a whole HTTP answer in one frame), ``("tx", sid, message)``, ``("pull", sid)`` (the app
waits for the next client message), ``("end", sid)`` (the app returned without finishing its
answer, or a WebSocket ended).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import pickle
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable

import structlog
from pydantic import ValidationError

from ..httpwrite import CoalescingHttpTools
from ..requestlog import log_access, request_id_from
from ..runtime import tune_gc
from .deps import json_response
from .routes.models import OrderIn
from .routes.orders import is_json, order_request

log = logging.getLogger("phoenyra.exchange.gateway")

HEADER = 4
MAX_FRAME = 64 << 20  # a frame is one ASGI message; anything this big is a bug, not traffic
WINDOW = 64  # WebSocket messages to a client not yet written to its socket
ACK_EVERY = 16
RESTART_DELAY_S = 0.5
RESTART_MAX_DELAY_S = 30.0
REPORT_S = 1.0  # request durations reach the core's histogram at least this often
STOP_TIMEOUT_S = 10.0
# What of an ASGI scope crosses to the core (the rest is the gateway's own: app, state, ...).
SCOPE_KEYS = (
    "type",
    "asgi",
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "root_path",
    "query_string",
    "headers",
    "client",
    # What the server supports beyond plain ASGI (a WebSocket refused with an HTTP answer).
    "extensions",
    "server",
    "subprotocols",
)


class Channel(asyncio.Protocol):
    """Length-prefixed pickles over a stream socket. Frames written in one loop iteration go
    out in one write; ``on_message`` gets each decoded message, ``on_lost`` the end."""

    def __init__(
        self,
        on_message: Callable[[tuple], None],
        on_lost: Callable[[Exception | None], None],
    ) -> None:
        self.on_message = on_message
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self._in = bytearray()
        self._out: list[bytes] = []
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._in
        buf += data
        pos, size = 0, len(buf)
        on_message = self.on_message
        while size - pos >= HEADER:
            length = int.from_bytes(buf[pos : pos + HEADER], "big")
            if length > MAX_FRAME:
                log.error("gateway channel: frame of %d bytes; closing", length)
                self.transport.close()
                return
            end = pos + HEADER + length
            if end > size:
                break
            on_message(pickle.loads(buf[pos + HEADER : end]))
            pos = end
        if pos:
            del buf[:pos]

    def send(self, message: tuple) -> None:
        if self.closed:
            return
        body = pickle.dumps(message, 5)
        out = self._out
        if not out:
            asyncio.get_running_loop().call_soon(self._flush)
        out.append(len(body).to_bytes(HEADER, "big"))
        out.append(body)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if not self.closed and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.on_lost(exc)


class _Mailbox:
    """Messages for one stream, awaited by one reader (an ``asyncio.Queue`` without its locks
    and getters list: one is made per order on the gateway's hot path)."""

    __slots__ = ("inbox", "waiter")

    def __init__(self) -> None:
        self.inbox: deque = deque()
        self.waiter: asyncio.Future | None = None

    def put(self, message) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(message)
        else:
            self.inbox.append(message)

    async def get(self):
        if self.inbox:
            return self.inbox.popleft()
        self.waiter = asyncio.get_running_loop().create_future()
        return await self.waiter


# -- the core's side ----------------------------------------------------------------------------
class _CoreStream:
    """One request (or WebSocket) as the core's app sees it."""

    __slots__ = (
        "acked",
        "channel",
        "finished",
        "gone",
        "mailbox",
        "pulled",
        "sent",
        "sid",
        "start",
        "websocket",
        "window",
    )

    def __init__(self, channel: Channel, sid: int, first: dict | None, websocket: bool) -> None:
        self.channel = channel
        self.sid = sid
        self.mailbox = _Mailbox()
        if first is not None:  # None: the gateway did not read the request (100-continue)
            self.mailbox.put(first)
        self.pulled = False
        self.start: dict | None = None
        self.finished = False
        self.websocket = websocket
        self.gone = False  # the gateway's side of the stream ended
        self.sent = self.acked = 0  # WebSocket messages sent / written to the client
        self.window: asyncio.Future | None = None

    async def receive(self) -> dict:
        mailbox = self.mailbox
        if not mailbox.inbox:
            if self.channel.closed:
                return self._disconnect()
            if not self.pulled:
                self.pulled = True
                self.channel.send(("pull", self.sid))
        return await mailbox.get()

    def deliver(self, message: dict) -> None:
        self.pulled = False
        self.mailbox.put(message)

    def lost(self) -> None:
        if self.gone:
            return
        self.gone = True
        self.deliver(self._disconnect())
        self.ack(self.sent)

    def _disconnect(self) -> dict:
        if self.websocket:
            return {"type": "websocket.disconnect", "code": 1006}
        return {"type": "http.disconnect"}

    def ack(self, count: int) -> None:
        self.acked = max(self.acked, count)
        window = self.window
        if window is not None and not window.done() and self.sent - self.acked <= WINDOW:
            self.window = None
            window.set_result(None)

    async def send(self, message: dict) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.start = message  # sent with the first body part: one frame per answer
            return
        if kind == "http.response.body":
            more = message.get("more_body", False)
            if self.start is not None:
                start, self.start = self.start, None
                if not more:
                    self.finished = True
                    self.channel.send(("resp", self.sid, start, _plain(message)))
                    return
                self.channel.send(("tx", self.sid, start))
            self.finished = not more
        if self.gone:
            return
        self.channel.send(("tx", self.sid, _plain(message)))
        if self.websocket:
            # As uvicorn's send waits for a slow reader, so does this one: at most WINDOW
            # messages on their way to the client (the event route's queue then overflows
            # and closes a client that does not read, as without gateways).
            self.sent += 1
            if self.sent - self.acked > WINDOW:
                self.window = asyncio.get_running_loop().create_future()
                await self.window


def _plain(message: dict) -> dict:
    """Bodies may be memoryviews or bytearrays; the wire carries bytes."""
    body = message.get("body")
    if body is not None and type(body) is not bytes:
        message = {**message, "body": bytes(body)}
    return message


class CoreBridge:
    """Serves one gateway's requests with the core's ASGI app."""

    def __init__(self, app) -> None:
        self.app = app
        self.place = app.state.gateway_order
        self.observe = app.state.gateway_observe
        self.streams: dict[int, _CoreStream] = {}
        self.channel = Channel(self._on_message, self._on_lost)
        self.tasks: set[asyncio.Task] = set()

    def _on_message(self, message: tuple) -> None:
        kind, sid = message[0], message[1]
        if kind == "order":
            self._spawn(self._order(sid, *message[2:]))
        elif kind == "observed":
            self._observed(message[2])
        elif kind == "open":
            scope, first = message[2], message[3]
            scope["state"] = {}
            stream = _CoreStream(self.channel, sid, first, scope["type"] == "websocket")
            self.streams[sid] = stream
            self._spawn(self._run(scope, stream))
        else:  # rx, acked, gone: about a running stream (one that ended ignores them)
            stream = self.streams.get(sid)
            if stream is None:
                return
            if kind == "rx":
                stream.deliver(message[2])
            elif kind == "acked":
                stream.ack(message[2])
            elif kind == "gone":
                stream.lost()

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _observed(self, finished: list[tuple[int, float]]) -> None:
        """Durations of orders the gateway answered, for the request-duration histogram."""
        observe = self.observe
        for status, seconds in finished:
            observe("POST", "/api/orders", status, seconds)

    async def _order(self, sid: int, api_key, req, request_id: str, finished: list) -> None:
        if finished:
            self._observed(finished)
        status, body, headers = await self.place(api_key, req, request_id)
        self.channel.send(("placed", sid, status, body, headers))

    async def _run(self, scope: dict, stream: _CoreStream) -> None:
        try:
            await self.app(scope, stream.receive, stream.send)
        except Exception:
            log.exception("request failed in the core", extra={"path": scope.get("path")})
            if scope["type"] == "http" and not stream.finished and stream.start is None:
                answer = _error(500, "INTERNAL", "Internal error; it was logged.")
                await answer(scope, stream.receive, stream.send)
                return
        finally:
            self.streams.pop(stream.sid, None)
        if not stream.finished:
            stream.channel.send(("end", stream.sid))

    def _on_lost(self, exc: Exception | None) -> None:
        for stream in list(self.streams.values()):
            stream.lost()


def _error(status: int, code: str, message: str):
    """An error in the exchange's shape, as an ASGI response."""
    return json_response({"error": {"code": code, "message": message}}, status)


CORE_ONLY_ENV = frozenset(
    {"API_KEY", "HMAC_SECRET", "BESS_API_KEY", "FEED_API_KEY", "DATABASE_URL"}
)


class Gateways:
    """The core's gateway processes: started with the service, restarted when one dies, stopped
    before the service stops (they finish their in-flight requests through the core)."""

    def __init__(self, app, listen: socket.socket, count: int, options: dict) -> None:
        self.app = app
        self.listen = listen
        self.count = count
        settings = app.state.service.settings
        self.options = options | {
            "gateway": {
                "max_body_bytes": settings.max_body_bytes,
                "access_log": settings.access_log,
            }
        }
        self.procs: list[asyncio.subprocess.Process | None] = [None] * count
        self.bridges: list[CoreBridge | None] = [None] * count
        self._watchers: list[asyncio.Task] = []
        self._stopping = False

    async def start(self) -> None:
        for slot in range(self.count):
            await self._spawn(slot)
            self._watchers.append(asyncio.create_task(self._watch(slot)))
        log.info("gateways started", extra={"gateways": self.count, "pids": self.pids})

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p is not None]

    async def _spawn(self, slot: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Secrets and the database stay in the core: a gateway needs neither.
        env = {k: v for k, v in os.environ.items() if k not in CORE_ONLY_ENV}
        try:
            args = [
                sys.executable,
                "-m",
                "phoenyra.exchange.gateway",
                "--listen-fd",
                str(self.listen.fileno()),
                "--core-fd",
                str(theirs.fileno()),
                "--options",
                json.dumps(self.options),
            ]
            self.procs[slot] = await asyncio.create_subprocess_exec(
                *args,
                pass_fds=(self.listen.fileno(), theirs.fileno()),
                env=env,
                # Its own session: Ctrl-C reaches the core, which stops the gateways in order.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        bridge = CoreBridge(self.app)
        await asyncio.get_running_loop().create_unix_connection(lambda: bridge.channel, sock=ours)
        self.bridges[slot] = bridge

    async def _watch(self, slot: int) -> None:
        delay = RESTART_DELAY_S
        while True:
            proc = self.procs[slot]
            started = time.monotonic()
            code = await proc.wait()
            if self._stopping:
                return
            # One that dies right after starting (a bad certificate, ...) is retried ever slower.
            quick = time.monotonic() - started < RESTART_MAX_DELAY_S
            delay = min(delay * 2, RESTART_MAX_DELAY_S) if quick else RESTART_DELAY_S
            log.error(
                "gateway exited; starting a new one",
                extra={"pid": proc.pid, "exit_code": code, "slot": slot, "in_s": delay},
            )
            while True:
                await asyncio.sleep(delay)
                if self._stopping:
                    return
                try:
                    await self._spawn(slot)
                    break
                except Exception:
                    delay = min(delay * 2, RESTART_MAX_DELAY_S)
                    log.exception(
                        "starting a gateway failed; trying again",
                        extra={"slot": slot, "in_s": delay},
                    )

    async def stop(self) -> None:
        """Gateways stop accepting, finish their requests (served by the core, which still
        runs) and exit; the ones that do not within STOP_TIMEOUT_S are killed."""
        self._stopping = True
        for task in self._watchers:
            task.cancel()
        self.listen.close()  # new connections are refused now, not left in a backlog
        live = [p for p in self.procs if p is not None and p.returncode is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in live:
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("gateway did not stop; killing it", extra={"pid": proc.pid})
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        for bridge in self.bridges:
            if bridge is not None and bridge.channel.transport is not None:
                bridge.channel.transport.close()


# -- the gateway's side -------------------------------------------------------------------------
LOST = ("lost", 0)


class GatewayApp:
    """The ASGI app a gateway's uvicorn runs: every request goes to the core."""

    def __init__(
        self,
        core: socket.socket,
        on_core_lost: Callable[[], None],
        max_body_bytes: int = 65_536,
        access_log: bool = False,
    ) -> None:
        self.core = core
        self.on_core_lost = on_core_lost
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.channel: Channel | None = None
        self.streams: dict[int, _Mailbox] = {}
        self.next_sid = 0
        self.finished: list[tuple[int, float]] = []  # (status, seconds) not yet sent to the core
        self._report_due = False

    async def connect(self) -> None:
        self.channel = Channel(self._on_message, self._on_lost)
        await asyncio.get_running_loop().create_unix_connection(
            lambda: self.channel, sock=self.core
        )

    def _on_message(self, message: tuple) -> None:
        stream = self.streams.get(message[1])
        if stream is not None:
            stream.put(message)
        elif message[0] in ("pull", "tx"):  # a stream that already ended here
            self.channel.send(("gone", message[1]))

    def _on_lost(self, exc: Exception | None) -> None:
        log.error("gateway lost the exchange core; stopping")
        for stream in self.streams.values():
            stream.put(LOST)
        self.on_core_lost()

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind == "lifespan":
            return await self._lifespan(receive, send)
        channel = self.channel
        if channel is None or channel.closed:
            return await _unavailable(scope, receive, send)
        first = None
        # A client waiting for "100 Continue" gets it from uvicorn at the first receive(): such
        # a request goes to the core unread, whose app refuses (413, 401, ...) before the body
        # or pulls it, as without gateways.
        waits = kind == "http" and any(
            name == b"expect" and value.lower() == b"100-continue"
            for name, value in scope["headers"]
        )
        order = kind == "http" and scope["path"] == "/api/orders" and scope["method"] == "POST"
        if order and not waits:
            first = await self._order(scope, receive, send, channel)
            if first is None:
                return
        self.next_sid = sid = self.next_sid + 1
        stream = self.streams[sid] = _Mailbox()
        pump: asyncio.Task | None = None
        ended = False  # the core knows the stream is over
        try:
            if first is None and not waits:
                first = await receive()
            if channel.closed:
                ended = True
                return await _unavailable(scope, receive, send)
            channel.send(("open", sid, {k: scope[k] for k in SCOPE_KEYS if k in scope}, first))
            answered = False
            written = 0
            while True:
                message = await stream.get()
                what = message[0]
                if what == "resp":
                    ended = True
                    await send(message[2])
                    await send(message[3])
                    return
                if what == "tx":
                    out = message[2]
                    answered = True
                    await send(out)
                    written += 1
                    if written % ACK_EVERY == 0:
                        channel.send(("acked", sid, written))
                    if out["type"] == "http.response.body" and not out.get("more_body"):
                        ended = True
                        return
                elif what == "pull":
                    pump = asyncio.create_task(self._pump(sid, receive))
                elif what == "end":
                    ended = True
                    return
                else:  # the core is gone
                    ended = True
                    if not answered:
                        await _unavailable(scope, receive, send)
                    return
        finally:
            del self.streams[sid]
            if pump is not None:
                pump.cancel()
            if not ended:  # the client went away, or this gateway is stopping
                channel.send(("gone", sid))

    async def _order(self, scope, receive, send, channel: Channel) -> dict | None:
        """POST /api/orders: a well-formed order is parsed here and only the order crosses to
        the core; anything else (no or a large Content-Length, a body that does not validate,
        ...) returns its first ASGI message, to go to the core's app like any request, which
        answers it exactly as without gateways."""
        started = time.perf_counter()
        size = key = given_id = media = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                size = int(value) if value.isdigit() else None
            elif name == b"content-type" and media is None:
                media = value.decode("latin-1")
            elif name == b"x-api-key" and key is None:  # the first one, as Starlette reads it
                key = value.decode("latin-1")
            elif name == b"x-request-id" and given_id is None:
                given_id = value
        if size is None or size > self.max_body_bytes or not is_json(media):
            return await receive()
        message = await receive()
        body = message.get("body", b"")
        while message.get("more_body"):
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                break
        if message["type"] != "http.request":
            return None  # the client went away while sending: nothing to answer
        first = {"type": "http.request", "body": body, "more_body": message.get("more_body", False)}
        if first["more_body"]:
            return first
        try:
            req = order_request(OrderIn.model_validate_json(body))
        except ValidationError:
            return first
        if req is None:
            return first
        request_id = request_id_from(given_id)
        if channel.closed:
            await _unavailable(scope, receive, send)
            return None
        self.next_sid = sid = self.next_sid + 1
        stream = self.streams[sid] = _Mailbox()
        finished, self.finished = self.finished, []
        try:
            channel.send(("order", sid, key, req, request_id, finished))
            answer = await stream.get()
        finally:
            del self.streams[sid]
        if answer[0] != "placed":  # the core is gone
            await _unavailable(scope, receive, send)
            return None
        _, _, status, payload, extra = answer
        headers = [
            (b"content-length", str(len(payload)).encode()),
            (b"content-type", b"application/json"),
            *extra,
            (b"x-request-id", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.finished.append((status, time.perf_counter() - started))
        if not self._report_due:  # the next order carries them, or this report within 1 s
            self._report_due = True
            asyncio.get_running_loop().call_later(REPORT_S, self._report)
        if self.access_log:
            tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
            log_access(scope, status, started)
            structlog.contextvars.reset_contextvars(**tokens)
        return None

    def _report(self) -> None:
        self._report_due = False
        if self.finished and self.channel is not None:
            finished, self.finished = self.finished, []
            self.channel.send(("observed", 0, finished))

    async def _pump(self, sid: int, receive) -> None:
        message = await receive()
        if self.channel is not None:
            self.channel.send(("rx", sid, message))

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.connect()
                tune_gc()  # as in the core: no full collections pausing the answers
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _unavailable(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1013})
        return
    answer = _error(
        503, "EXCHANGE_UNAVAILABLE", "The exchange core is not running; try again shortly."
    )
    await answer(scope, receive, send)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from ..logs import setup_logging

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--core-fd", type=int, required=True)
    parser.add_argument("--options", default="{}", help="uvicorn options (JSON)")
    args = parser.parse_args(argv)
    options = json.loads(args.options)
    setup_logging("exchange-gateway", options.pop("log_level", "INFO"))
    listen = socket.socket(fileno=args.listen_fd)
    core = socket.socket(fileno=args.core_fd)
    server: uvicorn.Server | None = None

    def core_lost() -> None:
        if server is not None:
            server.should_exit = True

    gateway = options.pop("gateway", {})
    app = GatewayApp(core, core_lost, **gateway)
    # The core logs each request (its access log and metrics see every one).
    options |= {"access_log": False, "log_config": None, "lifespan": "on"}
    config = uvicorn.Config(app, loop="uvloop", http=CoalescingHttpTools, **options)
    server = uvicorn.Server(config)
    server.run(sockets=[listen])
    os._exit(0)


if __name__ == "__main__":
    main()
