"""Automatic trading: the optimiser's schedule from the exchange's prices and battery status, and
its execution as ordinary orders.

- ``POST /api/schedule/optimize``: the revenue-maximising schedule of the caller's battery over
  the prices in the price store, from the current quarter-hour on, with the orders that would
  realise it. Nothing is placed.
- ``POST /api/schedule/execute``: the same schedule (or the orders given), placed one per
  delivery quarter-hour through ``ExchangeService.place_order`` — the very path of
  ``POST /api/orders``, so the same throttle, SoC, energy and power checks — with each order's
  outcome reported.
- ``PUT/GET /api/schedule/auto``: a loop that re-optimises and re-executes when prices or SoC
  change (off until switched on; not kept across restarts).

The optimisation itself is the pure ``phoenyra.optimizer``; this module only gathers its inputs
and turns its output into orders.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ...core.errors import Reject
from ...core.markets import QUARTER_HOUR, MarketSpec
from ...core.orders import Side, TimeInForce
from ...core.wire import iso
from ...optimizer import Battery, OptimizerError, Problem, solve
from ...optimizer.orders import plan_orders, tradable_power_mw
from ..auth import Account
from ..deps import Service, Trader, json_response
from ..service import ExchangeService, OrderRequest
from .models import ErrorBody
from .orders import ERRORS

log = logging.getLogger("phoenyra.exchange.schedule")
router = APIRouter(tags=["schedule"])

MAX_HORIZON_H = 7 * 24
# Placing a schedule waits out throttling (429) at most this long in all, then reports the rest.
THROTTLE_WAIT_S = 10.0


# -- wire models ------------------------------------------------------------------------------
class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    market: str | None = Field(None, description="Market, e.g. epex_at (default MARKET)")
    battery_id: str | None = Field(
        None, description="Battery to schedule (default: the account's battery, else 'default')"
    )
    horizon_hours: float = Field(
        48, gt=0, le=MAX_HORIZON_H, description="Look at most this far ahead, hours"
    )
    soc_min_percent: float | None = Field(
        None, ge=0, le=100, description="Lowest SoC, percent (default: the battery's limit)"
    )
    soc_max_percent: float | None = Field(
        None, ge=0, le=100, description="Highest SoC, percent (default: the battery's limit)"
    )
    terminal_soc_percent: float | None = Field(
        None,
        ge=0,
        le=100,
        description="At least this SoC at the end of the horizon, percent (default: the "
        "current SoC)",
    )
    charge_efficiency: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Stored MWh per MWh bought (0–1] (default: the battery's, as the risk "
        "check counts)",
    )
    discharge_efficiency: float | None = Field(
        None,
        gt=0,
        le=1,
        description="MWh sold per MWh taken from the cells (0–1] (default: the battery's)",
    )
    degradation_cost_eur_per_mwh: float = Field(
        0, ge=0, description="Wear cost per MWh of throughput (charged + discharged), EUR/MWh"
    )
    max_cycles_per_day: float | None = Field(
        None, gt=0, description="Equivalent full cycles (discharged MWh / capacity) per 24 h"
    )
    forbid_simultaneous: bool = Field(
        False,
        description="Solve as a MILP that never charges and discharges in the same "
        "quarter-hour (matters at negative prices)",
    )
    price_margin_eur_per_mwh: float = Field(
        0,
        ge=-1000,
        le=1000,
        description="Limit price concession, EUR/MWh: a BUY's limit is forecast + margin, a "
        "SELL's forecast − margin (negative: insist on better than the forecast)",
    )


class PlannedOrderOut(BaseModel):
    market: str = Field(description="Market of the order")
    side: Side = Field(description="BUY charges the battery, SELL discharges it")
    quantity: float = Field(description="Energy, MWh, whole lots (0.1 MWh)")
    price: float = Field(description="Limit price, EUR/MWh")
    forecast_price: float = Field(description="Day-ahead price the schedule used, EUR/MWh")
    delivery_start: str = Field(description="Delivery quarter-hour start, ISO 8601 UTC")
    time_in_force: TimeInForce = Field(description="Always GTC")


class IntervalOut(BaseModel):
    start: str = Field(description="Quarter-hour start, ISO 8601 UTC")
    end: str = Field(description="Quarter-hour end, ISO 8601 UTC")
    price: float = Field(description="Day-ahead price, EUR/MWh")
    power_mw: float = Field(description="Planned net power, MW: + discharging, − charging")
    charge_mw: float = Field(description="Planned charging power, MW (≥ 0)")
    discharge_mw: float = Field(description="Planned discharging power, MW (≥ 0)")
    soc_percent: float = Field(description="Planned SoC at the end of the quarter-hour, percent")
    committed_mwh: float = Field(description="Energy already traded: + sold, − bought, MWh")
    order_mwh: float = Field(description="Energy the orders add: + sell, − buy, MWh")
    tradable: bool = Field(description="False once the product's gate has closed")


class BatteryUsed(BaseModel):
    capacity_mwh: float = Field(description="Capacity, MWh")
    power_mw: float = Field(description="Rated power, MW")
    tradable_power_mw: float = Field(
        description="Power usable in whole-lot quarter-hour orders, MW (1 MW → 0.8 MW with "
        "0.1 MWh lots)"
    )
    soc_min_percent: float = Field(description="Lowest SoC used, percent")
    soc_max_percent: float = Field(description="Highest SoC used, percent")
    charge_efficiency: float = Field(description="Charge efficiency (0–1]")
    discharge_efficiency: float = Field(description="Discharge efficiency (0–1]")
    degradation_cost_eur_per_mwh: float = Field(description="Wear cost, EUR/MWh of throughput")
    max_cycles_per_day: float | None = Field(description="Cycle limit per 24 h, or null")


class ScheduleOut(BaseModel):
    market: str = Field(description="Market")
    battery_id: str = Field(description="Battery")
    created_at: str = Field(description="When the schedule was computed, ISO 8601 UTC")
    resolution: Literal["PT15M"] = Field(description="Interval length of the schedule")
    start: str = Field(description="Start of the first interval, ISO 8601 UTC")
    end: str = Field(description="End of the last interval, ISO 8601 UTC")
    initial_soc_percent: float = Field(description="SoC the schedule starts from, percent")
    soc_updated_at: str | None = Field(description="Time of that SoC reading, ISO 8601 UTC")
    terminal_soc_percent: float = Field(description="Planned SoC at the end, percent")
    battery: BatteryUsed
    expected_revenue_eur: float = Field(
        description="Revenue less degradation at the day-ahead prices, EUR (whole horizon, "
        "committed energy included)"
    )
    revenue_eur: float = Field(description="Value of the net export at the prices, EUR")
    degradation_cost_eur: float = Field(description="Wear cost, EUR")
    cycles: float = Field(description="Equivalent full cycles: discharged MWh / capacity")
    charged_mwh: float = Field(description="Energy charged, MWh")
    discharged_mwh: float = Field(description="Energy discharged, MWh")
    milp: bool = Field(description="Solved as a MILP (forbid_simultaneous)")
    solve_ms: float = Field(description="Time to build and solve, milliseconds")
    intervals: list[IntervalOut]
    orders: list[PlannedOrderOut] = Field(description="Orders that realise the schedule")


class OrderToPlace(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    side: Side = Field(description="BUY or SELL")
    quantity: float = Field(gt=0, description="Energy, MWh")
    price: float = Field(description="Limit price, EUR/MWh")
    delivery_start: str = Field(description="Delivery quarter-hour start, ISO 8601 UTC")


class ExecuteIn(ScheduleIn):
    orders: list[OrderToPlace] | None = Field(
        None,
        max_length=7 * 96 * 2,
        description="Orders to place (e.g. the 'orders' of an optimize answer); absent: "
        "optimise now and place the result",
    )
    replace_open: bool = Field(
        True,
        description="First cancel the account's open orders that an earlier schedule placed "
        "(client_order_id sched-…) for delivery quarter-hours of this market, so a re-run "
        "replaces rather than adds to them; orders placed by hand stay",
    )


class OrderOutcome(BaseModel):
    side: Side
    quantity: float = Field(description="MWh")
    price: float = Field(description="EUR/MWh")
    delivery_start: str = Field(description="ISO 8601 UTC")
    outcome: Literal["placed", "refused"] = Field(description="What the exchange did")
    order: dict | None = Field(description="The order as POST /api/orders answers (placed)")
    error: ErrorBody | None = Field(description="Why it was refused (refused)")


class ExecuteOut(BaseModel):
    market: str
    battery_id: str
    schedule: ScheduleOut | None = Field(description="The schedule placed (null: orders given)")
    cancelled_order_ids: list[int] = Field(description="Open orders cancelled first")
    placed: int = Field(description="Orders accepted by the exchange")
    refused: int = Field(description="Orders refused (see each outcome's error)")
    results: list[OrderOutcome]


class AutoIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: StrictBool = Field(description='Run the loop (true or false; not "yes")')
    params: ScheduleIn = Field(default_factory=ScheduleIn, description="Schedule parameters")
    min_interval_s: float = Field(
        30, ge=1, le=86_400, description="At most one run per this many seconds"
    )
    refresh_s: float = Field(
        900, ge=10, le=86_400, description="Run at least this often even without changes"
    )
    soc_change_percent: float = Field(
        2, gt=0, le=100, description="Re-run when SoC moved this many points since the last run"
    )


class AutoOut(BaseModel):
    enabled: bool
    params: ScheduleIn
    min_interval_s: float
    refresh_s: float
    soc_change_percent: float
    runs: int = Field(description="Runs since the loop was switched on")
    last_run_at: str | None = Field(description="ISO 8601 UTC")
    last_reason: str | None = Field(description="Why the last run happened")
    last_placed: int | None
    last_refused: int | None
    last_error: ErrorBody | None


# -- building the schedule --------------------------------------------------------------------
@dataclass
class Context:
    market: str
    spec: MarketSpec
    battery_id: str
    row: dict
    now: float


def _context(service: ExchangeService, account: Account, body: ScheduleIn, now: float) -> Context:
    market = body.market or service.settings.market
    spec = service.market.spec(market)
    battery_id = body.battery_id or account.battery_id or "default"
    if (
        account.battery_id is not None
        and battery_id != account.battery_id
        and not (account.role == "admin")
    ):
        raise Reject(
            "FORBIDDEN",
            f"This account trades for battery {account.battery_id!r}, not {battery_id!r}.",
            403,
        )
    row = service.batteries.get(battery_id)
    if row is None:
        raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
    if row["soc_percent"] is None:
        raise Reject(
            "BATTERY_STATUS_UNKNOWN",
            f"No status is known for battery {battery_id!r}: the schedule starts from its "
            "state of charge, so it needs a telemetry reading first.",
            409,
        )
    return Context(market, spec, battery_id, row, now)


def _price_grid(rows: list[dict], first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Quarter-hour starts and prices from ``first`` until the first quarter-hour no stored
    period covers; where several resolutions cover one, the finest wins."""
    by_res: dict[int, dict[int, float]] = {}
    for r in rows:
        by_res.setdefault(r["resolution"], {})[r["start"]] = r["price"]
    finest = sorted(by_res)
    starts, prices = [], []
    for q in range(first, end, QUARTER_HOUR):
        for res in finest:
            price = by_res[res].get(q - q % res)
            if price is not None:
                break
        else:
            break
        starts.append(q)
        prices.append(price)
    return np.array(starts, dtype=np.int64), np.array(prices, dtype=float)


