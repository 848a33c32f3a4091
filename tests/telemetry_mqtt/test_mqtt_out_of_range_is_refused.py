"""A number a battery cannot report (SoC outside 0–100 %, temperature outside −40…80 °C, power
beyond 1.2 × rated) is refused and changes nothing."""

from __future__ import annotations

import asyncio

import pytest


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("soc", "100.1"),
        ("soc", "-0.5"),
        ("temperature", "80.5"),
        ("temperature", "-41"),
        ("power", "2.41"),  # rated 2 MW in bus.config(): the limit is ±2.4 MW
        ("power", "-2.41"),
    ],
)
def test_an_out_of_range_value_is_refused_and_the_last_good_state_stays(
    bus, run_source, topic, payload
):
    async def go():
        async with run_source(bus.config()) as got:
            await bus.publish(bus.topic("soc"), "50")
            await bus.publish(bus.topic("power"), "2.4")  # exactly at the limit: accepted
            await bus.publish(bus.topic("temperature"), "25")
            await got.wait_readings(1)
            before = dict(got.source.latest)
            await bus.publish(bus.topic(topic), payload)
            await got.wait_messages(4)
            await asyncio.sleep(0.05)
            assert got.source.latest == before
            assert len(got.readings) == 1
            assert got.source.counters.refused == {"out_of_range": 1}

    asyncio.run(go())


def test_an_out_of_range_first_value_is_refused_before_the_other_fields_arrive(bus, run_source):
    async def go():
        async with run_source(bus.config()) as got:
            await bus.publish(bus.topic("soc"), "150")
            await bus.publish(bus.topic("power"), "0")
            await bus.publish(bus.topic("temperature"), "25")
            await got.wait_messages(3)
            await asyncio.sleep(0.05)
            # The bad SoC was never stored, so no reading can carry it.
            assert "soc_percent" not in got.source.latest
            assert got.readings == []

    asyncio.run(go())
