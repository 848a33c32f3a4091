"""/healthz, /readyz and /metrics for the background services (market feed, telemetry)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .requestlog import RequestIds


def create_health_app(
    service: str,
    status: Callable[[], dict],
    ready: Callable[[dict], bool],
    registry: CollectorRegistry,
) -> Starlette:
    """``status()`` is shown by /readyz, which answers 503 unless ``ready(status)``."""

    async def healthz(request):
        return JSONResponse({"status": "ok", "service": service})

    async def readyz(request):
        current = status()
        ok = ready(current)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "service": service, **current},
            status_code=200 if ok else 503,
        )

    async def metrics(request):
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)],
        middleware=[Middleware(RequestIds)],
    )


async def serve_until_stopped(app: Starlette, host: str, port: int, *work: Awaitable) -> None:
    """Run ``work`` beside the health server until SIGTERM or SIGINT, or until a piece of work
    ends; then cancel the work, let its clean-up run (sources stop in order; a dispatching
    battery is set idle), stop the server, and raise what the work raised, if anything."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the signals are handled below: the work stops before the server

    server = Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.ensure_future(w) for w in work]
    health = asyncio.ensure_future(server.serve())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([*tasks, health, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        server.should_exit = True
        with contextlib.suppress(Exception):
            await health
        stopping.cancel()
    for result in results:
        if isinstance(result, Exception):
            raise result
