"""Modbus register maps as data: the model, its validation, a pure read planner and the codec.

A map says, per reading field, where the value lives (address, holding or input table), how it is
encoded (u16, s16, u32, s32, f32; word order) and how raw numbers become our units (a fixed
``scale``, optionally times ``10 ** sf`` read from a SunSpec scale-factor register). Converting W
to MW is just ``scale: 1e-6``; a device whose sign convention is "+ = charging" gets a negative
scale, so every map yields our convention (+ discharging, − charging).

Nothing here does I/O. ``plan_reads`` turns a map into the fewest read requests the protocol
allows; ``decode`` turns the words those requests returned into values; ``encode_values`` is the
exact inverse, used by the simulator so that what it serves is what the reader decodes.

SunSpec maps name a ``model`` per field; their ``address`` is then the offset inside that model
(ID at offset 0, L at 1, first point at 2, as in the SunSpec model tables). ``resolve_sunspec``
turns them into absolute addresses once the device's model chain has been discovered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pymodbus.client.mixin import ModbusClientMixin

from .model import BadPayload, ConfigInvalid, OutOfRange, validated
from .validation import number

Table = Literal["holding", "input"]
DataType = Literal["u16", "s16", "u32", "s32", "f32"]
WordOrder = Literal["big", "little"]

MAX_READ = 125  # registers per "read holding/input registers" request (Modbus spec, FC 3/4)
READING_FIELDS = ("soc_percent", "power_mw", "temperature_c", "status", "capacity_mwh")

_DT = ModbusClientMixin.DATATYPE
PYMODBUS_TYPE: dict[str, _DT] = {
    "u16": _DT.UINT16,
    "s16": _DT.INT16,
    "u32": _DT.UINT32,
    "s32": _DT.INT32,
    "f32": _DT.FLOAT32,
}
WORDS = {"u16": 1, "s16": 1, "u32": 2, "s32": 2, "f32": 2}
INT_RANGE = {
    "u16": (0, 0xFFFF),
    "s16": (-0x8000, 0x7FFF),
    "u32": (0, 0xFFFFFFFF),
    "s32": (-0x80000000, 0x7FFFFFFF),
}
# "Not implemented / not available" raw values used by SunSpec and SMA alike; a device sends them
# instead of a number, so they must never be scaled into a plausible-looking value.
SENTINELS = {"u16": 0xFFFF, "s16": -0x8000, "u32": 0xFFFFFFFF, "s32": -0x80000000}
SF_RANGE = (-10, 10)  # SunSpec: sunssf is an s16 in −10…10


class FieldMap(BaseModel):
    """Where one value lives and how it is scaled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: int = Field(ge=0, le=65535)
    table: Table = "holding"
    type: DataType = "u16"
    word_order: WordOrder = "big"
    scale: float = 1.0
    scale_factor: int | None = Field(None, ge=0, le=65535, description="sunssf register")
    model: int | None = Field(None, ge=1, le=65534, description="SunSpec model id")
    unit: str = Field("", description="the raw unit on the device, for documentation")

    @field_validator("scale")
    @classmethod
    def _usable_scale(cls, v: float) -> float:
        if not math.isfinite(v) or v == 0:
            raise ValueError("scale must be a finite, non-zero number")
        return v

    @model_validator(mode="after")
    def _fits(self) -> FieldMap:
        if self.address + WORDS[self.type] > 65536:
            raise ValueError(f"a {self.type} at {self.address} runs past register 65535")
        return self

    @property
    def words(self) -> int:
        return WORDS[self.type]


