"""The telemetry service: run the configured sources and push their readings to the exchange.

Readings are coalesced per battery: a source may produce many per second (MQTT sends one per
message), the exchange gets the latest one at most every ``min_push_interval`` seconds. A battery
whose source stops delivering simply stops being pushed; the exchange shows it OFFLINE after
3 update intervals and refuses its orders (it never presents stale values as live).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from .model import Reading, TelemetryError

log = logging.getLogger("phoenyra.telemetry")


class Poller(Protocol):
    """A polled source (Modbus): one reading per call, or a TelemetryError."""

    name: str

    async def read(self) -> Reading: ...


class TelemetryRunner:
    def __init__(
        self,
        exchange_url: str,
        api_key: str,
        *,
        interval: float = 30.0,
        min_push_interval: float = 1.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = exchange_url.rstrip("/") + "/api/bess/telemetry"
        self.api_key = api_key
        self.interval = interval
        self.min_push_interval = min_push_interval
        self.client = client or httpx.AsyncClient(timeout=10.0)
        self._pending: dict[str, Reading] = {}
        self._wake = asyncio.Event()
        self._failing: set[str] = set()  # names in a failure streak (logged once)
        self._environment_warned = False  # a failed report of the environment's configuration
        self.last_pushed: dict[str, Reading] = {}
        self._source_tasks: list[asyncio.Task] = []
        self._pollers: list[Poller] = []
        self.registry = CollectorRegistry()
        self.m_readings = Counter(
            "phoenyra_telemetry_readings",
            "Readings from the sources, by source and result (pushed, refused, failed)",
            ["source", "result"],
            registry=self.registry,
        )
        self.m_last = Gauge(
            "phoenyra_telemetry_last_push_timestamp_seconds",
            "When a reading of the battery was last accepted by the exchange",
            ["battery"],
            registry=self.registry,
        )

    # -- intake ---------------------------------------------------------------------------
    def submit(self, reading: Reading) -> None:
        """Called by sources; keeps only the latest reading per battery until it is pushed."""
        self._pending[reading.battery_id] = reading
        self._wake.set()

    def _streak(self, name: str, ok: bool, message: str = "") -> None:
        if ok:
            if name in self._failing:
                self._failing.discard(name)
                log.info("%s recovered", name)
        elif name not in self._failing:
            self._failing.add(name)
            log.warning("%s: %s", name, message)

    # -- output ---------------------------------------------------------------------------
    async def push(self, reading: Reading) -> str:
        """POST one reading: "pushed", "refused" (by the exchange, with its reason logged) or
        "failed" (the exchange could not be reached or failed; worth retrying)."""
        try:
            r = await self.client.post(
                self.url, json=reading.to_wire(), headers={"X-API-Key": self.api_key}
            )
        except httpx.TransportError as exc:
            self.m_readings.labels(reading.source, "failed").inc()
            self._streak(
                "exchange",
                False,
                f"cannot reach {self.url} ({type(exc).__name__}); is the exchange running?",
            )
            return "failed"
        self._streak("exchange", True)
        if r.status_code == 202:
            self.m_readings.labels(reading.source, "pushed").inc()
            self.last_pushed[reading.battery_id] = reading
            self.m_last.labels(reading.battery_id).set(time.time())
            return "pushed"
        if r.status_code >= 500:
            self.m_readings.labels(reading.source, "failed").inc()
            self._streak("exchange", False, f"the exchange answered HTTP {r.status_code}")
            return "failed"
        self.m_readings.labels(reading.source, "refused").inc()
        try:
            err = r.json()["error"]
            detail = f"{err['code']}: {err['message']}"
        except Exception:
            detail = r.text[:200]
        # Not a streak: each refused reading says why (they are rare and each is different).
        log.warning(
            "the exchange refused a reading of %s (HTTP %d) %s",
            reading.battery_id,
            r.status_code,
            detail,
        )
        return "refused"

    async def push_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, {}
            for battery_id, reading in pending.items():
                if await self.push(reading) == "failed" and battery_id not in self._pending:
                    # The exchange was unreachable: try this reading again unless a newer one
                    # arrives first (a battery must not look offline for a whole interval).
                    self._pending[battery_id] = reading
                    self._wake.set()
            await asyncio.sleep(self.min_push_interval)

    # -- sources --------------------------------------------------------------------------
    async def poll_loop(self, poller: Poller, offset_s: float = 0.0) -> None:
        """Read a polled source every ``interval`` seconds, starting after ``offset_s``."""
        await asyncio.sleep(offset_s)
        while True:
            started = time.monotonic()
            try:
                reading = await poller.read()
            except TelemetryError as exc:
                self.m_readings.labels(poller.name, "failed").inc()
                self._streak(poller.name, False, f"{exc.kind}: {exc.message}")
            except Exception:
                self.m_readings.labels(poller.name, "failed").inc()
                log.exception("%s: reading crashed", poller.name)
            else:
                self._streak(poller.name, True)
                self.submit(reading)
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    async def run(self, pollers: list[Poller], subscribers: list[Callable[[], Awaitable]]) -> None:
        """Run until cancelled: the push loop, one poll loop per poller, each subscriber."""
        push = asyncio.create_task(self.push_loop())
        await self.replace_sources(pollers, subscribers)
        try:
            await push
        finally:
            push.cancel()
            await self.replace_sources([], [])

    # -- sources that can be replaced while running (a new configuration) -------------------
    async def replace_sources(
        self, pollers: list[Poller], subscribers: list[Callable[[], Awaitable]]
    ) -> None:
        """Stop the running sources (and wait until they have stopped), then start these."""
        old_tasks, old_pollers = self._source_tasks, self._pollers
        self._source_tasks, self._pollers = [], []
        # Python 3.11's wait_for (inside pymodbus) can swallow a cancel that lands as an answer
        # completes: cancel again until every task has really ended.
        while pending := [t for t in old_tasks if not t.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=1.0)
        for poller in old_pollers:
            close = getattr(poller, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self._failing.clear()
        self._pollers = list(pollers)
        # Staggered over the interval: all batteries polled in the same instant would make the
        # last answer wait behind all the others (measured in bench/bench_modbus.py).
        n = max(1, len(pollers))
        self._source_tasks = [
            asyncio.create_task(self.poll_loop(p, self.interval * i / n))
            for i, p in enumerate(pollers)
        ]
        self._source_tasks += [asyncio.create_task(run()) for run in subscribers]

    async def watch_config(
        self, battery_id: str, build, every_s: float = 5.0, environment: dict | None = None
    ) -> None:
        """Apply a configuration saved through the API (``/api/config/save``) without a restart.

        ``build(config) -> (pollers, subscribers, interval)`` turns a TelemetryConfig into sources.
        Version 0 means nothing was saved: the sources from the environment stay, and
        ``environment`` (that configuration as JSON, secrets included) is reported to the
        exchange so that ``/api/config/load`` shows the operator what is really running; again
        whenever the exchange has lost it (a restart).
        """
        from .config import TelemetryConfig
        from .model import TelemetryError

        url = self.url.replace("/api/bess/telemetry", "/api/telemetry/config")
        headers = {"X-API-Key": self.api_key}
        applied = 0
        reported = False
        while True:
            try:
                r = await self.client.get(url, params={"battery_id": battery_id}, headers=headers)
                if r.status_code == 200:
                    body = r.json()
                    if body["version"] > applied:
                        config = TelemetryConfig.model_validate(body["config"])
                        pollers, subscribers, interval = build(config)
                        self.interval = interval
                        await self.replace_sources(pollers, subscribers)
                        applied = body["version"]
                        log.info(
                            "telemetry configuration %d applied",
                            applied,
                            extra={"battery_id": battery_id, "sources": len(self._source_tasks)},
                        )
                    elif (
                        body["version"] == 0
                        and applied == 0  # still on the environment's sources
                        and environment is not None
                        and (not reported or body.get("origin") != "environment")
                    ):
                        reported = await self._report_environment(url + "/environment", environment)
            except (httpx.HTTPError, ValueError, TelemetryError) as exc:
                self._streak("configuration", False, f"cannot apply the configuration: {exc}")
            else:
                self._streak("configuration", True)
            await asyncio.sleep(every_s)

    async def _report_environment(self, url: str, environment: dict) -> bool:
        """Only for the operator's view: a failure is logged (once), never makes the service
        unready, and is retried at the next poll."""
        try:
            r = await self.client.put(url, json=environment, headers={"X-API-Key": self.api_key})
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if r.status_code == 200:
                self._environment_warned = False
                return True
            problem = f"HTTP {r.status_code}: {r.text[:200]}"
        if not self._environment_warned:
            self._environment_warned = True
            log.warning(
                "the exchange did not take the configuration from the environment (%s); the "
                "configuration page shows defaults instead of what runs",
                problem,
            )
        return False

    def status(self) -> dict:
        from datetime import UTC, datetime

        return {
            "failing": sorted(self._failing),
            "last_readings": {
                b: datetime.fromtimestamp(r.at, tz=UTC).isoformat()
                for b, r in sorted(self.last_pushed.items())
            },
        }

    async def aclose(self) -> None:
        await self.client.aclose()
