"""Retained messages count: a source that connects after the device published sees its state."""

from __future__ import annotations

import asyncio


def test_retained_values_give_a_reading_right_after_connecting(bus, run_source):
    async def go():
        await bus.publish_many(
            [(bus.topic("soc"), 71), (bus.topic("power"), 0.2), (bus.topic("temperature"), 26)],
            retain=True,
        )
        async with run_source(bus.config()) as got:
            await got.wait_readings(1, timeout=3)
            r = got.readings[0]
            assert (r.soc_percent, r.power_mw, r.temperature_c) == (71, 0.2, 26)

    asyncio.run(go())
