"""Request ids for the ASGI services: every log line written while a request is handled carries
its ``request_id`` (taken from the caller's ``X-Request-ID`` or made here), the response echoes
it, and with the access log on one line per request says what was asked and how it ended."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable

import structlog

access = logging.getLogger("phoenyra.access")

# A caller's id is kept only when it cannot smuggle anything into a log line or a header.
_SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_of(headers) -> str:
    """The caller's X-Request-ID when it is safe to log and echo, otherwise a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            return request_id_from(value)
    return request_id_from(None)


def request_id_from(value: bytes | None) -> str:
    """``value`` (an X-Request-ID header) when it is safe to log and echo, otherwise a new id."""
    if value is not None and _SAFE_ID.fullmatch(value):
        return value.decode()
    # 128 random bits as 32 hex digits, the form of uuid4().hex without building a UUID.
    return os.urandom(16).hex()


def log_access(scope: dict, status: int, started: float) -> None:
    """One access-log line: what was asked (``scope``) and how it ended."""
    access.info(
        "request",
        extra={
            "method": scope.get("method", "WS"),
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "client": (scope.get("client") or ("-",))[0],
        },
    )


class RequestIds:
    """Pure ASGI middleware (no per-request objects beyond the id), cheap on the order path.

    ``observe(scope, status, seconds)``, when given, is called at the end of every HTTP request
    (the exchange's request-duration histogram), so no second middleware layer times it.
    """

    def __init__(
        self,
        app,
        access_log: bool = False,
        observe: Callable[[dict, int, float], None] | None = None,
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.observe = observe

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        request_id = request_id_of(scope["headers"])
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500  # unless a response starts

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.observe is not None and scope["type"] == "http":
                self.observe(scope, status, time.perf_counter() - started)
            if self.access_log:
                log_access(scope, status, started)
            structlog.contextvars.reset_contextvars(**tokens)
