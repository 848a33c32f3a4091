"""A per-topic scale converts the device's units: W → MW, a 0–1 fraction → percent."""

from __future__ import annotations

import asyncio


def test_watts_and_fractions_are_scaled_into_mw_and_percent(bus, run_source):
    config = bus.config(
        soc_percent={"topic": bus.topic("soc"), "scale": 100},
        power_mw={"topic": bus.topic("power"), "json_path": "w", "scale": 1e-6},
        temperature_c={"topic": bus.topic("temperature")},
    )

    async def go():
        async with run_source(config) as got:
            await bus.publish(bus.topic("soc"), "0.42")
            await bus.publish(bus.topic("power"), '{"w": -1500000}')
            await bus.publish(bus.topic("temperature"), "21")
            await got.wait_readings(1)
            r = got.readings[0]
            assert r.soc_percent == 42.0
            assert r.power_mw == -1.5

    asyncio.run(go())


def test_range_checks_apply_after_scaling(bus, run_source):
    # 0.42 is a fine SoC unscaled; ×1000 it is 420 % and must be refused.
    config = bus.config(soc_percent={"topic": bus.topic("soc"), "scale": 1000})

    async def go():
        async with run_source(config) as got:
            await bus.publish(bus.topic("soc"), "0.42")
            await got.wait_messages(1)
            assert got.source.latest == {}
            assert got.source.counters.refused == {"out_of_range": 1}

    asyncio.run(go())
