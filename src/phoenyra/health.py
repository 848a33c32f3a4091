"""/healthz, /readyz and /metrics for the background services (market feed, telemetry)."""

from __future__ import annotations

from collections.abc import Callable

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


async def serve_health(app: Starlette, host: str, port: int) -> None:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    )
    await server.serve()
