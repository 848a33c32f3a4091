"""Shared by the ENTSO-E tests: a source pointed at the local recorded server, and its replies."""

from __future__ import annotations

import asyncio
from datetime import datetime

from phoenyra.config import Settings
from phoenyra.feed.model import PriceInterval
from phoenyra.feed.sources import source_class
from recorded_http import Reply, fixture_bytes


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def make(server, **options):
    # Fast by default; the spacing test asks for the real one-second default explicitly.
    options = {"min_interval": 0.0, "backoff": 0.01, "attempts": 3, **options}
    settings = Settings(entso_e_token="test-token", entso_e_base_url=f"{server.url}/api")
    return source_class("entsoe").from_settings(settings, **options)


def fetch(server, zone: str, start: int, end: int, **options) -> list[PriceInterval]:
    async def go():
        source = make(server, **options)
        try:
            return await source.fetch(zone, start, end)
        finally:
            await source.aclose()

    return asyncio.run(go())


def xml(name: str, status: int = 200) -> Reply:
    return Reply(status, body=fixture_bytes("entsoe", name))
