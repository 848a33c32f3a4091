"""Device presets: one JSON file per device family in this folder, read by one loader.

A preset is data (OpenEMS-style): a register map for the generic Modbus reader, plus where that
map comes from (``source``), what it cannot do (``limits``), and for the simulator a realistic
size of the battery. Adding a device is adding a file here; no code changes.

A preset whose ``transport`` is not ``modbus`` (the Tesla Powerwall, which has no public Modbus
interface) carries no map; it documents the interface it does have.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..model import ConfigInvalid, validated
from ..registers import RegisterMap


class SimulatorHint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    capacity_mwh: float = Field(gt=0)
    power_mw: float = Field(gt=0)


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    transport: Literal["modbus", "https"]
    source: str = Field(min_length=10, description="the document the map comes from")
    notes: str = ""
    limits: list[str] = Field(default_factory=list)
    simulator: SimulatorHint | None = None
    map: RegisterMap | None = None
    https: dict[str, Any] | None = None
    no_dispatch: str | None = Field(
        None,
        description="why writing this map's setpoint_mw does not steer a real device (dispatch "
        "is refused with it); null when it does",
    )

    @model_validator(mode="after")
    def _transport_matches(self) -> Preset:
        if self.transport == "modbus" and self.map is None:
            raise ValueError("a modbus preset needs a 'map'")
        if self.transport != "modbus" and self.map is not None:
            raise ValueError(f"a {self.transport} preset must not carry a register map")
        return self


def _files() -> dict[str, Any]:
    folder = resources.files(__name__)
    return {p.name[: -len(".json")]: p for p in folder.iterdir() if p.name.endswith(".json")}


def list_presets() -> list[str]:
    return sorted(_files())


def parse_preset(data: Any, origin: str = "preset") -> Preset:
    return validated(Preset, data, origin)


@cache
def load_preset(name: str) -> Preset:
    """The named preset, validated; ConfigInvalid naming the known ones otherwise."""
    files = _files()
    if name not in files:
        raise ConfigInvalid(f"unknown preset {name!r}; known: {', '.join(sorted(files))}")
    try:
        data = json.loads(files[name].read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigInvalid(f"preset {name}: not valid JSON ({exc})") from None
    preset = parse_preset(data, f"preset {name}")
    if preset.name != name:
        raise ConfigInvalid(f"preset file {name}.json names itself {preset.name!r}")
    return preset


def describe() -> list[dict[str, Any]]:
    """What the UI lists: every preset with its transport, source and limits."""
    out = []
    for name in list_presets():
        p = load_preset(name)
        out.append(
            {
                "name": p.name,
                "title": p.title,
                "transport": p.transport,
                "source": p.source,
                "notes": p.notes,
                "limits": p.limits,
                "modbus": p.map is not None,
                "map": p.map.model_dump(mode="json", exclude_none=True) if p.map else None,
            }
        )
    return out
