"""A reading taken while the exchange is still starting is pushed as soon as it answers, not one
poll interval later: after `make run` the battery must not look offline for 30 s."""

from __future__ import annotations

import asyncio
import contextlib
import time

from phoenyra.simulator import BatterySimulator
from phoenyra.telemetry.runner import TelemetryRunner
from phoenyra.telemetry.sources.modbus import ModbusSource
from support import ExchangeProcess, free_port


def test_the_first_reading_is_retried_until_the_exchange_answers(tmp_path):
    exchange = ExchangeProcess(tmp_path / "ex")  # not started yet
    port = exchange.port

    async def scenario() -> float:
        sim = BatterySimulator("generic", initial_soc=33.0)
        sim_port = await sim.start("127.0.0.1", free_port())
        runner = TelemetryRunner(
            f"http://127.0.0.1:{port}", "demo-bess", interval=600, min_push_interval=0.2
        )
        source = ModbusSource({"host": "127.0.0.1", "port": sim_port, "preset": "generic"})
        task = asyncio.create_task(runner.run([source], []))
        try:
            await asyncio.sleep(1.0)  # the one poll of this interval happened; its push failed
            assert "exchange" in runner.status()["failing"]
            await asyncio.to_thread(exchange.start)
            started = time.monotonic()
            while not runner.last_pushed:
                assert time.monotonic() - started < 10, runner.status()
                await asyncio.sleep(0.05)
            return time.monotonic() - started
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await runner.aclose()
            await sim.stop()

    try:
        waited = asyncio.run(scenario())
        with exchange.client() as c:
            status = c.get("/api/bess/status").json()
    finally:
        exchange.stop()
    assert waited < 5
    assert status["soc_percent"] == 33.0 and status["source"] == "modbus"
