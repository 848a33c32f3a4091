"""Telemetry configuration: save, load (secrets masked) and live connection tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal, NamedTuple

import orjson
from fastapi import APIRouter
from pydantic import BaseModel, Field

from ...core.errors import Reject
from ...core.wire import iso
from ...telemetry.config import TelemetryConfig, load
from ...telemetry.model import ConfigInvalid, TelemetryError
from ..deps import Admin, Reader, Service, TelemetrySender, json_response, telemetry_battery
from .orders import ERRORS

router = APIRouter(tags=["telemetry configuration"])
TEST_TIMEOUT_S = 15.0


class ConfigTestIn(BaseModel):
    interface: Literal["modbus", "mqtt", "rest", "https"] = Field(
        description="Which interface to test (https: a Tesla Powerwall's local API)"
    )
    config: TelemetryConfig | None = Field(
        None, description="The configuration to test (unsaved edits); default: the saved one"
    )
    wait_s: float = Field(
        10.0, ge=0.5, le=14.0, description="MQTT: how long to wait for a message per topic, s"
    )


class Stored(NamedTuple):
    config: TelemetryConfig
    version: int  # 0: nothing saved yet
    updated_at: float | None
    # "saved" (through this API), "environment" (what the telemetry service runs from its BESS_*
    # variables, as it reported it) or "default" (nothing saved and nothing reported).
    origin: str


async def _stored(service, battery_id: str) -> Stored:
    row = service.batteries.get(battery_id)
    if row is None:
        raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
    saved = await asyncio.to_thread(service.store.load_telemetry_config, battery_id)
    if saved is None:
        reported = service.environment_report(battery_id)
        if reported is not None:
            config_json, at = reported
            return Stored(TelemetryConfig.model_validate(config_json), 0, at, "environment")
        default = TelemetryConfig(
            battery_id=battery_id,
            rated_power_mw=row["power_mw"],
            interval_s=service.settings.bess_update_interval,
        )
        return Stored(default, 0, None, "default")
    config = TelemetryConfig.model_validate(orjson.loads(saved["config"]))
    return Stored(config, saved["version"], saved["updated_at"], "saved")


def _out(stored: Stored, masked=True) -> dict:
    config = stored.config
    return {
        "battery_id": config.battery_id,
        "version": stored.version,
        "origin": stored.origin,
        "updated_at": iso(stored.updated_at),
        "config": config.masked() if masked else config.secret_json(),
    }


def _no_interface(config: TelemetryConfig, service) -> Reject | None:
    if config.enabled_interfaces():
        return None
    stale_s = service.settings.bess_status_max_age_s
    return Reject(
        "NO_TELEMETRY_INTERFACE",
        f"No interface is enabled (Modbus TCP, MQTT, Tesla gateway or REST push): battery "
        f"{config.battery_id!r} would get no readings, go offline within {stale_s:g} s and have "
        "its orders refused. Enable the interface the battery is read through (or REST push if "
        "a device sends its readings); the configuration in use is unchanged.",
    )


# The interfaces a telemetry service reads a battery over (REST readings are pushed by a device).
READ_OVER = {"modbus": "Modbus TCP", "mqtt": "MQTT", "https": "the Tesla gateway (HTTPS)"}


def _stops_live_source(config: TelemetryConfig, service) -> Reject | None:
    """A configuration that switches off the interface the battery is being read over now."""
    status = service.battery_status(config.battery_id)
    source = status.get("source")
    if not status.get("online") or source not in READ_OVER:
        return None
    if source in config.enabled_interfaces():
        return None
    stale_s = service.settings.bess_status_max_age_s
    return Reject(
        "SOURCE_IN_USE",
        f"Battery {config.battery_id!r} is read over {READ_OVER[source]} now, and this "
        f"configuration switches it off: unless another interface delivers its readings, the "
        f"battery goes offline within {stale_s:g} s and its orders are refused. Send it again "
        "with confirm_offline=true to save it anyway; nothing was changed.",
        409,
    )


@router.post(
    "/api/config/save",
    responses=ERRORS,
    summary="Validate and store a battery's telemetry configuration; the running telemetry "
    "service applies it within seconds. A masked password (********) keeps the stored one. "
    "Refused (422 INVALID_CONFIG, or NO_TELEMETRY_INTERFACE when no interface is enabled: the "
    "battery would go offline) without changing anything; 409 SOURCE_IN_USE when it switches off "
    "the interface the battery is being read over, unless confirm_offline=true",
)
async def save(
    body: TelemetryConfig, admin: Admin, service: Service, confirm_offline: bool = False
):
    previous = (await _stored(service, body.battery_id)).config
    try:
        config = load(body.secret_json(), previous)
    except ConfigInvalid as exc:
        raise Reject("INVALID_CONFIG", exc.message) from None
    if (refusal := _no_interface(config, service)) is not None:
        raise refusal
    if not confirm_offline and (refusal := _stops_live_source(config, service)) is not None:
        raise refusal
    now = time.time()
    version = await asyncio.to_thread(
        service.store.save_telemetry_config,
        config.battery_id,
        orjson.dumps(config.secret_json()).decode(),
        now,
    )
    service.rest_push_saved[config.battery_id] = config.rest.enabled
    service.bus.publish(
        {"type": "config", "data": {"battery_id": config.battery_id, "version": version}}
    )
    return json_response(_out(Stored(config, version, now, "saved")))


@router.get(
    "/api/config/load",
    responses=ERRORS,
    summary="A battery's telemetry configuration, secrets masked. Version 0: nothing saved yet; "
    "origin says whether it is the one the telemetry service runs from its environment (BESS_*) "
    "or the defaults (no telemetry service has reported)",
)
async def load_config(account: Reader, service: Service, battery_id: str = "default"):
    return json_response(_out(await _stored(service, battery_id)))


@router.get(
    "/api/telemetry/presets",
    responses=ERRORS,
    summary="Device presets: name, title, transport, the document the register map comes from, "
    "its limits, and the register map (null for a preset that is not Modbus)",
)
async def presets(account: Reader):
    from ...telemetry.presets import describe

    return json_response(describe())


@router.get(
    "/api/telemetry/config",
    responses=ERRORS,
    summary="The configuration with its secrets, for the telemetry service (telemetry role). "
    "Version 0: nothing saved; the service keeps running on its environment, and the one it "
    "reported from there comes back with its secrets masked",
)
async def service_config(account: TelemetrySender, service: Service, battery_id: str | None = None):
    battery_id = telemetry_battery(account, battery_id)
    service.telemetry_asked(battery_id)
    stored = await _stored(service, battery_id)
    # Secrets only of a saved configuration, which the service applies. A reported one came
    # from the service itself, and other telemetry keys (devices pushing readings) must not
    # read the broker password it was started with.
    return json_response(_out(stored, masked=stored.origin != "saved"))


@router.put(
    "/api/telemetry/config/environment",
    responses=ERRORS,
    summary="The telemetry service reports the configuration it runs from its environment "
    "(BESS_*) while none is saved, so /api/config/load shows it (telemetry role)",
)
async def report_environment(body: TelemetryConfig, account: TelemetrySender, service: Service):
    battery_id = telemetry_battery(account, body.battery_id)
    if battery_id not in service.batteries:
        raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
    service.report_environment(battery_id, body.secret_json())
    return json_response(_out(await _stored(service, battery_id)))


async def _test(interface: str, config: TelemetryConfig, service, wait_s: float) -> dict[str, Any]:
    if interface == "modbus":
        from ...telemetry.sources.modbus import test_connection

        return await test_connection(config.modbus.source_config(config.battery_id, 1e9))
    if interface == "mqtt":
        from ...telemetry.sources.mqtt import test_connection

        mqtt = config.mqtt.model_copy(update={"enabled": True, "rated_power_mw": 1e9})
        return await test_connection(mqtt, timeout=wait_s)
    if interface == "https":
        from ...telemetry.sources.tesla import test_connection

        if config.https is None:
            raise ConfigInvalid("no https (Tesla Powerwall) interface is configured")
        return await test_connection(config.https.model_copy(update={"rated_power_mw": 1e9}))
    status = service.battery_status(config.battery_id)
    if status["source"] != "rest" or not status["online"]:
        from ...telemetry.model import Timeout

        raise Timeout(
            f"no reading of {config.battery_id!r} arrived over REST in the last "
            f"{service.settings.bess_status_max_age_s:g} s; POST it to /api/bess/telemetry "
            "with the telemetry key (X-API-Key)"
        )
    return {"ok": True, "transport": "rest", "values": status, "latency_ms": None}


@router.post(
    "/api/config/test",
    responses=ERRORS,
    summary="Connect with a configuration and read the mapped values once: the values and the "
    "latency, or the precise failure (refused, timeout, illegal_address, wrong_unit_id, "
    "bad_payload, out_of_range, config_invalid)",
)
async def test(body: ConfigTestIn, admin: Admin, service: Service):
    if body.config is not None:
        # A form shows a stored password masked; testing it means testing the stored one.
        previous = (await _stored(service, body.config.battery_id)).config
        try:
            config = load(body.config.secret_json(), previous)
        except ConfigInvalid as exc:
            raise Reject("INVALID_CONFIG", exc.message) from None
    else:
        config = (await _stored(service, "default")).config
    started = time.perf_counter()
    try:
        result = await asyncio.wait_for(
            _test(body.interface, config, service, body.wait_s), TEST_TIMEOUT_S
        )
    except TelemetryError as exc:
        result = {"ok": False, "error": {"kind": exc.kind, "message": exc.message}}
    except TimeoutError:
        result = {
            "ok": False,
            "error": {"kind": "timeout", "message": f"no answer within {TEST_TIMEOUT_S:g} s"},
        }
    result.setdefault("elapsed_ms", round((time.perf_counter() - started) * 1000, 1))
    return json_response({"interface": body.interface, **result})
