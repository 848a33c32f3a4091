"""When the broker goes away the source keeps retrying (backoff with jitter) and, once the broker is
back on the same address, subscribes again and resumes."""

from __future__ import annotations

import asyncio

from phoenyra.telemetry.sources.mqtt import MqttSource


def test_the_source_reconnects_resubscribes_and_resumes_after_a_broker_restart(
    own_broker, make_bus, run_source
):
    broker = own_broker()
    bus = make_bus(broker.port)  # a private broker: nothing retained survives it

    async def go():
        async with run_source(bus.config()) as got:
            await bus.publish_many(
                [(bus.topic("soc"), 30), (bus.topic("power"), 0), (bus.topic("temperature"), 20)]
            )
            await got.wait_readings(1)
            assert got.source.counters.connects == 1

            broker.kill()
            await asyncio.wait_for(_cleared(got.source.connected), 5)
            # Let it fail a few times against the closed port before the broker comes back.
            await asyncio.sleep(1.0)
            assert got.source.counters.connection_failures >= 2
            assert got.source.last_error.kind == "refused"

            broker.start()
            await asyncio.wait_for(got.source.connected.wait(), 5)
            assert got.source.counters.connects == 2
            # Published after the restart, so only a fresh subscription can deliver it.
            await bus.publish(bus.topic("soc"), 31)
            await got.wait_readings(2)
            r = got.readings[-1]
            # The values known before the outage are kept; the new SoC is applied on top.
            assert (r.soc_percent, r.power_mw, r.temperature_c) == (31, 0, 20)

    asyncio.run(go())


async def _cleared(event: asyncio.Event) -> None:
    while event.is_set():
        await asyncio.sleep(0.01)


def test_retry_pauses_grow_exponentially_up_to_the_cap(own_broker, make_bus):
    # A port nobody listens on: every attempt is refused at once, so the count of attempts in a
    # fixed time shows whether the pauses grow (0.1, 0.2, 0.4, 0.8 capped ...) or not.
    broker = own_broker()
    bus = make_bus(broker.port)
    broker.kill()

    async def go():
        source = MqttSource(bus.config(reconnect_min_s=0.1, reconnect_max_s=0.8))
        task = asyncio.create_task(source.run())
        await asyncio.sleep(2.0)
        task.cancel()
        failures = source.counters.connection_failures
        # Without backoff ~20 attempts fit in 2 s at 0.1 s; with it (jitter: 50–100 % of the
        # pause) between 3 and 8.
        assert 3 <= failures <= 8, failures

    asyncio.run(go())
