"""Each way a Modbus device can fail becomes its own typed error (what the operator must fix)."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import socket

import pytest

from phoenyra.simulator import BatterySimulator
from phoenyra.telemetry.model import (
    BadPayload,
    ConnectionRefused,
    IllegalAddress,
    OutOfRange,
    TelemetryError,
    Timeout,
    WrongUnitId,
)
from phoenyra.telemetry.presets import load_preset
from phoenyra.telemetry.sources.modbus import ModbusSource, test_connection


def run_against(sim: BatterySimulator, **config) -> None:
    async def scenario() -> None:
        port = await sim.start("127.0.0.1", 0)
        try:
            await test_connection({"host": "127.0.0.1", "port": port, **config})
        finally:
            await sim.stop()

    asyncio.run(scenario())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_closed_port_is_connection_refused() -> None:
    with pytest.raises(ConnectionRefused):
        asyncio.run(
            test_connection({"host": "127.0.0.1", "port": free_port(), "preset": "generic"})
        )


def test_a_device_that_stops_answering_is_a_timeout() -> None:
    async def scenario() -> None:
        async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1024)  # takes the request, never answers
            await asyncio.sleep(10)

        server = await asyncio.start_server(mute, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            source = ModbusSource(
                {"host": "127.0.0.1", "port": port, "preset": "generic", "timeout_s": 0.3}
            )
            with pytest.raises(Timeout, match="no answer"):
                await source.read()
            # The next poll reconnects on its own and fails the same way, without hanging.
            with pytest.raises(Timeout):
                await source.read()
            await source.close()
        finally:
            server.close()

    asyncio.run(scenario())


def test_a_register_the_device_does_not_have_is_illegal_address() -> None:
    generic = load_preset("generic").map
    assert generic is not None
    wrong = generic.model_copy(
        update={"temperature_c": generic.temperature_c.model_copy(update={"address": 5000})}
    )
    with pytest.raises(IllegalAddress, match="5000"):
        run_against(BatterySimulator("generic"), map=wrong.model_dump())


def test_another_unit_id_behind_a_gateway_is_wrong_unit_id() -> None:
    with pytest.raises(WrongUnitId, match="unit 7"):
        run_against(BatterySimulator("generic"), preset="generic", unit_id=7)


def test_nan_from_a_float_register_is_bad_payload() -> None:
    generic = load_preset("generic").map
    assert generic is not None
    preset = load_preset("generic").model_copy(
        update={
            "map": generic.model_copy(
                update={
                    "soc_percent": generic.soc_percent.model_copy(
                        update={"address": 20, "type": "f32", "scale": 1.0}
                    )
                }
            )
        }
    )
    sim = BatterySimulator(preset)
    sim.state = dataclasses.replace(sim.state, soc_percent=math.nan)
    with pytest.raises(BadPayload, match="soc_percent"):
        run_against(sim, map=preset.map.model_dump())


def test_a_not_available_marker_is_bad_payload_not_a_number() -> None:
    sim = BatterySimulator("sma")
    sim.state = dataclasses.replace(sim.state, soc_percent=float(0xFFFFFFFF))  # SMA "NaN"
    with pytest.raises(BadPayload, match="not available"):
        run_against(sim, preset="sma")


def test_impossible_values_are_out_of_range() -> None:
    sim = BatterySimulator("generic")
    sim.state = dataclasses.replace(sim.state, soc_percent=150.0)
    with pytest.raises(OutOfRange, match="soc_percent"):
        run_against(sim, preset="generic")
    sim = BatterySimulator("generic")
    sim.state = dataclasses.replace(sim.state, power_mw=5.0)
    with pytest.raises(OutOfRange, match="power_mw"):
        run_against(sim, preset="generic", rated_power_mw=1.0)


def test_every_failure_is_a_telemetry_error_with_a_kind() -> None:
    for cls, kind in [
        (ConnectionRefused, "refused"),
        (Timeout, "timeout"),
        (IllegalAddress, "illegal_address"),
        (WrongUnitId, "wrong_unit_id"),
        (BadPayload, "bad_payload"),
        (OutOfRange, "out_of_range"),
    ]:
        assert issubclass(cls, TelemetryError) and cls.kind == kind
