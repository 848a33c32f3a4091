"""Dispatch: run the battery at the power its trades ask for.

The exchange's ``GET /api/bess/dispatch`` says, as intervals of constant power, what the
battery must do to deliver what its accounts have traded (the same deliveries its risk check
counts on). With ``dispatch`` on in the Modbus or the MQTT configuration, the telemetry service
follows that plan: it asks for the plan every few seconds and writes the power due now to the
device's setpoint register (or publishes it to the setpoint topic) whenever it changes (and again
every ``rewrite_s``, for devices that fall back to idle without a fresh command).

If the exchange cannot be reached, the last plan is followed to its end (the trades stand); a
plan older than ``max_plan_age_s`` is dropped and the battery set idle. When dispatch stops (a
new configuration, the service ends) the setpoint is set to 0 MW: nothing keeps charging or
discharging on a command nobody follows any more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

import httpx

from ..core.wire import parse_iso
from ..exchange.dispatch import power_at
from .model import TelemetryError

log = logging.getLogger("phoenyra.telemetry")


class Dispatcher:
    """Follow one battery's dispatch plan with one setpoint writer (a ModbusSource or an
    MqttSource: anything with ``async write_setpoint(mw) -> mw written``)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        exchange_url: str,
        api_key: str,
        battery_id: str,
        target,
        *,
        refresh_s: float = 2.0,
        tick_s: float = 1.0,
        rewrite_s: float = 30.0,
        max_plan_age_s: float = 24 * 3600.0,
    ) -> None:
        self.client = client
        self.url = exchange_url.rstrip("/") + "/api/bess/dispatch"
        self.headers = {"X-API-Key": api_key}
        self.battery_id = battery_id
        self.target = target
        self.refresh_s, self.tick_s, self.rewrite_s = refresh_s, tick_s, rewrite_s
        self.max_plan_age_s = max_plan_age_s
        self.intervals: list[tuple[float, float, float]] = []
        self.plan_at: float | None = None  # when the plan in use was fetched (monotonic)
        self.written: float | None = None  # the setpoint last written, MW
        self.failing: str | None = None  # what fails now (logged once per streak)

    def _streak(self, problem: str | None) -> None:
        if problem is None:
            if self.failing is not None:
                log.info("dispatch of %s recovered", self.battery_id)
            self.failing = None
        elif problem != self.failing:
            self.failing = problem
            log.warning("dispatch of %s: %s", self.battery_id, problem)

    async def refresh(self) -> None:
        """Fetch the plan; on failure keep the one in use (logged)."""
        try:
            r = await self.client.get(
                self.url, params={"battery_id": self.battery_id}, headers=self.headers
            )
        except httpx.HTTPError as exc:
            self._streak(f"cannot reach {self.url} ({type(exc).__name__}); following the last plan")
            return
        if r.status_code in (401, 403, 404):
            # The exchange says this key may not follow this battery (or it is gone): the
            # battery must not run a plan nobody stands behind any more.
            self.intervals, self.plan_at = [], None
            self._streak(f"the exchange refused the plan (HTTP {r.status_code}): {r.text[:200]}")
            return
        if r.status_code != 200:
            self._streak(f"the exchange answered HTTP {r.status_code}: {r.text[:200]}")
            return
        try:
            intervals = [
                (parse_iso(i["start"]), parse_iso(i["end"]), float(i["power_mw"]))
                for i in r.json()["intervals"]
            ]
        except Exception as exc:  # any malformed answer: keep following the plan in use
            self._streak(f"the exchange's plan is not readable ({type(exc).__name__}: {exc})")
            return
        if not all(math.isfinite(mw) and start < end for start, end, mw in intervals):
            self._streak("the exchange's plan holds a power that is not a number, or no time")
            return
        self.intervals = intervals
        self.plan_at = time.monotonic()

    def due(self, now: float) -> float:
        """The power due now: the plan's, or idle without a plan or with a lapsed one."""
        if self.plan_at is None or time.monotonic() - self.plan_at > self.max_plan_age_s:
            return 0.0
        return power_at(self.intervals, now)

    async def write(self, power_mw: float) -> None:
        try:
            written = await self.target.write_setpoint(power_mw)
        except TelemetryError as exc:
            self._streak(f"{exc.kind}: {exc.message}")
            return
        if written != self.written:
            log.info(
                "dispatch setpoint %.3f MW",
                written,
                extra={"battery_id": self.battery_id, "setpoint_mw": written},
            )
        self.written = written
        self._streak(None)

    async def run(self) -> None:
        """Until cancelled; then the setpoint goes back to 0 MW."""
        fetched = written_at = -float("inf")
        try:
            while True:
                if time.monotonic() - fetched >= self.refresh_s:
                    fetched = time.monotonic()
                    await self.refresh()
                power = self.due(time.time())
                if power != self.written or time.monotonic() - written_at >= self.rewrite_s:
                    written_at = time.monotonic()
                    await self.write(power)
                await asyncio.sleep(self.tick_s)
        finally:
            await self._idle()

    async def _idle(self) -> None:
        """Set the battery idle, even while being cancelled again and again (the runner
        re-cancels until a task ends): a slow write must not be cut short."""
        write = asyncio.ensure_future(asyncio.wait_for(self.target.write_setpoint(0.0), 5.0))
        while not write.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([write])
        if write.cancelled() or write.exception() is not None:
            problem = "cancelled" if write.cancelled() else repr(write.exception())
            log.warning(
                "dispatch of %s stopped, but setting the battery idle failed (%s): check its "
                "setpoint on the device",
                self.battery_id,
                problem,
            )
        else:
            log.info("dispatch of %s stopped: setpoint 0 MW", self.battery_id)
