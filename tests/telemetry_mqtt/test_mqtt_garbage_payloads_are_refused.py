"""A payload that is not a finite number where one is expected is refused, counted, logged once per
streak, and changes nothing."""

from __future__ import annotations

import asyncio
import logging

import pytest

GOOD = {"soc": "50", "power": "0.5", "temperature": "25"}


async def _with_good_state(bus, got):
    for name, value in GOOD.items():
        await bus.publish(bus.topic(name), value)
    await got.wait_readings(1)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"hello", id="text"),
        pytest.param(b"NaN", id="nan"),
        pytest.param(b"inf", id="inf"),
        pytest.param(b"-Infinity", id="minus-infinity"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"true", id="json-bool"),
        pytest.param(b'{"soc": 50}', id="json-where-a-number-is-expected"),
    ],
)
def test_a_plain_topic_refuses_a_payload_that_is_not_a_finite_number(bus, run_source, payload):
    async def go():
        async with run_source(bus.config()) as got:
            await _with_good_state(bus, got)
            before = dict(got.source.latest)
            await bus.publish(bus.topic("soc"), payload)
            await got.wait_messages(4)
            await asyncio.sleep(0.05)
            assert got.source.latest == before
            assert len(got.readings) == 1
            assert got.source.counters.refused == {"bad_payload": 1}
            assert got.source.counters.applied == 3

    asyncio.run(go())


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b'{"other": 1}', id="json-without-the-path"),
        pytest.param(b'{"data": {"x": 1}}', id="json-without-the-leaf"),
        pytest.param(b"[1, 2]", id="array-where-an-object-is-expected"),
        pytest.param(b'{"data": [50]}', id="array-inside-where-an-object-is-expected"),
        pytest.param(b'{"data": {"soc": null}}', id="null-value"),
        pytest.param(b'{"data": {"soc": "NaN"}}', id="nan-string-in-json"),
        pytest.param(b'{"data": {"soc": 1e999}}', id="json-overflow"),
        pytest.param(b'{"data": {"soc": 50', id="truncated-json"),
        pytest.param(b"50", id="plain-number-where-json-is-expected"),
    ],
)
def test_a_json_topic_refuses_a_payload_without_a_number_at_the_path(bus, run_source, payload):
    config = bus.config(soc_percent={"topic": bus.topic("soc"), "json_path": "data.soc"})

    async def go():
        async with run_source(config) as got:
            await bus.publish(bus.topic("soc"), '{"data": {"soc": 50}}')
            await bus.publish(bus.topic("power"), "0.5")
            await bus.publish(bus.topic("temperature"), "25")
            await got.wait_readings(1)
            before = dict(got.source.latest)
            await bus.publish(bus.topic("soc"), payload)
            await got.wait_messages(4)
            await asyncio.sleep(0.05)
            assert got.source.latest == before
            assert len(got.readings) == 1
            assert got.source.counters.refused == {"bad_payload": 1}
            assert got.source.last_error.kind == "bad_payload"
            assert bus.topic("soc") in got.source.last_error.message

    asyncio.run(go())


def test_a_shared_json_topic_with_one_bad_field_applies_none_of_its_fields(bus, run_source):
    state = bus.topic("state")
    config = bus.config(
        soc_percent={"topic": state, "json_path": "soc"},
        power_mw={"topic": state, "json_path": "p"},
        temperature_c={"topic": state, "json_path": "t"},
    )

    async def go():
        async with run_source(config) as got:
            await bus.publish(state, '{"soc": 50, "p": 0.1, "t": 20}')
            await got.wait_readings(1)
            await bus.publish(state, '{"soc": 60, "p": "high", "t": 21}')
            await got.wait_messages(2)
            await asyncio.sleep(0.05)
            assert got.source.latest == {"soc_percent": 50, "power_mw": 0.1, "temperature_c": 20}
            assert len(got.readings) == 1

    asyncio.run(go())


def test_a_streak_of_bad_payloads_is_logged_once_per_topic_and_counted_each_time(
    bus, run_source, caplog
):
    caplog.set_level(logging.WARNING, logger="phoenyra.telemetry.sources.mqtt")

    async def go():
        async with run_source(bus.config()) as got:
            for _ in range(5):
                await bus.publish(bus.topic("soc"), "garbage")
            await bus.publish(bus.topic("power"), "garbage")
            await got.wait_messages(6)
            assert got.source.counters.refused == {"bad_payload": 6}
            refusals = [r for r in caplog.records if "refused" in r.getMessage()]
            assert len(refusals) == 2  # one per topic

            # A good value ends the streak; the next bad one is logged again.
            await bus.publish(bus.topic("soc"), "50")
            await bus.publish(bus.topic("soc"), "garbage")
            await got.wait_messages(8)
            refusals = [r for r in caplog.records if "refused" in r.getMessage()]
            assert len(refusals) == 3

    asyncio.run(go())
