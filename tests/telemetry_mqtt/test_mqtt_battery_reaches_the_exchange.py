"""A battery reporting over MQTT shows up live in the exchange's status and risk checks, through
the telemetry service (``TelemetryRunner``) and the real Mosquitto."""

from __future__ import annotations

import asyncio
import contextlib

import httpx

from phoenyra.telemetry.runner import TelemetryRunner
from phoenyra.telemetry.sources.mqtt import MqttSource
from support import new_trader


async def _status(exchange, battery_id: str) -> dict:
    async with httpx.AsyncClient(base_url=exchange.base_url, headers={"X-API-Key": "demo"}) as c:
        return (await c.get("/api/bess/status", params={"battery_id": battery_id})).json()


async def _until_status(exchange, battery_id: str, soc: float, timeout: float = 5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await _status(exchange, battery_id)
        if status["soc_percent"] == soc:
            return status
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.05)


def test_an_mqtt_battery_is_live_in_the_exchange_and_drives_its_risk_checks(exchange, bus):
    battery = f"mqtt-{bus.prefix.rsplit('/', 1)[-1]}"
    with exchange.client() as admin:
        assert admin.post("/api/batteries", json={"battery_id": battery}).status_code == 201
    trader = new_trader(exchange, battery_id=battery)
    order = {"market": "epex_at", "side": "BUY", "quantity": 0.1, "price": 10.0}

    async def scenario():
        runner = TelemetryRunner(exchange.base_url, "demo-bess", min_push_interval=0.05)
        source = MqttSource(bus.config(battery_id=battery), on_reading=runner.submit)
        task = asyncio.create_task(runner.run([], [source.run]))
        try:
            await asyncio.wait_for(source.connected.wait(), 5)
            topics = [bus.topic("soc"), bus.topic("power"), bus.topic("temperature")]
            await bus.publish_many(list(zip(topics, [95.0, -0.4, 27.5], strict=True)))
            status = await _until_status(exchange, battery, 95.0)
            assert (status["power_mw"], status["temperature_c"]) == (-0.4, 27.5)
            assert status["online"] is True and status["source"] == "mqtt"
            # Full battery: buying (charging) is refused by the risk check.
            r = await asyncio.to_thread(trader.post, "/api/orders", json=order)
            assert r.status_code == 422 and r.json()["error"]["code"] == "SOC_LIMIT"
            # Garbage changes nothing; the next good value goes through.
            await bus.publish(bus.topic("soc"), "full")
            await bus.publish(bus.topic("soc"), 50.0)
            await _until_status(exchange, battery, 50.0)
            assert source.counters.refused.get("bad_payload") == 1
            r = await asyncio.to_thread(trader.post, "/api/orders", json=order)
            assert r.status_code == 201, r.text
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await runner.aclose()

    try:
        asyncio.run(scenario())
    finally:
        trader.close()
