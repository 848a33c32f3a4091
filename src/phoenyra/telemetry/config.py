"""The telemetry configuration an operator edits (web app /config, ``POST /api/config/save``):
one battery's Modbus TCP, MQTT and REST interfaces. Stored by the exchange, applied by the
running telemetry service without a restart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .model import Host, validated
from .registers import RegisterMap
from .sources.modbus import ModbusConfig
from .sources.modbus import load_config as load_modbus
from .sources.mqtt import MqttConfig
from .sources.mqtt import load_config as load_mqtt
from .sources.tesla import TeslaConfig

MASK = "********"


class ModbusInterface(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    host: Host = "127.0.0.1"
    port: int = Field(502, ge=1, le=65535)
    unit_id: int | None = Field(None, ge=0, le=255, description="overrides the map's unit id")
    preset: str | None = Field("generic", description="a preset name, or null with a custom map")
    map: RegisterMap | None = Field(None, description="a custom register map (preset null)")
    timeout_s: float = Field(2.0, gt=0, le=30)
    dispatch: bool = Field(
        False,
        description="write the power the battery's trades ask for (the exchange's dispatch "
        "plan) to the device's power setpoint register",
    )

    def source_config(self, battery_id: str, rated_power_mw: float) -> ModbusConfig:
        return load_modbus(
            {
                "host": self.host,
                "port": self.port,
                "battery_id": battery_id,
                "preset": self.preset,
                "map": self.map,
                "unit_id": self.unit_id,
                "rated_power_mw": rated_power_mw,
                "timeout_s": self.timeout_s,
                "dispatch": self.dispatch,
            }
        )


class RestInterface(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True


class TelemetryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    battery_id: str = Field("default", min_length=1, max_length=64)
    rated_power_mw: float = Field(1.0, gt=0, le=100_000, description="for validating readings")
    interval_s: float = Field(30.0, ge=0.2, le=3600, description="Modbus poll interval")
    modbus: ModbusInterface = ModbusInterface()
    mqtt: MqttConfig = MqttConfig()
    rest: RestInterface = RestInterface()
    https: TeslaConfig | None = Field(
        None, description="a Tesla Powerwall over its local HTTPS API (null: none)"
    )

    @model_validator(mode="after")
    def _one_dispatcher(self) -> TelemetryConfig:
        modbus, mqtt = self.modbus, self.mqtt
        if modbus.enabled and modbus.dispatch and mqtt.enabled and mqtt.dispatch:
            raise ValueError(
                "dispatch is on for both Modbus and MQTT: two writers would fight over one "
                "battery's power; dispatch through one interface only"
            )
        return self

    @model_validator(mode="after")
    def _sources_agree(self) -> TelemetryConfig:
        # The MQTT source validates against the battery it reports for.
        same = {"battery_id": self.battery_id, "rated_power_mw": self.rated_power_mw}
        self.mqtt = self.mqtt.model_copy(update=same)
        if self.https is not None:
            self.https = self.https.model_copy(update=same)
        return self

    def modbus_source(self) -> ModbusConfig | None:
        if not self.modbus.enabled:
            return None
        return self.modbus.source_config(self.battery_id, self.rated_power_mw)

    def mqtt_source(self) -> MqttConfig | None:
        return load_mqtt(self.mqtt) if self.mqtt.enabled else None

    def https_source(self) -> TeslaConfig | None:
        return self.https

    def enabled_interfaces(self) -> list[str]:
        """The interfaces through which readings can arrive (empty: the battery gets none)."""
        on = {
            "modbus": self.modbus.enabled,
            "mqtt": self.mqtt.enabled,
            "https": self.https is not None,
            "rest": self.rest.enabled,
        }
        return [name for name, enabled in on.items() if enabled]

    def check(self) -> None:
        """Everything the sources would refuse at start, refused now (presets exist, maps are
        valid, TLS files load)."""
        if self.modbus.enabled:
            self.modbus_source().check()
        if self.mqtt.enabled:
            from .sources.mqtt import tls_context

            tls_context(self.mqtt.tls)

    def masked(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        out["mqtt"] = self.mqtt.masked()
        if self.https is not None:
            out["https"] = self.https.masked()
        return out

    def secret_json(self) -> dict[str, Any]:
        """The full configuration, secrets included (stored; sent to the telemetry service)."""
        out = self.model_dump(mode="json")
        pw = self.mqtt.password
        out["mqtt"]["password"] = pw.get_secret_value() if pw is not None else None
        if self.https is not None and self.https.password is not None:
            out["https"]["password"] = self.https.password.get_secret_value()
        return out


def from_sources(
    battery_id: str,
    *,
    rated_power_mw: float,
    interval_s: float,
    modbus: ModbusConfig | None,
    mqtt: MqttConfig,
    rest: bool = True,
) -> TelemetryConfig:
    """The configuration a telemetry service runs from its start-up settings (BESS_* variables),
    in the form the configuration API loads and saves, so an operator sees what is running."""
    interface = ModbusInterface()
    if modbus is not None:
        interface = ModbusInterface(
            enabled=True,
            host=modbus.host,
            port=modbus.port,
            unit_id=modbus.unit_id,
            preset=modbus.preset,
            map=modbus.map,
            timeout_s=modbus.timeout_s,
            dispatch=modbus.dispatch,
        )
    return TelemetryConfig(
        battery_id=battery_id,
        rated_power_mw=rated_power_mw,
        interval_s=interval_s,
        modbus=interface,
        mqtt=mqtt,
        rest=RestInterface(enabled=rest),
    )


def load(data: Mapping[str, Any], previous: TelemetryConfig | None = None) -> TelemetryConfig:
    """Validate; a masked password ("********") keeps the previously stored one."""
    data = dict(data)
    for section in ("mqtt", "https"):
        part = dict(data.get(section) or {})
        if part.get("password") == MASK:
            before = getattr(previous, section, None) if previous is not None else None
            old = before.password if before is not None else None
            part["password"] = old.get_secret_value() if old is not None else None
            data[section] = part
    config = validated(TelemetryConfig, data, "telemetry configuration")
    config.check()
    return config
