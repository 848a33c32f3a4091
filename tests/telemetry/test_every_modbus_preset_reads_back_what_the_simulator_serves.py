"""Each preset: the simulator encodes its state with the preset's map, serves it over real Modbus
TCP, and the generic reader decodes the same values (to the register's resolution)."""

from __future__ import annotations

import asyncio

import pytest

from phoenyra.simulator import BatterySimulator
from phoenyra.telemetry.model import ConfigInvalid
from phoenyra.telemetry.presets import list_presets, load_preset
from phoenyra.telemetry.sources.modbus import ModbusSource, test_connection

MODBUS_PRESETS = [n for n in list_presets() if load_preset(n).map is not None]


def test_the_required_presets_exist() -> None:
    assert {"generic", "sma", "victron-gx", "fronius-gen24", "sunspec", "tesla-powerwall"} <= set(
        list_presets()
    )


def resolution(sim: BatterySimulator, name: str) -> float:
    f = sim.map.fields()[name]
    sf = sim.scale_factors.get(name, 0)
    return abs(f.scale) * 10.0**sf if f.type != "f32" else 1e-6


@pytest.mark.parametrize("name", MODBUS_PRESETS)
def test_preset_reads_back_the_simulated_values(name: str) -> None:
    async def scenario() -> None:
        sim = BatterySimulator(name, initial_soc=63.0)
        sim.setpoint_mw = -0.7 * sim.params.max_charge_mw  # charging: a signed, non-zero power
        sim.step(600.0)
        port = await sim.start("127.0.0.1", 0)
        try:
            source = ModbusSource(
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "preset": name,
                    "rated_power_mw": sim.params.rated_power_mw,
                    "battery_id": "b1",
                }
            )
            reading = await source.read()
            await source.close()
        finally:
            await sim.stop()
        expected = sim.values()
        assert reading.battery_id == "b1" and reading.source == "modbus"
        assert reading.power_mw < 0  # sign convention survives every vendor's encoding
        got = {
            "soc_percent": reading.soc_percent,
            "power_mw": reading.power_mw,
            "temperature_c": reading.temperature_c,
            **reading.extra,
        }
        assert set(got) == set(expected)
        for field, value in expected.items():
            assert got[field] == pytest.approx(value, abs=resolution(sim, field) / 2 + 1e-9), field

    asyncio.run(scenario())


def test_connection_test_reports_values_and_latency() -> None:
    async def scenario() -> dict:
        sim = BatterySimulator("generic", initial_soc=42.0)
        port = await sim.start("127.0.0.1", 0)
        try:
            return await test_connection({"host": "127.0.0.1", "port": port, "preset": "generic"})
        finally:
            await sim.stop()

    result = asyncio.run(scenario())
    assert result["ok"] is True
    assert result["values"]["soc_percent"] == pytest.approx(42.0)
    assert result["values"]["power_mw"] == 0.0
    assert 0 < result["latency_ms"] < 5000


def test_tesla_powerwall_has_no_register_map_and_says_why() -> None:
    tesla = load_preset("tesla-powerwall")
    assert tesla.transport == "https" and tesla.map is None
    assert "no public Modbus" in tesla.notes
    assert (
        tesla.https is not None and tesla.https["soc_percent"]["path"] == "/api/system_status/soe"
    )
    with pytest.raises(ConfigInvalid, match="not a Modbus device"):
        ModbusSource({"host": "127.0.0.1", "preset": "tesla-powerwall"})
    with pytest.raises(ConfigInvalid, match="cannot be simulated"):
        BatterySimulator("tesla-powerwall")


def test_every_preset_documents_its_source_and_limits() -> None:
    for name in list_presets():
        p = load_preset(name)
        assert len(p.source) > 40, name
        assert p.limits, name


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(ConfigInvalid, match="generic"):
        load_preset("no-such-device")
