"""A power setpoint written over Modbus becomes what the simulated battery follows."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusTcpClient

from phoenyra.simulator import BatterySimulator
from phoenyra.telemetry.registers import encode_field


@pytest.mark.parametrize(
    ("preset", "setpoint_mw"),
    [("generic", 0.5), ("generic", -0.5), ("sma", 0.004), ("victron-gx", -0.003)],
)
def test_written_setpoint_moves_soc_in_its_direction(preset: str, setpoint_mw: float) -> None:
    async def scenario() -> tuple[float, float, float]:
        sim = BatterySimulator(preset, initial_soc=50.0)
        port = await sim.start("127.0.0.1", 0)
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
        try:
            assert await client.connect()
            f = sim.map.setpoint_mw
            assert f is not None
            rr = await client.write_registers(
                f.address, encode_field("setpoint", f, setpoint_mw), device_id=sim.map.unit_id
            )
            assert not rr.isError()
            before = sim.state.soc_percent
            sim.step(360.0)
            return before, sim.state.soc_percent, sim.state.power_mw
        finally:
            client.close()
            await sim.stop()

    before, after, power = asyncio.run(scenario())
    assert power == pytest.approx(setpoint_mw, rel=1e-3)
    assert (after < before) if setpoint_mw > 0 else (after > before)


def test_writes_to_measurement_registers_are_refused() -> None:
    async def scenario() -> int:
        sim = BatterySimulator("generic", initial_soc=50.0)
        port = await sim.start("127.0.0.1", 0)
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
        try:
            assert await client.connect()
            rr = await client.write_registers(0, [1000], device_id=1)  # SoC register
            assert sim.state.soc_percent == 50.0
            return rr.exception_code
        finally:
            client.close()
            await sim.stop()

    assert asyncio.run(scenario()) == 2
