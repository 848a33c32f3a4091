"""JSON payloads: a dotted/indexed path selects the value; several fields may share one topic."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import ValidationError

from phoenyra.telemetry.sources.mqtt import TopicMapping, parse_json_path


def test_each_field_is_read_from_its_json_path(bus, run_source):
    config = bus.config(
        soc_percent={"topic": bus.topic("soc"), "json_path": "data.soc"},
        power_mw={"topic": bus.topic("power"), "json_path": "$.values[0]"},
        temperature_c={"topic": bus.topic("temperature"), "json_path": "cells[1].temp"},
    )

    async def go():
        async with run_source(config) as got:
            await bus.publish(bus.topic("soc"), json.dumps({"data": {"soc": 63.2, "x": 1}}))
            await bus.publish(bus.topic("power"), json.dumps({"values": [-1.5, 7]}))
            await bus.publish(
                bus.topic("temperature"),
                json.dumps({"cells": [{"temp": 99}, {"temp": "27.5"}]}),  # numeric text counts
            )
            await got.wait_readings(1)
            r = got.readings[-1]
            assert (r.soc_percent, r.power_mw, r.temperature_c) == (63.2, -1.5, 27.5)

    asyncio.run(go())


def test_one_json_message_can_carry_every_field(bus, run_source):
    state = bus.topic("state")
    config = bus.config(
        soc_percent={"topic": state, "json_path": "soc"},
        power_mw={"topic": state, "json_path": "p"},
        temperature_c={"topic": state, "json_path": "t"},
        status={"topic": state, "json_path": "mode"},
    )

    async def go():
        async with run_source(config) as got:
            await bus.publish(state, json.dumps({"soc": 80, "p": 0.5, "t": 30, "mode": "run"}))
            await got.wait_readings(1)
            r = got.readings[0]
            assert (r.soc_percent, r.power_mw, r.temperature_c) == (80, 0.5, 30)
            assert r.extra == {"status": "run"}
            assert got.source.counters.messages == 1

    asyncio.run(go())


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("soc", ("soc",)),
        ("data.soc", ("data", "soc")),
        ("$.values[0]", ("values", 0)),
        ("$[2]", (2,)),
        ("a[1][0].b", ("a", 1, 0, "b")),
    ],
)
def test_path_syntax_is_keys_by_dots_and_indexes_in_brackets(path, steps):
    assert parse_json_path(path) == steps


@pytest.mark.parametrize("path", ["$", "a..b", "a[x]", "a[-1]", "[0]x", "a.[0]", "a b]"])
def test_a_malformed_path_is_refused_in_the_configuration(path):
    with pytest.raises(ValidationError):
        TopicMapping(topic="t", json_path=path)
