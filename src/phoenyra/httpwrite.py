"""uvicorn's httptools protocol with each response written in one system call.

uvicorn writes a response's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``: two ``transport.write`` calls, and on an idle
socket uvloop sends each at once, so every small answer costs two ``send`` system calls. On the
order path that second call was about an eighth of the server's CPU (bench/RESULTS.md).

``CoalescingTransport`` holds a write made while nothing is held, and sends it with the next
write of the same loop turn (the body, which an app sends right after the headers) as one
buffer; a write that no other follows is sent at the end of the loop turn (``call_soon``). Bytes
go out in the order they were written, and ``close`` sends what is held first. Every other
transport method is the wrapped transport's own.

Use ``http=CoalescingHttpTools`` in ``uvicorn.Config`` / ``uvicorn.run`` (instead of
``"httptools"``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes of one loop turn leave in one ``write`` of the wrapped one."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            if not data:
                return
            self._held = bytes(data)  # a caller's bytearray may change after this call
            self._loop.call_soon(self.flush)
            return
        self._held = None
        self._transport.write(held + data)

    def writelines(self, chunks) -> None:
        self.write(b"".join(chunks))

    def flush(self) -> None:
        """Send what is held (the end of a loop turn, or before closing)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def get_write_buffer_size(self) -> int:
        held = self._held
        return self._transport.get_write_buffer_size() + (len(held) if held else 0)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else: the transport's own
        return getattr(self._transport, name)


class CoalescingHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a ``CoalescingTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # flow control and addresses: the real transport
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]

    def eof_received(self) -> bool | None:
        # The client closed its side: the event loop closes the transport itself when this
        # returns, before the end of the loop turn, so what is held goes out now.
        self.transport.flush()
        return super().eof_received()
