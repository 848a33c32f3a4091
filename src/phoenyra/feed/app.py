"""The feed's own HTTP endpoints: /healthz, /readyz (fresh data) and /metrics."""

from __future__ import annotations

from starlette.applications import Starlette

from ..health import create_health_app
from .runner import FeedRunner


def create_app(runner: FeedRunner) -> Starlette:
    def status() -> dict:
        current = runner.status()
        return {"checks": {"fresh_prices": not current["stale"]}, **current}

    return create_health_app("market-feed", status, lambda s: not s["stale"], runner.registry)
