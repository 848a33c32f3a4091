"""The simulated battery also publishing its state over MQTT (``simulate-bess --mqtt``): one
retained plain-number message per field and step, on the spec's default topics."""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from .modbus_server import BatterySimulator

log = logging.getLogger("phoenyra.simulator")

TOPICS = {
    "soc_percent": "bess/soc",
    "power_mw": "bess/power",
    "temperature_c": "bess/temperature",
}


async def publish_state(
    sim: BatterySimulator,
    broker: str,
    port: int = 1883,
    interval_s: float = 1.0,
    topics: dict[str, str] | None = None,
) -> None:
    """Publish until cancelled; reconnect with a growing pause when the broker goes away."""
    topics = topics or TOPICS
    delay = 0.5
    while True:
        try:
            async with aiomqtt.Client(broker, port) as client:
                delay = 0.5
                while True:
                    values = sim.values()
                    for field, topic in topics.items():
                        # Retained: a subscriber that connects later sees the state at once.
                        await client.publish(topic, f"{values[field]:.6g}", qos=0, retain=True)
                    await asyncio.sleep(interval_s)
        except aiomqtt.MqttError as exc:
            log.warning("MQTT broker %s:%d: %s; retrying in %.1f s", broker, port, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
