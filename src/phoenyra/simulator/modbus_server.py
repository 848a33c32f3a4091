"""A simulated battery served over real Modbus TCP with a preset's register map.

The battery physics is ``core.battery``; this adapter owns the clock and the socket. Values are
encoded with ``telemetry.registers.encode_values``, the exact inverse of the reader's decoder, so
a preset read from the simulator exercises the same code path as a real device.

Registers are refreshed from the battery state on every request (pymodbus' SimDevice ``action``
hook), so a read always sees the latest step. A write to the preset's ``setpoint_mw`` register
becomes the power the battery follows from the next step on; writes anywhere else are refused
(exception 2) as a real device refuses writes to measurement registers.

Unit ids: the battery answers on the preset's unit id; with ``strict_unit_id`` (the default)
every other unit id gets gateway exception 11 ("target device failed to respond"), which is what
a Modbus TCP gateway in front of the real device answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ..core.battery import BatteryParams, BatteryState, step
from ..telemetry.model import ConfigInvalid, TelemetryError
from ..telemetry.presets import Preset, load_preset
from ..telemetry.registers import (
    SUNS_MARKER,
    SUNSPEC_END,
    RegisterMap,
    Table,
    Words,
    choose_scale_factor,
    decode_field,
    encode_values,
    resolve_sunspec,
)

DEFAULT_PORT = 5020
SUNSPEC_BASE = 40000  # where the simulator puts the SunSpec marker (the most common base)
# Status codes the simulator reports (simulator-only meaning; devices have their own enums).
STATUS_IDLE, STATUS_CHARGING, STATUS_DISCHARGING = 0, 1, 2
_READ_TABLE: dict[int, Table] = {3: "holding", 4: "input"}


@dataclass(frozen=True, slots=True)
class Request:
    unit_id: int
    function_code: int
    address: int
    count: int


def sunspec_layout(rmap: RegisterMap, base: int = SUNSPEC_BASE) -> tuple[dict[int, int], Words]:
    """Model start addresses and the fixed registers (marker, model headers, end marker) of a
    SunSpec chain with the models the preset lists, in that order."""
    assert rmap.sunspec is not None
    words: Words = {("holding", base): SUNS_MARKER[0], ("holding", base + 1): SUNS_MARKER[1]}
    starts: dict[int, int] = {}
    address = base + 2
    for model_id, length in rmap.sunspec.model_lengths.items():
        starts[model_id] = address
        words[("holding", address)] = model_id
        words[("holding", address + 1)] = length
        for i in range(length):
            words[("holding", address + 2 + i)] = 0
        address += 2 + length
    words[("holding", address)] = SUNSPEC_END
    words[("holding", address + 1)] = 0
    return starts, words


class BatterySimulator:
    """One battery behind one Modbus TCP server."""

    def __init__(
        self,
        preset: str | Preset,
        *,
        params: BatteryParams | None = None,
        initial_soc: float = 50.0,
        unit_id: int | None = None,
        strict_unit_id: bool = True,
    ) -> None:
        self.preset = load_preset(preset) if isinstance(preset, str) else preset
        if self.preset.map is None:
            raise ConfigInvalid(
                f"preset {self.preset.name!r} has no Modbus register map "
                f"(transport {self.preset.transport!r}); it cannot be simulated over Modbus"
            )
        rmap = self.preset.map
        if unit_id is not None:
            rmap = rmap.model_copy(update={"unit_id": unit_id})
        if params is None:
            hint = self.preset.simulator
            cap, power = (hint.capacity_mwh, hint.power_mw) if hint else (2.0, 1.0)
            params = BatteryParams(capacity_mwh=cap, max_charge_mw=power, max_discharge_mw=power)
        self.params = params
        self.state = BatteryState(soc_percent=initial_soc, temperature_c=params.ambient_c)
        self.setpoint_mw = 0.0
        self.strict_unit_id = strict_unit_id
        self.requests: list[Request] = []
        self._fixed: Words = {}
        if rmap.needs_discovery:
            starts, self._fixed = sunspec_layout(rmap)
            rmap = resolve_sunspec(rmap, starts)
        self.map = rmap  # absolute addresses
        # One scale factor per sunssf register, sized for the largest value it must carry.
        peak = 1.2 * params.rated_power_mw
        max_abs = {
            "soc_percent": 100.0,
            "power_mw": peak,
            "temperature_c": 80.0,
            "status": 2.0,
            "capacity_mwh": params.capacity_mwh,
            "setpoint_mw": peak,
        }
        self.scale_factors = {
            name: choose_scale_factor(f, max_abs[name])
            for name, f in rmap.fields(with_setpoint=True).items()
            if f.scale_factor is not None
        }
        if rmap.setpoint_mw is not None:  # the setpoint starts at 0 MW (idle)
            self._fixed.update(encode_values(rmap, {"setpoint_mw": 0.0}, self.scale_factors))
        self._server: ModbusTcpServer | None = None
        self.port: int | None = None

    # -- model --------------------------------------------------------------------------------
    def step(self, dt_s: float) -> BatteryState:
        self.state = step(self.params, self.state, dt_s, self.setpoint_mw)
        return self.state

    def values(self) -> dict[str, float]:
        p = self.state.power_mw
        status = STATUS_IDLE if abs(p) < 1e-9 else STATUS_DISCHARGING if p > 0 else STATUS_CHARGING
        out = {
            "soc_percent": self.state.soc_percent,
            "power_mw": p,
            "temperature_c": self.state.temperature_c,
            "status": float(status),
            "capacity_mwh": self.params.capacity_mwh,
        }
        return {k: v for k, v in out.items() if k in self.map.fields()}

    def registers(self) -> Words:
        """Every register the device holds right now."""
        words = dict(self._fixed)
        words.update(encode_values(self.map, self.values(), self.scale_factors))
        return words

    # -- Modbus -------------------------------------------------------------------------------
    def _blocks(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        words = self.registers()
        blocks: dict[Table, list[SimData]] = {}
        for table in ("holding", "input"):
            addrs = [a for t, a in words if t == table]
            if addrs:
                lo, hi = min(addrs), max(addrs)
                # One contiguous block: grouped reads may span the gaps between values, as on
                # devices that answer zeros for unassigned registers; outside it is illegal.
                blocks[table] = [
                    SimData(lo, count=hi - lo + 1, values=0, datatype=DataType.REGISTERS)
                ]
            else:
                blocks[table] = [SimData(0, count=1, datatype=DataType.INVALID)]

        # No coils or discrete inputs: a one-bit block keeps pymodbus' validation satisfied.
        def bits() -> list[SimData]:
            return [SimData(0, count=1, values=False, datatype=DataType.BITS)]

        return (bits(), bits(), blocks["holding"], blocks["input"])

    def _write_setpoint(self, address: int, values: list[int], current: list[int], start: int):
        f = self.map.setpoint_mw
        if f is None or address < f.address or address + len(values) > f.address + f.words:
            return ExcCodes.ILLEGAL_ADDRESS
        words = {("holding", f.address + i): current[f.address + i - start] for i in range(f.words)}
        for i, v in enumerate(values):
            words[("holding", address + i)] = v
        if f.scale_factor is not None:
            words[("holding", f.scale_factor)] = current[f.scale_factor - start]
        try:
            self.setpoint_mw = decode_field("setpoint_mw", f, words, self.map.sentinels)
        except TelemetryError:
            return ExcCodes.ILLEGAL_VALUE
        for i in range(f.words):  # read back as written, as a device does
            self._fixed[("holding", f.address + i)] = words[("holding", f.address + i)]
        return None

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
        *,
        unit_id: int,
    ) -> ExcCodes | None:
        self.requests.append(Request(unit_id, function_code, address, count))
        table = _READ_TABLE.get(function_code, "holding")
        for (t, a), word in self.registers().items():
            if t == table and not (set_values is not None and self._is_setpoint(a)):
                current_registers[a - start_address] = word
        if set_values is not None:
            values = [int(v) for v in set_values]
            return self._write_setpoint(address, values, current_registers, start_address)
        return None

    def _is_setpoint(self, address: int) -> bool:
        f = self.map.setpoint_mw
        return f is not None and f.address <= address < f.address + f.words

    async def _refuse_unit(self, function_code: int, *_args, **_kw) -> ExcCodes:
        return ExcCodes.GATEWAY_NO_RESPONSE

    async def start(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> int:
        """Listen (port 0 picks a free port); returns the port."""
        unit = self.map.unit_id
        blocks = self._blocks()

        async def action(*args, **kw):
            return await self._action(*args, **kw, unit_id=unit)

        devices = [SimDevice(id=unit, simdata=blocks, action=action)]
        if self.strict_unit_id and unit != 0:
            devices.append(SimDevice(id=0, simdata=self._blocks(), action=self._refuse_unit))
        self._server = ModbusTcpServer(devices, address=(host, port))
        await self._server.serve_forever(background=True)
        sockets = getattr(self._server.transport, "sockets", None)
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def run(self, step_s: float = 1.0) -> None:
        """Step the battery in real time until cancelled."""
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(step_s)
            now = loop.time()
            self.step(now - last)
            last = now


async def serve(
    preset: str = "generic",
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    params: BatteryParams | None = None,
    initial_soc: float = 50.0,
    step_s: float = 1.0,
    unit_id: int | None = None,
    mqtt: tuple[str, int] | None = None,
    mqtt_topics: dict[str, str] | None = None,
    mqtt_setpoint_topic: str | None = None,
) -> None:
    """``phoenyra simulate-bess``: serve until cancelled; with ``mqtt=(broker, port)`` also
    publish the state there every step (and follow a setpoint on ``mqtt_setpoint_topic``)."""
    sim = BatterySimulator(preset, params=params, initial_soc=initial_soc, unit_id=unit_id)
    await sim.start(host, port)
    publisher = None
    if mqtt is not None:
        from .mqtt_publisher import publish_state

        publisher = asyncio.create_task(
            publish_state(sim, mqtt[0], mqtt[1], step_s, mqtt_topics, mqtt_setpoint_topic)
        )
    try:
        await sim.run(step_s)
    finally:
        if publisher is not None:
            publisher.cancel()
        with contextlib.suppress(Exception):
            await sim.stop()
