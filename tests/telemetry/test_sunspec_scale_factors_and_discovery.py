"""SunSpec: value × 10^sf from the sunssf register, 'not implemented' markers refused, the model
chain discovered from the 'SunS' marker, and a non-SunSpec device refused clearly."""

from __future__ import annotations

import asyncio

import pytest

from phoenyra.simulator import BatterySimulator
from phoenyra.telemetry.model import BadPayload, ConfigInvalid
from phoenyra.telemetry.presets import load_preset
from phoenyra.telemetry.registers import FieldMap, decode_field, resolve_sunspec
from phoenyra.telemetry.sources.modbus import test_connection

W = FieldMap(address=100, type="s16", scale_factor=101, scale=1e-6)


def test_negative_scale_factor_divides() -> None:
    # 12345 W × 10⁻² = 123.45 W = 0.00012345 MW
    assert decode_field("w", W, {("holding", 100): 12345, ("holding", 101): 0xFFFE}) == (
        pytest.approx(123.45e-6)
    )


def test_positive_scale_factor_multiplies() -> None:
    # −500 (0xFE0C) × 10³ W = −0.5 MW
    assert decode_field("w", W, {("holding", 100): 0xFE0C, ("holding", 101): 3}) == (
        pytest.approx(-0.5)
    )


def test_scale_factor_outside_minus_10_to_10_is_bad_payload() -> None:
    with pytest.raises(BadPayload, match="scale factor"):
        decode_field("w", W, {("holding", 100): 1, ("holding", 101): 11})


def test_not_implemented_value_is_bad_payload() -> None:
    with pytest.raises(BadPayload, match="not available"):
        decode_field("w", W, {("holding", 100): 0x8000, ("holding", 101): 0})


def test_offsets_resolve_against_the_discovered_model_starts() -> None:
    m = load_preset("sunspec").map
    assert m is not None
    resolved = resolve_sunspec(m, {1: 40002, 103: 40070, 802: 40122})
    assert resolved.soc_percent.address == 40122 + 11
    assert resolved.soc_percent.scale_factor == 40122 + 56
    assert resolved.temperature_c.address == 40070 + 33
    with pytest.raises(ConfigInvalid, match="no SunSpec model 802"):
        resolve_sunspec(m, {1: 40002, 103: 40070})


def test_the_sunspec_preset_discovers_the_chain_on_a_served_device() -> None:
    async def scenario() -> dict:
        sim = BatterySimulator("sunspec", initial_soc=81.0)
        port = await sim.start("127.0.0.1", 0)
        try:
            return await test_connection({"host": "127.0.0.1", "port": port, "preset": "sunspec"})
        finally:
            await sim.stop()

    result = asyncio.run(scenario())
    assert result["values"]["soc_percent"] == pytest.approx(81.0, abs=0.005)
    assert result["values"]["capacity_mwh"] == pytest.approx(2.0)


def test_a_device_without_the_marker_is_refused_as_not_sunspec() -> None:
    async def scenario() -> None:
        sim = BatterySimulator("generic")  # serves registers 0..10 only, no "SunS" anywhere
        port = await sim.start("127.0.0.1", 0)
        try:
            await test_connection(
                {"host": "127.0.0.1", "port": port, "preset": "sunspec", "unit_id": 1}
            )
        finally:
            await sim.stop()

    with pytest.raises(ConfigInvalid, match="SunS"):
        asyncio.run(scenario())
