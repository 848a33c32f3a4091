"""Telemetry configuration: save, load (secrets masked) and live connection tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

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


async def _stored(service, battery_id: str) -> tuple[TelemetryConfig, int, float | None]:
    row = service.batteries.get(battery_id)
    if row is None:
        raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
    saved = await asyncio.to_thread(service.store.load_telemetry_config, battery_id)
    if saved is None:
        default = TelemetryConfig(
            battery_id=battery_id,
            rated_power_mw=row["power_mw"],
            interval_s=service.settings.bess_update_interval,
        )
        return default, 0, None
    config = TelemetryConfig.model_validate(orjson.loads(saved["config"]))
    return config, saved["version"], saved["updated_at"]


def _out(config: TelemetryConfig, version: int, updated_at: float | None, masked=True) -> dict:
    return {
        "battery_id": config.battery_id,
        "version": version,
        "updated_at": iso(updated_at),
        "config": config.masked() if masked else config.secret_json(),
    }


@router.post(
    "/api/config/save",
    responses=ERRORS,
    summary="Validate and store a battery's telemetry configuration; the running telemetry "
    "service applies it within seconds. A masked password (********) keeps the stored one",
)
async def save(body: TelemetryConfig, admin: Admin, service: Service):
    previous, _, _ = await _stored(service, body.battery_id)
    try:
        config = load(body.secret_json(), previous)
    except ConfigInvalid as exc:
        raise Reject("INVALID_CONFIG", exc.message) from None
    now = time.time()
    version = await asyncio.to_thread(
        service.store.save_telemetry_config,
        config.battery_id,
        orjson.dumps(config.secret_json()).decode(),
        now,
    )
    service.bus.publish(
        {"type": "config", "data": {"battery_id": config.battery_id, "version": version}}
    )
    return json_response(_out(config, version, now))


@router.get(
    "/api/config/load",
    responses=ERRORS,
    summary="A battery's telemetry configuration, secrets masked (version 0: not saved yet)",
)
async def load_config(account: Reader, service: Service, battery_id: str = "default"):
    return json_response(_out(*await _stored(service, battery_id)))


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
    summary="The configuration with its secrets, for the telemetry service (telemetry role)",
)
async def service_config(account: TelemetrySender, service: Service, battery_id: str | None = None):
    battery_id = telemetry_battery(account, battery_id)
    return json_response(_out(*await _stored(service, battery_id), masked=False))


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
            f"{3 * service.settings.bess_update_interval:g} s; POST it to /api/bess/telemetry "
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
        previous, _, _ = await _stored(service, body.config.battery_id)
        try:
            config = load(body.config.secret_json(), previous)
        except ConfigInvalid as exc:
            raise Reject("INVALID_CONFIG", exc.message) from None
    else:
        config, _, _ = await _stored(service, "default")
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