def _committed(service: ExchangeService, battery_id: str, starts: np.ndarray) -> np.ndarray:
    """Energy already traded per quarter-hour by every account of the battery (+ sold)."""
    out = np.zeros(len(starts))
    index = {int(q): i for i, q in enumerate(starts)}
    for q, bought in service.risk.battery(battery_id).product_fills.items():
        i = index.get(q)
        if i is not None:
            out[i] -= bought
    return out


def _battery(ctx: Context, body: ScheduleIn) -> Battery:
    """The battery as the optimiser sees it: the exchange's limits, the request's overrides,
    and the power whole-lot quarter-hour orders can use."""
    row = ctx.row
    power = tradable_power_mw(row["power_mw"], ctx.spec.lot)

    def given(name: str) -> float:
        """The request's figure, or the battery's when the request leaves it out."""
        value = getattr(body, name)
        return row[name] if value is None else value

    try:
        return Battery(
            capacity_mwh=row["capacity_mwh"],
            charge_power_mw=power,
            discharge_power_mw=power,
            soc_min_percent=given("soc_min_percent"),
            soc_max_percent=given("soc_max_percent"),
            charge_efficiency=given("charge_efficiency"),
            discharge_efficiency=given("discharge_efficiency"),
            degradation_cost_eur_per_mwh=body.degradation_cost_eur_per_mwh,
            max_cycles_per_day=body.max_cycles_per_day,
        )
    except OptimizerError as exc:
        raise Reject(exc.code, exc.message, 422) from None