class SunSpecDiscovery(BaseModel):
    """Where to look for the ``SunS`` marker, and the model lengths the simulator lays out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bases: tuple[int, ...] = (40000, 50000, 0)
    model_lengths: dict[int, int] = Field(default_factory=dict)


class RegisterMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_id: int = Field(1, ge=0, le=255)
    soc_percent: FieldMap
    power_mw: FieldMap
    temperature_c: FieldMap
    status: FieldMap | None = None
    capacity_mwh: FieldMap | None = None
    # A writable power setpoint (MW, + discharge); the simulator follows it.
    setpoint_mw: FieldMap | None = None
    # Unused registers between two wanted ones that may still be read in the same request:
    # reading a few extra words is cheaper than a round trip, but some devices refuse
    # requests that touch unassigned registers (then 0).
    max_gap: int = Field(16, ge=0, le=MAX_READ - 2)
    max_registers: int = Field(MAX_READ, ge=2, le=MAX_READ)
    sentinels: bool = True
    sunspec: SunSpecDiscovery | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RegisterMap:
        seen: dict[tuple[str, int], str] = {}
        for name, f in self.fields(with_setpoint=True).items():
            if f.model is not None and self.sunspec is None:
                raise ValueError(f"{name}: 'model' needs a 'sunspec' section")
            for a in range(f.address, f.address + f.words):
                key = (f"{f.model}:{f.table}", a)
                if key in seen:
                    raise ValueError(f"{name} overlaps {seen[key]} at register {a}")
                seen[key] = name
        for name, f in self.fields(with_setpoint=True).items():
            sf = f.scale_factor
            if sf is not None and seen.get((f"{f.model}:{f.table}", sf)) is not None:
                raise ValueError(f"{name}: scale factor register {sf} is a value register")
        if self.setpoint_mw is not None and self.setpoint_mw.table != "holding":
            raise ValueError(
                "setpoint_mw must be a holding register (input registers are read-only)"
            )
        return self

    def fields(self, with_setpoint: bool = False) -> dict[str, FieldMap]:
        out = {n: getattr(self, n) for n in READING_FIELDS if getattr(self, n) is not None}
        if with_setpoint and self.setpoint_mw is not None:
            out["setpoint_mw"] = self.setpoint_mw
        return out

    @property
    def needs_discovery(self) -> bool:
        return any(f.model is not None for f in self.fields(with_setpoint=True).values())


def load_map(data: Mapping[str, object] | RegisterMap) -> RegisterMap:
    """A validated map, or ConfigInvalid naming every wrong field."""
    return validated(RegisterMap, data, "register map")


# -- SunSpec ------------------------------------------------------------------------------------
SUNS_MARKER = (0x5375, 0x6E53)  # "SunS"
SUNSPEC_END = 0xFFFF


def resolve_sunspec(rmap: RegisterMap, model_starts: Mapping[int, int]) -> RegisterMap:
    """Absolute addresses for a map written as model offsets, given where each model's ID
    register was found. ConfigInvalid when the device lacks a model the map needs."""

    def absolute(name: str, f: FieldMap | None) -> FieldMap | None:
        if f is None or f.model is None:
            return f
        if f.model not in model_starts:
            found = ", ".join(str(m) for m in sorted(model_starts)) or "none"
            raise ConfigInvalid(
                f"{name}: the device has no SunSpec model {f.model} (found: {found})"
            )
        base = model_starts[f.model]
        sf = None if f.scale_factor is None else base + f.scale_factor
        return f.model_copy(update={"address": base + f.address, "scale_factor": sf, "model": None})

    update = {n: absolute(n, getattr(rmap, n)) for n in (*READING_FIELDS, "setpoint_mw")}
    return rmap.model_copy(update=update)


# -- planning -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadRequest:
    table: Table
    address: int
    count: int


def _spans(rmap: RegisterMap) -> dict[Table, list[tuple[int, int]]]:
    """Per table, the [start, end) ranges that must each come back in one piece."""
    out: dict[Table, list[tuple[int, int]]] = {"holding": [], "input": []}
    for name, f in rmap.fields().items():
        if f.model is not None:
            raise ConfigInvalid(f"{name}: SunSpec offsets must be resolved before reading")
        out[f.table].append((f.address, f.address + f.words))
        if f.scale_factor is not None:
            out[f.table].append((f.scale_factor, f.scale_factor + 1))
    return out


def plan_reads(rmap: RegisterMap) -> list[ReadRequest]:
    """The fewest requests covering every register the map needs: neighbours closer than
    ``max_gap`` share a request, no request exceeds ``max_registers``, and a multi-word value is
    never split between two requests (its halves could come from different moments)."""
    plan: list[ReadRequest] = []
    for table, spans in _spans(rmap).items():
        start = end = -1
        for a, b in sorted(set(spans)):
            if start >= 0 and a - end <= rmap.max_gap and max(b, end) - start <= rmap.max_registers:
                end = max(end, b)
                continue
            if start >= 0:
                plan.append(ReadRequest(table, start, end - start))
            start, end = a, b
        if start >= 0:
            plan.append(ReadRequest(table, start, end - start))
    return plan


Words = dict[tuple[Table, int], int]  # (table, address) -> 16-bit register value


def words_from_reads(reads: Iterable[tuple[ReadRequest, list[int]]]) -> Words:
    out: Words = {}
    for req, regs in reads:
        if len(regs) < req.count:
            raise BadPayload(
                f"{req.table} {req.address}: asked for {req.count} registers, got {len(regs)}"
            )
        for i in range(req.count):
            out[(req.table, req.address + i)] = regs[i]
    return out


# -- codec --------------------------------------------------------------------------------------
def scale_factor_of(name: str, f: FieldMap, words: Words) -> int:
    if f.scale_factor is None:
        return 0
    raw = ModbusClientMixin.convert_from_registers([words[(f.table, f.scale_factor)]], _DT.INT16)
    assert isinstance(raw, int)
    if not SF_RANGE[0] <= raw <= SF_RANGE[1]:
        raise BadPayload(f"{name}: scale factor {raw} at {f.scale_factor} is not in −10…10")
    return raw


def decode_field(name: str, f: FieldMap, words: Words, sentinels: bool = True) -> float:
    regs = [words[(f.table, f.address + i)] for i in range(f.words)]
    raw = ModbusClientMixin.convert_from_registers(regs, PYMODBUS_TYPE[f.type], f.word_order)
    if sentinels and f.type in SENTINELS and raw == SENTINELS[f.type]:
        raise BadPayload(f"{name}: the device reports 'not available' ({raw:#x} at {f.address})")
    value = number(name, raw)  # f32 NaN/inf stops here
    return number(name, value * f.scale * 10.0 ** scale_factor_of(name, f, words))


def decode(rmap: RegisterMap, words: Words) -> dict[str, float]:
    """Every mapped field in our units; BadPayload for NaN, sentinels or a wild scale factor."""
    return {n: decode_field(n, f, words, rmap.sentinels) for n, f in rmap.fields().items()}


def encode_field(name: str, f: FieldMap, value: float, scale_factor: int = 0) -> list[int]:
    """The registers a device would hold for ``value`` (our units), the inverse of decode."""
    raw: float = value / (f.scale * 10.0**scale_factor)
    if f.type == "f32":
        return ModbusClientMixin.convert_to_registers(raw, _DT.FLOAT32, f.word_order)
    iraw = round(raw)
    lo, hi = INT_RANGE[f.type]
    if not lo <= iraw <= hi:
        raise OutOfRange(f"{name}: {value:g} needs raw {iraw}, outside {f.type} ({lo}…{hi})")
    return ModbusClientMixin.convert_to_registers(iraw, PYMODBUS_TYPE[f.type], f.word_order)


def choose_scale_factor(f: FieldMap, max_abs: float) -> int:
    """The finest sunssf whose range still holds ``max_abs`` (what a device maker would pick)."""
    if f.type == "f32":
        return 0
    lo, hi = INT_RANGE[f.type]
    limit = min(-lo if lo else hi, hi) - 1  # keep clear of the sentinel values
    for sf in range(SF_RANGE[0], SF_RANGE[1] + 1):
        if abs(max_abs / (f.scale * 10.0**sf)) <= limit:
            return sf
    raise OutOfRange(f"{max_abs:g} does not fit a {f.type} even with scale factor 10")


def encode_values(
    rmap: RegisterMap, values: Mapping[str, float], scale_factors: Mapping[str, int] | None = None
) -> Words:
    """Registers for the given field values (and their sunssf registers)."""
    sfs = scale_factors or {}
    out: Words = {}
    for name, value in values.items():
        f = rmap.fields(with_setpoint=True)[name]
        sf = sfs.get(name, 0) if f.scale_factor is not None else 0
        for i, word in enumerate(encode_field(name, f, value, sf)):
            out[(f.table, f.address + i)] = word
        if f.scale_factor is not None:
            sf_words = ModbusClientMixin.convert_to_registers(sf, _DT.INT16)
            out[(f.table, f.scale_factor)] = sf_words[0]
    return out
