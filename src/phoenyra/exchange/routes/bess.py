"""Battery status (read by risk checks) and battery limits."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from ...core.errors import Reject
from ...core.wire import iso
from .. import dispatch
from ..deps import (
    Admin,
    AnyAccount,
    Service,
    TelemetrySender,
    json_response,
    parse_time,
    telemetry_battery,
)
from .models import (
    BatteryIn,
    BatteryLimitsIn,
    BatteryReading,
    BatteryStatus,
    DispatchPlan,
    TelemetryIn,
)
from .orders import ERRORS

router = APIRouter(tags=["bess"])


async def _receive(body: TelemetryIn, account, service):
    battery_id = telemetry_battery(account, body.battery_id)
    if body.source == "rest" and not service.rest_push_enabled(battery_id):
        raise Reject(
            "REST_PUSH_DISABLED",
            f"REST push is switched off in battery {battery_id!r}'s telemetry configuration, "
            "so readings pushed over REST are refused; the status is unchanged. Tick REST push "
            "on the telemetry page (or in POST /api/config/save) to accept them.",
            409,
        )
    now = time.time()
    at = body.timestamp.timestamp() if body.timestamp else now
    if at > now + 60:
        raise Reject("INVALID_TELEMETRY", "timestamp is in the future.")
    # A device clock up to a minute ahead: the reading counts as of its arrival. Kept at its
    # own time, it would make every reading of the next minute look older (STALE_TELEMETRY).
    at = min(at, now)
    status = await service.record_battery_status(
        battery_id, body.soc_percent, body.power_mw, body.temperature_c, at, body.source
    )
    return json_response(status, 202)


@router.post(
    "/api/bess/telemetry",
    status_code=202,
    response_model=BatteryStatus,
    responses=ERRORS,
    summary="Receive telemetry from an external system",
)
async def bess_telemetry(body: TelemetryIn, account: TelemetrySender, service: Service):
    return await _receive(body, account, service)


@router.post(
    "/api/telemetry",
    status_code=202,
    response_model=BatteryStatus,
    responses=ERRORS,
    summary="Send BESS telemetry (same contract as /api/bess/telemetry)",
)
async def telemetry(body: TelemetryIn, account: TelemetrySender, service: Service):
    return await _receive(body, account, service)


def _status(service, battery_id: str):
    return json_response(service.battery_status(battery_id))


@router.get(
    "/api/bess/status",
    response_model=BatteryStatus,
    responses=ERRORS,
    summary="Current status of a battery",
)
async def bess_status(account: AnyAccount, service: Service, battery_id: str = "default"):
    return _status(service, battery_id)


@router.get(
    "/api/bess-status",
    response_model=BatteryStatus,
    responses=ERRORS,
    summary="Alias of /api/bess/status (the spec's name)",
)
async def bess_status_alias(account: AnyAccount, service: Service, battery_id: str = "default"):
    return _status(service, battery_id)


@router.get(
    "/api/bess/dispatch",
    response_model=DispatchPlan,
    responses=ERRORS,
    summary="The power the battery must run at to deliver what its accounts have traded",
    description="Every fill of the battery's accounts as power over time, as the risk check "
    "counts it: a quarter-hour product over its quarter-hour, a continuous-book fill at rated "
    "power from the trade, one after another. The telemetry service writes it to the battery's "
    "power setpoint when the Modbus configuration has `dispatch` on; a site EMS may read it.",
)
async def bess_dispatch(account: AnyAccount, service: Service, battery_id: str = "default"):
    # The plan is what the battery's accounts have traded: theirs, its telemetry's, an admin's.
    if account.role == "telemetry":
        battery_id = telemetry_battery(account, battery_id)
    elif account.role != "admin" and account.battery_id != battery_id:
        raise Reject(
            "FORBIDDEN",
            f"This account does not trade for battery {battery_id!r}; its dispatch plan shows "
            "what that battery's accounts have traded.",
            403,
        )
    row = service.batteries.get(battery_id)
    if row is None:
        raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
    now = time.time()
    intervals, limited = dispatch.plan(service.risk.battery(battery_id), row["power_mw"], now)
    return json_response(
        {
            "battery_id": battery_id,
            "generated_at": iso(now),
            "power_mw": dispatch.power_at(intervals, now),
            "rated_power_mw": row["power_mw"],
            "limited": limited,
            "intervals": [
                {"start": iso(a), "end": iso(b), "power_mw": mw} for a, b, mw in intervals
            ],
        }
    )


@router.put(
    "/api/batteries/{battery_id}",
    response_model=BatteryStatus,
    responses=ERRORS,
    summary="Set a battery's capacity, rated power and SoC limits",
)
async def set_limits(battery_id: str, body: BatteryLimitsIn, admin: Admin, service: Service):
    values = {k: v for k, v in body.model_dump().items() if v is not None}
    if not values:
        raise Reject("VALIDATION_ERROR", "Send at least one field to change.")
    return json_response(await service.update_battery_limits(battery_id, values))


@router.get(
    "/api/batteries",
    response_model=list[BatteryStatus],
    responses=ERRORS,
    summary="Every battery of the fleet with its current status",
)
async def list_batteries(account: AnyAccount, service: Service):
    return json_response(service.battery_statuses())


@router.post(
    "/api/batteries",
    status_code=201,
    response_model=BatteryStatus,
    responses=ERRORS,
    summary="Add a battery to the fleet (limits default to the BESS_* settings)",
)
async def create_battery(body: BatteryIn, admin: Admin, service: Service):
    values = {k: v for k, v in body.model_dump().items() if v is not None and k != "battery_id"}
    return json_response(await service.create_battery(body.battery_id, values), 201)


@router.get(
    "/api/bess/history",
    response_model=list[BatteryReading],
    responses=ERRORS,
    summary="Accepted readings of a battery for charts, oldest first",
)
async def bess_history(
    account: AnyAccount,
    service: Service,
    battery_id: str = "default",
    start: Annotated[str | None, Query(description="ISO 8601 UTC, inclusive")] = None,
    end: Annotated[str | None, Query(description="ISO 8601 UTC, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="The newest this many")] = 1000,
):
    rows = await service.battery_history(
        battery_id, parse_time("start", start), parse_time("end", end), limit
    )
    return json_response(rows)
