"""Modbus TCP telemetry source: one generic reader for every register map (presets are data).

Use::

    source = ModbusSource(ModbusConfig(host="10.0.0.5", preset="sma"))
    reading = await source.read()      # a Reading, or a TelemetryError naming what went wrong
    await source.close()

``await test_connection(config)`` is the live test of the configuration API: it reads the map
once on a fresh connection and returns the values and the latency, or raises the typed error.

How a poll goes: connect if not connected (a lost connection is simply re-opened on the next
poll, so the runner's interval is the reconnect back-off); for SunSpec maps discover the model
chain once per connection; send the planned reads (``registers.plan_reads``); decode; validate.

Failure mapping (what the operator must check differs for each):
- TCP connection refused / host unreachable → ``ConnectionRefused``
- no answer within ``timeout_s`` → ``Timeout`` (also what a device that silently ignores other
  unit ids produces; the message says to check the unit id too)
- exception 2 or 3 (illegal data address / value) → ``IllegalAddress``
- exception 10 or 11 (gateway path unavailable / target failed to respond) → ``WrongUnitId``
- NaN, "not available" markers, wild scale factors → ``BadPayload``; impossible values →
  ``OutOfRange``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from ..model import (
    ConfigInvalid,
    ConnectionRefused,
    IllegalAddress,
    Reading,
    TelemetryError,
    Timeout,
    WrongUnitId,
    validated,
)
from ..registers import (
    SUNS_MARKER,
    SUNSPEC_END,
    FieldMap,
    ReadRequest,
    RegisterMap,
    Table,
    decode,
    encode_field,
    load_map,
    plan_reads,
    resolve_sunspec,
    scale_factor_of,
    words_from_reads,
)
from ..validation import check_reading, setpoint

ILLEGAL_ADDRESS_CODES = {2, 3}
GATEWAY_CODES = {10, 11}
MAX_SUNSPEC_MODELS = 64  # a chain longer than this is corrupt, not a device


class ModbusConfig(BaseModel):
    """One battery reached over Modbus TCP: where, and which map (a preset or an explicit map)."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)
    battery_id: str = "default"
    preset: str | None = None
    map: RegisterMap | None = None
    unit_id: int | None = Field(None, ge=0, le=255, description="overrides the map's unit id")
    rated_power_mw: float = Field(1.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    dispatch: bool = Field(
        False,
        description="write the exchange's dispatch plan (the power the battery's trades ask "
        "for) to the map's setpoint_mw register",
    )

    @model_validator(mode="after")
    def _one_map(self) -> ModbusConfig:
        if (self.preset is None) == (self.map is None):
            raise ValueError("give exactly one of 'preset' or 'map'")
        return self

    def check(self) -> None:
        """The map loads (the preset exists), and dispatch has a setpoint register that steers
        the device."""
        rmap = self.register_map()
        if self.dispatch and self.preset is not None:
            from ..presets import load_preset

            why = load_preset(self.preset).no_dispatch
            if why is not None:
                raise ConfigInvalid(
                    f"dispatch is on, but preset {self.preset!r} cannot steer a real device: "
                    f"{why} Use a custom register map with the device's control registers, or "
                    "switch dispatch off"
                )
        if rmap.setpoint_mw is None and self.dispatch:
            where = f"preset {self.preset!r}" if self.preset else "the register map"
            raise ConfigInvalid(
                f"dispatch is on, but {where} has no power setpoint register (setpoint_mw) to "
                "write the traded power to: map one, or switch dispatch off"
            )

    def register_map(self) -> RegisterMap:
        if self.map is not None:
            rmap = self.map
        else:
            from ..presets import load_preset

            preset = load_preset(self.preset or "")
            if preset.map is None:
                raise ConfigInvalid(
                    f"preset {preset.name!r} is not a Modbus device (transport "
                    f"{preset.transport!r}): {preset.notes}"
                )
            rmap = preset.map
        if self.unit_id is not None:
            rmap = rmap.model_copy(update={"unit_id": self.unit_id})
        return rmap


def load_config(data: ModbusConfig | Mapping[str, Any]) -> ModbusConfig:
    return validated(ModbusConfig, data, "Modbus configuration")


def simple_map_from_env(environ: Mapping[str, str]) -> RegisterMap:
    """The spec's simple case: SoC, power and temperature in holding registers given by
    ``BESS_MODBUS_*_REGISTER``, encoded as the ``generic`` preset (and the simulator) does.
    Status and capacity are left out: moved registers could otherwise collide with them."""
    from ..presets import load_preset

    base = load_preset("generic").map
    assert base is not None

    def reg(name: str, default: int) -> int:
        raw = environ.get(name, str(default))
        try:
            return int(raw)
        except ValueError:
            raise ConfigInvalid(f"{name}={raw!r} is not a register number") from None

    def moved(f: FieldMap, address: int) -> FieldMap:
        return f.model_copy(update={"address": address})

    return load_map(
        {
            **base.model_dump(),
            "status": None,
            "capacity_mwh": None,
            "unit_id": reg("BESS_MODBUS_UNIT_ID", base.unit_id),
            "soc_percent": moved(base.soc_percent, reg("BESS_MODBUS_SOC_REGISTER", 0)).model_dump(),
            "power_mw": moved(base.power_mw, reg("BESS_MODBUS_POWER_REGISTER", 1)).model_dump(),
            "temperature_c": moved(
                base.temperature_c, reg("BESS_MODBUS_TEMP_REGISTER", 2)
            ).model_dump(),
        }
    )


def modbus_config_from_env(environ: Mapping[str, str]) -> ModbusConfig | None:
    """``BESS_MODBUS_ENABLED``/``HOST``/``PORT`` plus the simple map; None when disabled."""
    if environ.get("BESS_MODBUS_ENABLED", "false").strip().lower() not in {
        "1",
        "true",
        "yes",
        "on",
    }:
        return None
    return load_config(
        {
            "host": environ.get("BESS_MODBUS_HOST", "127.0.0.1"),
            "port": environ.get("BESS_MODBUS_PORT", "502"),
            "battery_id": environ.get("BESS_ID", "default"),
            "map": simple_map_from_env(environ),
            "rated_power_mw": environ.get("BESS_POWER_MW", "1.0"),
            "timeout_s": 2.0,
            "dispatch": environ.get("BESS_MODBUS_DISPATCH", "false").strip().lower()
            in {"1", "true", "yes", "on"},
        }
    )


class ModbusSource:
    """A polled source (``telemetry.runner.Poller``): ``await read()`` → Reading."""

    def __init__(self, config: ModbusConfig | Mapping[str, Any]) -> None:
        self.config = load_config(config)
        self.map = self.config.register_map()
        self.name = f"modbus:{self.config.host}:{self.config.port}/{self.map.unit_id}"
        self._client: AsyncModbusTcpClient | None = None
        self._resolved: RegisterMap | None = None
        self._plan: list[ReadRequest] = []
        self.requests_sent = 0
        # One request at a time on the connection: the poll and the dispatch share it.
        self._lock = asyncio.Lock()

    # -- connection -------------------------------------------------------------------------
    async def _connected(self) -> AsyncModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        await self.close()
        # retries=0: our poll interval is the retry; pymodbus' own retries would multiply the
        # timeout a dead device costs. reconnect_delay=0: reconnecting is ours, per poll.
        client = AsyncModbusTcpClient(
            self.config.host,
            port=self.config.port,
            timeout=self.config.timeout_s,
            retries=0,
            reconnect_delay=0,
        )
        try:
            ok = await asyncio.wait_for(client.connect(), self.config.timeout_s + 1.0)
        except (TimeoutError, OSError):
            ok = False
        if not ok:
            client.close()
            raise ConnectionRefused(
                f"cannot connect to {self.config.host}:{self.config.port} (refused or "
                "unreachable): is the Modbus TCP server enabled and the port right?"
            )
        self._client = client
        self._resolved = None  # a reconnected device may have been reconfigured
        return client

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- requests ---------------------------------------------------------------------------
    async def _read(self, client: AsyncModbusTcpClient, table: Table, address: int, count: int):
        unit = self.map.unit_id
        read = client.read_holding_registers if table == "holding" else client.read_input_registers
        self.requests_sent += 1
        try:
            rr = await read(address, count=count, device_id=unit)
        except (ModbusIOException, TimeoutError) as exc:
            await self.close()
            raise Timeout(
                f"no answer from {self.config.host}:{self.config.port} unit {unit} within "
                f"{self.config.timeout_s:g} s ({table} {address}+{count}); check the device is "
                "on and the unit id is right"
            ) from exc
        except ConnectionException as exc:
            await self.close()
            raise ConnectionRefused(f"connection to {self.config.host} lost: {exc}") from exc
        except ModbusException as exc:
            await self.close()
            raise TelemetryError(f"Modbus error: {exc}") from exc
        if rr.isError():
            code = getattr(rr, "exception_code", 0)
            where = f"{table} register {address}..{address + count - 1} on unit {unit}"
            if code in ILLEGAL_ADDRESS_CODES:
                raise IllegalAddress(
                    f"the device refused {where} (Modbus exception {code}: illegal data "
                    "address/value); check the register map or preset for this model"
                )
            if code in GATEWAY_CODES:
                raise WrongUnitId(
                    f"no device answers as unit {unit} (gateway exception {code}); check the "
                    "unit id"
                )
            raise TelemetryError(f"the device answered {where} with Modbus exception {code}")
        return list(rr.registers)

    async def _discover(self, client: AsyncModbusTcpClient) -> RegisterMap:
        """Walk the SunSpec model chain once per connection: marker, then (ID, L) headers."""
        assert self.map.sunspec is not None
        for base in self.map.sunspec.bases:
            try:
                marker = await self._read(client, "holding", base, 2)
            except IllegalAddress:
                continue
            if tuple(marker) != SUNS_MARKER:
                continue
            starts: dict[int, int] = {}
            address = base + 2
            for _ in range(MAX_SUNSPEC_MODELS):
                model_id, length = await self._read(client, "holding", address, 2)
                if model_id == SUNSPEC_END:
                    break
                starts.setdefault(model_id, address)  # first instance, as SunSpec clients do
                address += 2 + length
            return resolve_sunspec(self.map, starts)
        bases = ", ".join(str(b) for b in self.map.sunspec.bases)
        raise ConfigInvalid(f"no SunSpec marker 'SunS' at {bases}: not a SunSpec device")

    async def _ready(self) -> tuple[AsyncModbusTcpClient, RegisterMap]:
        client = await self._connected()
        if self._resolved is None:
            self._resolved = await self._discover(client) if self.map.needs_discovery else self.map
            self._plan = plan_reads(self._resolved)
        return client, self._resolved

    async def read_values(self) -> dict[str, float]:
        """One poll: the decoded values of every mapped field (not yet range-checked)."""
        async with self._lock:
            client, rmap = await self._ready()
            reads = [(r, await self._read(client, r.table, r.address, r.count)) for r in self._plan]
            return decode(rmap, words_from_reads(reads))

    async def write_setpoint(self, power_mw: float) -> float:
        """Write the power the battery is to run at (MW, + discharging) to the map's setpoint
        register, cut to the rated power; returns the power written."""
        power_mw = setpoint(power_mw, self.config.rated_power_mw)
        async with self._lock:
            client, rmap = await self._ready()
            f = rmap.setpoint_mw
            if f is None:
                raise ConfigInvalid("the register map has no power setpoint register (setpoint_mw)")
            scale = 0
            if f.scale_factor is not None:  # SunSpec: the device says its scale
                [word] = await self._read(client, f.table, f.scale_factor, 1)
                scale = scale_factor_of("setpoint_mw", f, {(f.table, f.scale_factor): word})
            words = encode_field("setpoint_mw", f, power_mw, scale)
            unit = rmap.unit_id
            self.requests_sent += 1
            try:
                rr = await client.write_registers(f.address, words, device_id=unit)
            except (ModbusIOException, TimeoutError) as exc:
                await self.close()
                raise Timeout(
                    f"no answer from {self.config.host}:{self.config.port} unit {unit} to the "
                    f"setpoint write within {self.config.timeout_s:g} s"
                ) from exc
            except ModbusException as exc:
                await self.close()
                raise TelemetryError(f"Modbus error writing the setpoint: {exc}") from exc
            if rr.isError():
                code = getattr(rr, "exception_code", 0)
                raise IllegalAddress(
                    f"the device refused the setpoint write to holding register {f.address} on "
                    f"unit {unit} (Modbus exception {code}); check the map's setpoint_mw and that "
                    "the device accepts remote control"
                )
        return power_mw

    async def read(self) -> Reading:
        values = await self.read_values()
        check_reading(
            values["soc_percent"],
            values["power_mw"],
            values["temperature_c"],
            self.config.rated_power_mw,
        )
        extra = {k: v for k, v in values.items() if k in ("status", "capacity_mwh")}
        return Reading(
            battery_id=self.config.battery_id,
            soc_percent=values["soc_percent"],
            power_mw=values["power_mw"],
            temperature_c=values["temperature_c"],
            at=time.time(),
            source="modbus",
            extra=extra,
        )


async def test_connection(config: ModbusConfig | Mapping[str, Any]) -> dict[str, Any]:
    """Connect, read the map once, and report; raises the typed TelemetryError on failure."""
    source = ModbusSource(config)
    started = time.perf_counter()
    try:
        reading = await source.read()
    finally:
        with contextlib.suppress(Exception):
            await source.close()
    return {
        "ok": True,
        "transport": "modbus",
        "host": source.config.host,
        "port": source.config.port,
        "unit_id": source.map.unit_id,
        "values": {
            "soc_percent": reading.soc_percent,
            "power_mw": reading.power_mw,
            "temperature_c": reading.temperature_c,
            **reading.extra,
        },
        "requests": source.requests_sent,
        "latency_ms": round((time.perf_counter() - started) * 1000.0, 2),
    }


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
