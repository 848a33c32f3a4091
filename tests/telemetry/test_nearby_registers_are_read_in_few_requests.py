"""The read planner: neighbours share a request, no request exceeds 125 registers, distant
registers are read apart, and a 32-bit value is never split; the server sees exactly the plan."""

from __future__ import annotations

import asyncio

from phoenyra.simulator import BatterySimulator
from phoenyra.telemetry.presets import Preset
from phoenyra.telemetry.registers import ReadRequest, RegisterMap, plan_reads
from phoenyra.telemetry.sources.modbus import ModbusSource


def rmap(**kw) -> RegisterMap:
    base = {
        "soc_percent": {"address": 0, "scale": 0.1},
        "power_mw": {"address": 1, "type": "s16", "scale": 0.001},
        "temperature_c": {"address": 2, "type": "s16", "scale": 0.1},
    }
    return RegisterMap.model_validate({**base, **kw})


def test_adjacent_registers_are_one_request() -> None:
    assert plan_reads(rmap()) == [ReadRequest("holding", 0, 3)]


def test_a_gap_wider_than_max_gap_starts_a_new_request() -> None:
    # 28 unused registers (2..29) lie between power and temperature: the boundary is exact.
    m = rmap(temperature_c={"address": 30, "type": "s16"}, max_gap=27)
    assert plan_reads(m) == [ReadRequest("holding", 0, 2), ReadRequest("holding", 30, 1)]
    m = rmap(temperature_c={"address": 30, "type": "s16"}, max_gap=28)
    assert plan_reads(m) == [ReadRequest("holding", 0, 31)]


def test_no_request_is_longer_than_125_registers() -> None:
    m = rmap(power_mw={"address": 100, "type": "s32"}, temperature_c={"address": 200}, max_gap=123)
    plan = plan_reads(m)
    assert all(r.count <= 125 for r in plan)
    assert plan == [ReadRequest("holding", 0, 102), ReadRequest("holding", 200, 1)]


def test_a_32_bit_value_is_never_split_between_requests() -> None:
    # 0..125 would be 126 registers: the s32 at 124 moves whole into its own request.
    m = rmap(power_mw={"address": 124, "type": "s32"}, max_gap=123)
    plan = plan_reads(m)
    assert plan == [ReadRequest("holding", 0, 3), ReadRequest("holding", 124, 2)]
    for r in plan:
        assert r.count <= 125
        covers = range(r.address, r.address + r.count)
        assert (124 in covers) == (125 in covers)


def test_tables_are_planned_separately_and_scale_factors_included() -> None:
    m = rmap(temperature_c={"address": 2, "table": "input", "type": "s16", "scale_factor": 3})
    assert plan_reads(m) == [ReadRequest("holding", 0, 2), ReadRequest("input", 2, 2)]


def test_the_server_receives_exactly_the_planned_requests() -> None:
    m = rmap(
        power_mw={"address": 110, "type": "s32", "scale": 1e-6},
        temperature_c={"address": 240, "type": "s16", "scale": 0.1},
        max_gap=123,
    )
    preset = Preset(
        name="spread",
        title="spread",
        transport="modbus",
        source="test map spread over 240 registers",
        limits=["test"],
        map=m,
    )

    async def scenario() -> list:
        sim = BatterySimulator(preset, initial_soc=55.0)
        port = await sim.start("127.0.0.1", 0)
        try:
            source = ModbusSource({"host": "127.0.0.1", "port": port, "map": m.model_dump()})
            reading = await source.read()
            await source.close()
            assert reading.soc_percent == 55.0
        finally:
            await sim.stop()
        return sim.requests

    requests = asyncio.run(scenario())
    assert [(r.function_code, r.address, r.count) for r in requests] == [(3, 0, 112), (3, 240, 1)]
