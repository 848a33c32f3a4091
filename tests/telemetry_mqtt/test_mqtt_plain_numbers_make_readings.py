"""A plain number (or numeric text) per topic; a Reading once all three fields are known, then one
per message with the latest values."""

from __future__ import annotations

import asyncio


def test_a_reading_is_emitted_once_soc_power_and_temperature_have_arrived(bus, run_source):
    async def go():
        async with run_source(bus.config(battery_id="b-plain")) as got:
            await bus.publish(bus.topic("soc"), "55.5")
            await bus.publish(bus.topic("power"), "-0.75")
            await got.wait_messages(2)
            assert got.readings == []  # temperature still unknown: no half reading

            await bus.publish(bus.topic("temperature"), b" 24.0\n")  # whitespace is fine
            await got.wait_readings(1)
            r = got.readings[0]
            assert (r.battery_id, r.soc_percent, r.power_mw, r.temperature_c, r.source) == (
                "b-plain",
                55.5,
                -0.75,
                24.0,
                "mqtt",
            )

    asyncio.run(go())


def test_each_new_message_updates_its_field_and_emits_a_reading_with_the_latest_values(
    bus, run_source
):
    async def go():
        async with run_source(bus.config()) as got:
            await bus.publish(bus.topic("soc"), 40)
            await bus.publish(bus.topic("power"), 1)
            await bus.publish(bus.topic("temperature"), 20)
            await got.wait_readings(1)
            await bus.publish(bus.topic("soc"), 41)
            await got.wait_readings(2)
            await bus.publish(bus.topic("temperature"), 21.5)
            await got.wait_readings(3)
            latest = [(r.soc_percent, r.power_mw, r.temperature_c) for r in got.readings]
            assert latest == [(40, 1, 20), (41, 1, 20), (41, 1, 21.5)]
            assert got.source.counters.messages == 5
            assert got.source.counters.applied == 5
            assert got.source.counters.readings == 3
            assert got.source.counters.refused == {}

    asyncio.run(go())


def test_messages_on_other_topics_are_ignored(bus, run_source):
    async def go():
        async with run_source(bus.config()) as got:
            await bus.publish(bus.topic("soc-other"), "99")
            await bus.publish(bus.topic("soc"), "10")
            await got.wait_messages(1)
            await asyncio.sleep(0.1)
            assert got.source.counters.messages == 1
            assert got.source.latest == {"soc_percent": 10.0}

    asyncio.run(go())
