"""The simulated battery also publishing its state over MQTT (``simulate-bess --mqtt``): one
retained plain-number message per field and step, on the spec's default topics. It follows a
power setpoint published to ``setpoint_topic`` (a plain number, MW, + discharging) as it
follows one written to its Modbus register; a payload that is not a number is ignored."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt

from ..telemetry.model import BadPayload
from ..telemetry.validation import number
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
    setpoint_topic: str | None = None,
) -> None:
    """Publish until cancelled; reconnect with a growing pause when the broker goes away."""
    topics = topics or TOPICS
    delay = 0.5
    while True:
        try:
            async with aiomqtt.Client(broker, port) as client:
                delay = 0.5
                follower = None
                if setpoint_topic is not None:
                    await client.subscribe(setpoint_topic, qos=1)
                    follower = asyncio.create_task(_follow(sim, client))
                try:
                    while True:
                        values = sim.values()
                        for field, topic in topics.items():
                            # Retained: a subscriber that connects later sees the state at once.
                            await client.publish(topic, f"{values[field]:.6g}", qos=0, retain=True)
                        await asyncio.sleep(interval_s)
                finally:
                    if follower is not None:
                        follower.cancel()
                        with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                            await follower
        except aiomqtt.MqttError as exc:
            log.warning("MQTT broker %s:%d: %s; retrying in %.1f s", broker, port, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _follow(sim: BatterySimulator, client: aiomqtt.Client) -> None:
    """Apply every setpoint message (the only subscription), cut to the rated power."""
    params = sim.params
    async for message in client.messages:
        try:
            power = number("setpoint", message.payload)
        except BadPayload as exc:
            log.warning("setpoint over MQTT ignored: %s", exc.message)
            continue
        sim.setpoint_mw = max(-params.max_charge_mw, min(params.max_discharge_mw, power))
