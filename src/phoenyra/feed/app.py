"""The feed's own HTTP endpoints: /healthz, /readyz (fresh data) and /metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .runner import FeedRunner


def create_app(runner: FeedRunner) -> Starlette:
    async def healthz(request):
        return JSONResponse({"status": "ok", "service": "market-feed"})

    async def readyz(request):
        status = runner.status()
        ok = not status["stale"]
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": {"fresh_prices": ok}, **status},
            status_code=200 if ok else 503,
        )

    async def metrics(request):
        return Response(generate_latest(runner.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
