"""Health, readiness and metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import Service, json_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz():
    return json_response({"status": "ok", "service": "exchange"})


@router.get("/readyz", summary="Readiness: state loaded and the database answers")
async def readyz(service: Service):
    checks = {"state_loaded": service.ready}
    try:
        await asyncio.wait_for(asyncio.to_thread(service.store.ping), 2.0)
        checks["database"] = True
    except Exception:
        checks["database"] = False
    ok = all(checks.values())
    return json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(service: Service):
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