async def build_schedule(
    service: ExchangeService, account: Account, body: ScheduleIn, now: float
) -> dict:
    ctx = _context(service, account, body, now)
    spec, row = ctx.spec, ctx.row
    first = int(now // QUARTER_HOUR) * QUARTER_HOUR
    end = first + int(body.horizon_hours * 3600) // QUARTER_HOUR * QUARTER_HOUR
    rows = await asyncio.to_thread(
        service.store.prices, ctx.market, first, end, None, 4 * MAX_HORIZON_H * 4
    )
    starts, prices = _price_grid(rows, first, end)
    locked = starts - spec.gate_closure_s <= now
    if starts.size == 0 or locked.all():
        raise Reject(
            "NO_PRICES",
            f"No day-ahead prices of {ctx.market} cover the tradable quarter-hours from "
            f"{iso(first)}: load them with the market feed or `phoenyra prices import`.",
            409,
        )
    committed = _committed(service, ctx.battery_id, starts)
    power = tradable_power_mw(row["power_mw"], spec.lot)
    battery = _battery(ctx, body)
    try:
        problem = Problem(
            prices=prices,
            interval_hours=QUARTER_HOUR / 3600,
            initial_soc_percent=float(row["soc_percent"]),
            battery=battery,
            terminal_soc_percent=body.terminal_soc_percent,
            committed_mwh=committed,
            locked=locked,
            forbid_simultaneous=body.forbid_simultaneous,
        )
        # CPU-bound for milliseconds to seconds: off the event loop that matches orders.
        schedule = await asyncio.to_thread(solve, problem, time_limit_s=30.0)
    except OptimizerError as exc:
        raise Reject(exc.code, exc.message, 409 if exc.code == "INFEASIBLE" else 422) from None
    planned = plan_orders(
        starts,
        schedule.new_trades_mwh,
        prices,
        committed_mwh=committed,
        tradable=~locked,
        max_charge_mw=power,
        max_discharge_mw=power,
        lot=spec.lot,
        tick=spec.tick,
        margin_eur_mwh=body.price_margin_eur_per_mwh,
        min_price=spec.min_price,
        max_price=spec.max_price,
    )
    order_mwh = dict.fromkeys(starts.tolist(), 0.0)
    for o in planned:
        order_mwh[o.delivery_start] += o.quantity_mwh if o.side == "SELL" else -o.quantity_mwh
    intervals = [
        {
            "start": iso(q),
            "end": iso(q + QUARTER_HOUR),
            "price": float(p),
            "power_mw": round(float(pw), 6),
            "charge_mw": round(float(c), 6),
            "discharge_mw": round(float(d), 6),
            "soc_percent": round(float(s), 4),
            "committed_mwh": round(float(k), 6),
            "order_mwh": round(order_mwh[q], 6),
            "tradable": not bool(lk),
        }
        for q, p, pw, c, d, s, k, lk in zip(
            starts.tolist(),  # Python ints: the compiled core's iso() takes no NumPy scalars
            prices,
            schedule.power_mw,
            schedule.charge_mw,
            schedule.discharge_mw,
            schedule.soc_percent,
            committed,
            locked,
            strict=True,
        )
    ]
    return {
        "market": ctx.market,
        "battery_id": ctx.battery_id,
        "created_at": iso(now),
        "resolution": "PT15M",
        "start": iso(int(starts[0])),
        "end": iso(int(starts[-1]) + QUARTER_HOUR),
        "initial_soc_percent": float(row["soc_percent"]),
        "soc_updated_at": iso(row["status_at"]),
        "terminal_soc_percent": round(float(schedule.soc_percent[-1]), 4),
        "battery": {
            "capacity_mwh": battery.capacity_mwh,
            "power_mw": row["power_mw"],
            "tradable_power_mw": power,
            "soc_min_percent": battery.soc_min_percent,
            "soc_max_percent": battery.soc_max_percent,
            "charge_efficiency": battery.charge_efficiency,
            "discharge_efficiency": battery.discharge_efficiency,
            "degradation_cost_eur_per_mwh": battery.degradation_cost_eur_per_mwh,
            "max_cycles_per_day": battery.max_cycles_per_day,
        },
        "expected_revenue_eur": round(schedule.objective_eur, 4),
        "revenue_eur": round(schedule.revenue_eur, 4),
        "degradation_cost_eur": round(schedule.degradation_cost_eur, 4),
        "cycles": round(schedule.cycles, 6),
        "charged_mwh": round(schedule.charged_mwh, 6),
        "discharged_mwh": round(schedule.discharged_mwh, 6),
        "milp": schedule.milp,
        "solve_ms": round(schedule.solve_seconds * 1000, 3),
        "intervals": intervals,
        "orders": [
            {
                "market": ctx.market,
                "side": o.side,
                "quantity": o.quantity_mwh,
                "price": o.price,
                "forecast_price": o.forecast_price,
                "delivery_start": iso(o.delivery_start),
                "time_in_force": "GTC",
            }
            for o in planned
        ],
    }


# -- executing ----------------------------------------------------------------------------
SCHEDULE_ORDER_PREFIX = "sched-"  # the client_order_id of every order a schedule places


async def _cancel_open(service: ExchangeService, account: Account, market: str) -> list[int]:
    """The account's open orders from earlier schedules on ``market``; never its own."""
    ids = [
        o.id
        for o in list(service.engine.open_orders.values())
        if o.account_id == account.id
        and o.market == market
        and o.delivery_start is not None
        and (o.client_order_id or "").startswith(SCHEDULE_ORDER_PREFIX)
    ]
    cancelled = []
    for order_id in ids:
        try:
            await service.cancel_order(account, order_id)
            cancelled.append(order_id)
        except Reject as exc:  # filled or expired meanwhile: nothing left to cancel
            log.info("schedule: open order not cancelled", extra={"order": order_id, "why": exc})
    return cancelled


async def _place_all(
    service: ExchangeService, account: Account, market: str, orders: list[dict]
) -> list[dict]:
    run = secrets.token_hex(4)
    deadline = time.monotonic() + THROTTLE_WAIT_S
    results = []
    for i, o in enumerate(sorted(orders, key=lambda o: (o["delivery_start"], o["side"]))):
        outcome = {
            "side": o["side"],
            "quantity": o["quantity"],
            "price": o["price"],
            "delivery_start": o["delivery_start"],
        }
        try:
            ds = datetime_seconds(o["delivery_start"])
            req = OrderRequest(
                market=market,
                side=Side(o["side"]),
                quantity=float(o["quantity"]),
                price=float(o["price"]),
                time_in_force=TimeInForce.GTC,
                delivery_start=ds,
                client_order_id=f"{SCHEDULE_ORDER_PREFIX}{run}-{i}",
            )
            while True:
                try:
                    _, placed = await service.place_order(account, req)
                    break
                except Reject as exc:
                    wait = float(exc.details.get("retry_after", 0) or 0)
                    if exc.code != "THROTTLED" or time.monotonic() + wait > deadline:
                        raise
                    await asyncio.sleep(wait)
            placed.pop("trades", None)
            results.append({**outcome, "outcome": "placed", "order": placed, "error": None})
        except Reject as exc:
            results.append(
                {
                    **outcome,
                    "outcome": "refused",
                    "order": None,
                    "error": {"code": exc.code, "message": exc.message},
                }
            )
    return results


def datetime_seconds(value: str) -> int:
    from ...core.wire import parse_iso

    try:
        ts = parse_iso(value)
    except ValueError as exc:
        raise Reject("INVALID_DELIVERY", f"delivery_start {value!r}: {exc}") from None
    if ts % 1:
        raise Reject("INVALID_DELIVERY", "delivery_start must be a whole quarter-hour.")
    return int(ts)


async def execute(service: ExchangeService, account: Account, body: ExecuteIn) -> dict:
    if account.battery_id is None:
        raise Reject(
            "NO_BATTERY",
            "This account is not linked to a battery, so its orders would pass no SoC check; "
            "execute a schedule with an account of the battery (POST /api/accounts with "
            "battery_id).",
            409,
        )
    market = body.market or service.settings.market
    service.market.spec(market)
    # Validate what can be validated before anything is cancelled: bad input changes nothing.
    ctx = _context(service, account, body, time.time())
    battery = _battery(ctx, body)
    highest = max(battery.soc_max_percent, ctx.row["soc_percent"])
    if body.terminal_soc_percent is not None and body.terminal_soc_percent > highest:
        raise Reject(
            "INVALID_PARAMETERS",
            f"terminal_soc_percent {body.terminal_soc_percent} is above the highest SoC the "
            f"battery may reach ({highest:g} %)",
        )
    if body.orders is not None:
        for o in body.orders:
            datetime_seconds(o.delivery_start)
    cancelled = await _cancel_open(service, account, market) if body.replace_open else []
    schedule = None
    if body.orders is None:
        schedule = await build_schedule(service, account, body, time.time())
        orders = schedule["orders"]
    else:
        orders = [o.model_dump(mode="json") for o in body.orders]
    results = await _place_all(service, account, market, orders)
    placed = sum(r["outcome"] == "placed" for r in results)
    return {
        "market": market,
        "battery_id": account.battery_id,
        "schedule": schedule,
        "cancelled_order_ids": cancelled,
        "placed": placed,
        "refused": len(results) - placed,
        "results": results,
    }


# -- the re-optimisation loop -------------------------------------------------------------------
@dataclass
class AutoState:
    enabled: bool = False
    account: Account | None = None
    config: AutoIn | None = None
    runs: int = 0
    last_run_at: float | None = None
    last_reason: str | None = None
    last_placed: int | None = None
    last_refused: int | None = None
    last_error: dict | None = None
    last_soc: float | None = None
    last_prices_at: float | None = None
    last_fills: tuple = ()
    task: asyncio.Task | None = field(default=None, repr=False)

    def wire(self) -> dict:
        config = self.config or AutoIn(enabled=False)
        return {
            "enabled": self.enabled,
            "params": config.params.model_dump(),
            "min_interval_s": config.min_interval_s,
            "refresh_s": config.refresh_s,
            "soc_change_percent": config.soc_change_percent,
            "runs": self.runs,
            "last_run_at": iso(self.last_run_at),
            "last_reason": self.last_reason,
            "last_placed": self.last_placed,
            "last_refused": self.last_refused,
            "last_error": self.last_error,
        }


def _why_run(service: ExchangeService, state: AutoState, now: float) -> str | None:
    """The reason to re-optimise now, or None."""
    config = state.config
    if state.last_run_at is None:
        return "first run"
    since = now - state.last_run_at
    if since < config.min_interval_s:
        return None
    market = config.params.market or service.settings.market
    feed = service.market.feeds.get(market)
    prices_at = feed["updated_at"] if feed else None
    if prices_at != state.last_prices_at:
        return "prices changed"
    battery_id = state.account.battery_id
    soc = service.batteries.get(battery_id, {}).get("soc_percent")
    if _fills(service, battery_id) != state.last_fills:
        return "position changed"  # a fill frees room for orders the risk check refused
    moved = None if soc is None or state.last_soc is None else soc - state.last_soc
    if moved is not None and abs(moved) >= config.soc_change_percent:
        return f"SoC moved {moved:+.1f} points"
    if since >= config.refresh_s:
        return "refresh"
    return None


def _fills(service: ExchangeService, battery_id: str) -> tuple:
    fills = service.risk.battery(battery_id).product_fills
    return tuple(sorted((q, round(v, 6)) for q, v in fills.items()))


async def _auto_loop(service: ExchangeService, state: AutoState) -> None:
    while state.enabled:
        await asyncio.sleep(1.0)
        if not state.enabled or not service.ready:
            continue
        now = time.time()
        reason = _why_run(service, state, now)
        if reason is None:
            continue
        config = state.config
        market = config.params.market or service.settings.market
        feed = service.market.feeds.get(market)
        state.last_prices_at = feed["updated_at"] if feed else None
        state.last_soc = service.batteries.get(state.account.battery_id, {}).get("soc_percent")
        state.last_fills = _fills(service, state.account.battery_id)
        state.last_run_at = now
        state.last_reason = reason
        state.runs += 1
        try:
            body = ExecuteIn(**config.params.model_dump(), replace_open=True)
            out = await execute(service, state.account, body)
            state.last_placed, state.last_refused = out["placed"], out["refused"]
            state.last_error = None
        except Reject as exc:
            state.last_placed = state.last_refused = None
            state.last_error = {"code": exc.code, "message": exc.message}
        except Exception:
            log.exception("schedule loop run failed")
            state.last_error = {"code": "INTERNAL", "message": "The run failed; it was logged."}


def _auto(request: Request) -> AutoState:
    state = getattr(request.app.state, "schedule_auto", None)
    if state is None:
        state = request.app.state.schedule_auto = AutoState()
    return state


# -- routes -----------------------------------------------------------------------------------
SCHEDULE_ERRORS = {
    **ERRORS,
    409: {
        "model": ERRORS[409]["model"],
        "description": "NO_PRICES (none stored for the horizon), BATTERY_STATUS_UNKNOWN, "
        "INFEASIBLE (committed position and limits contradict), NO_BATTERY (execute)",
    },
}


@router.post(
    "/api/schedule/optimize",
    response_model=ScheduleOut,
    responses=SCHEDULE_ERRORS,
    summary="The revenue-maximising schedule of the battery over the stored day-ahead prices, "
    "and the orders that would realise it (nothing is placed)",
)
async def optimize(account: Trader, service: Service, body: ScheduleIn | None = None):
    body = body or ScheduleIn()
    return json_response(await build_schedule(service, account, body, time.time()))


@router.post(
    "/api/schedule/execute",
    response_model=ExecuteOut,
    responses=SCHEDULE_ERRORS,
    summary="Place the schedule's orders (or the orders given) through the normal order path; "
    "each order's outcome is reported",
)
async def execute_schedule(account: Trader, service: Service, body: ExecuteIn | None = None):
    body = body or ExecuteIn()
    return json_response(await execute(service, account, body))


@router.get(
    "/api/schedule/auto",
    response_model=AutoOut,
    responses=ERRORS,
    summary="State of the re-optimisation loop",
)
async def auto_state(request: Request, account: Trader):
    return json_response(_auto(request).wire())


@router.put(
    "/api/schedule/auto",
    response_model=AutoOut,
    responses=SCHEDULE_ERRORS,
    summary="Switch the loop that re-optimises and re-executes as prices or SoC change on or "
    "off (it trades as the calling account; off after a restart)",
)
async def auto_set(request: Request, body: AutoIn, account: Trader, service: Service):
    state = _auto(request)
    if body.enabled:
        if account.battery_id is None:
            raise Reject(
                "NO_BATTERY",
                "This account is not linked to a battery; the loop trades as the calling "
                "account, so it must be one of the battery.",
                409,
            )
        # Refuse bad parameters now rather than in every run of the loop.
        _battery(_context(service, account, body.params, time.time()), body.params)
    state.enabled = body.enabled
    state.config = body
    if body.enabled:
        state.account = account
        state.runs, state.last_run_at = 0, None
        if state.task is None or state.task.done():
            state.task = asyncio.get_running_loop().create_task(_auto_loop(service, state))
    return json_response(state.wire())
