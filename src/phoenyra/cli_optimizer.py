"""``phoenyra backtest`` and ``phoenyra optimize``: the optimiser's adapters for the terminal.

They read prices (a CSV file or the exchange's API), call the pure ``phoenyra.optimizer`` and
print or write what it answers. Every failure is one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import functools
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from .config import ConfigError, Settings

STRATEGY_NAMES = ("perfect", "naive_day", "naive_week", "learned")


def _fail(message: str, status: int = 1):
    click.echo(f"error: {message}", err=True)
    sys.exit(status)


def _settings() -> Settings:
    try:
        return Settings()
    except (ConfigError, ValueError) as exc:
        _fail(f"configuration error: {' '.join(str(exc).split())}", 2)


def _load_series(path: str):
    """(starts, prices, step seconds) of a price CSV, or a one-line error."""
    import numpy as np

    from .feed.model import FeedError
    from .feed.sources.csv_file import load_csv

    try:
        intervals = load_csv(path)
    except FeedError as exc:
        _fail(exc.message)
    starts = np.array([iv.start for iv in intervals], dtype=np.int64)
    prices = np.array([iv.price for iv in intervals], dtype=float)
    return starts, prices, int(intervals[0].end - intervals[0].start)


def _battery(settings: Settings, **overrides):
    from .optimizer import Battery, InvalidProblem

    values = {
        "capacity_mwh": settings.bess_capacity_mwh,
        "charge_power_mw": settings.bess_power_mw,
        "discharge_power_mw": settings.bess_power_mw,
        "soc_min_percent": settings.bess_soc_min,
        "soc_max_percent": settings.bess_soc_max,
        "charge_efficiency": settings.bess_charge_efficiency,
        "discharge_efficiency": settings.bess_discharge_efficiency,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Battery(**values)
    except InvalidProblem as exc:
        _fail(exc.message, 2)


def _local_midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def _battery_options(f):
    options = [
        click.option("--capacity-mwh", type=float, help="Capacity, MWh (BESS_CAPACITY_MWH)"),
        click.option(
            "--power-mw", type=float, help="Charge and discharge power, MW (BESS_POWER_MW)"
        ),
        click.option("--soc-min", type=float, help="Lowest SoC, percent (BESS_SOC_MIN)"),
        click.option("--soc-max", type=float, help="Highest SoC, percent (BESS_SOC_MAX)"),
        click.option(
            "--charge-efficiency",
            type=float,
            help="MWh stored per MWh bought (BESS_CHARGE_EFFICIENCY, 0.95)",
        ),
        click.option(
            "--discharge-efficiency",
            type=float,
            help="MWh sold per MWh taken from the battery (BESS_DISCHARGE_EFFICIENCY, 0.95)",
        ),
        click.option(
            "--degradation-cost",
            type=float,
            default=0.0,
            show_default=True,
            help="EUR per MWh of throughput (charged + discharged)",
        ),
        click.option("--max-cycles", type=float, help="Equivalent full cycles per day"),
        click.option(
            "--milp", is_flag=True, help="Forbid charging and discharging in the same interval"
        ),
        click.option(
            "--tz",
            default="Europe/Berlin",
            show_default=True,
            help="Time zone of the delivery days",
        ),
    ]
    battery_keys = (
        "capacity_mwh",
        "power_mw",
        "soc_min",
        "soc_max",
        "charge_efficiency",
        "discharge_efficiency",
        "degradation_cost",
        "max_cycles",
    )

    @functools.wraps(f)
    def with_battery(**kwargs):
        # The command gets one `battery` (settings plus these options), not eight numbers.
        values = [kwargs.pop(k) for k in battery_keys]
        return f(battery=_battery_from(_settings(), *values), **kwargs)

    for option in reversed(options):
        with_battery = option(with_battery)
    return with_battery


def _battery_from(settings, capacity_mwh, power_mw, soc_min, soc_max, ce, de, deg, cycles):
    return _battery(
        settings,
        capacity_mwh=capacity_mwh,
        charge_power_mw=power_mw,
        discharge_power_mw=power_mw,
        soc_min_percent=soc_min,
        soc_max_percent=soc_max,
        charge_efficiency=ce,
        discharge_efficiency=de,
        degradation_cost_eur_per_mwh=deg,
        max_cycles_per_day=cycles,
    )


# -- backtest ---------------------------------------------------------------------------------
@click.command()
@click.option(
    "--prices",
    "prices_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV timestamp_utc,price_eur_mwh (as in ../shared/data)",
)
@_battery_options
@click.option(
    "--strategies",
    default=",".join(STRATEGY_NAMES),
    show_default=True,
    help="Comma-separated: perfect, naive_day, naive_week, learned",
)
@click.option("--start", help="First delivery day to trade, YYYY-MM-DD (after the warm-up)")
@click.option("--end", help="Last delivery day to trade, YYYY-MM-DD")
@click.option(
    "--warmup-days",
    type=int,
    default=14,
    show_default=True,
    help="Days of history before the first traded day",
)
@click.option(
    "--retrain-days",
    type=int,
    default=7,
    show_default=True,
    help="Refit the learned forecast every N days",
)
@click.option(
    "--report",
    "report_path",
    default="backtest-report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="HTML report with plots",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write figures as JSON")
@click.option("--no-progress", is_flag=True, help="No progress bar")
def backtest(
    prices_path,
    battery,
    milp,
    tz,
    strategies,
    start,
    end,
    warmup_days,
    retrain_days,
    report_path,
    json_path,
    no_progress,
) -> None:
    """Rolling daily backtest of the optimiser on a historical price series: perfect foresight,
    naive forecasts (previous day, previous week) and a learned forecast, each settled at the
    real prices."""
    import json

    from tqdm import tqdm

    from .optimizer import OptimizerError
    from .optimizer.backtest import days_to_trade, run_backtest
    from .optimizer.report import render_html

    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        _fail(f"unknown time zone {tz!r}", 2)
    names = tuple(s.strip() for s in strategies.split(",") if s.strip())
    starts, prices, step = _load_series(prices_path)
    # --start keeps warm-up days before it; --end cuts after it.
    try:
        if start:
            first = _local_midnight(date.fromisoformat(start) - timedelta(days=warmup_days), zone)
            keep = starts >= first
            starts, prices = starts[keep], prices[keep]
        if end:
            last = _local_midnight(date.fromisoformat(end) + timedelta(days=1), zone)
            keep = starts < last
            starts, prices = starts[keep], prices[keep]
    except ValueError as exc:
        _fail(f"--start/--end: {exc}", 2)
    if starts.size == 0:
        _fail(f"{prices_path}: no prices between --start and --end")
    total = days_to_trade(starts, tz, warmup_days)
    bar = tqdm(total=total, unit="day", desc="backtest", disable=no_progress, file=sys.stderr)
    try:
        result = run_backtest(
            starts,
            prices,
            step,
            battery,
            tz=tz,
            strategies=names,
            warmup_days=warmup_days,
            retrain_days=retrain_days,
            forbid_simultaneous=milp,
            progress=bar.update,
        )
    except OptimizerError as exc:
        bar.close()
        _fail(exc.message)
    bar.close()
    summary = result.summary()
    click.echo(
        f"{Path(prices_path).name}: {len(result.dates)} days {result.dates[0]} … "
        f"{result.dates[-1]}, {battery.discharge_power_mw:g} MW / {battery.capacity_mwh:g} MWh"
    )
    click.echo(
        f"{'strategy':<30} {'revenue EUR':>12} {'EUR/MW/year':>12} {'cycles':>8} "
        f"{'MAE EUR/MWh':>12} {'capture':>8}"
    )
    for s in summary:
        capture = "-" if s["capture"] is None else f"{s['capture'] * 100:.1f}%"
        click.echo(
            f"{s['label']:<30} {s['revenue_eur']:>12,.2f} {s['revenue_eur_per_mw_year']:>12,.0f} "
            f"{s['cycles']:>8.1f} {s['forecast_mae_eur_mwh']:>12.2f} {capture:>8}"
        )
    try:
        Path(report_path).write_text(
            render_html(result, f"Backtest of {Path(prices_path).name}"), encoding="utf-8"
        )
        click.echo(f"report: {report_path}", err=True)
        if json_path:
            Path(json_path).write_text(
                json.dumps(
                    {
                        "prices": str(prices_path),
                        "days": len(result.dates),
                        "first_day": result.dates[0],
                        "last_day": result.dates[-1],
                        "battery": {
                            "capacity_mwh": battery.capacity_mwh,
                            "power_mw": battery.discharge_power_mw,
                            "soc_min_percent": battery.soc_min_percent,
                            "soc_max_percent": battery.soc_max_percent,
                        },
                        "elapsed_s": round(result.elapsed_s, 3),
                        "strategies": summary,
                        "daily_revenue_eur": {
                            n: [round(v, 4) for v in r.daily_revenue_eur]
                            for n, r in result.strategies.items()
                        },
                    },
                    indent=2,
                ),
                encoding="utf-8",
            )
    except OSError as exc:
        _fail(f"cannot write the report: {exc.strerror or exc}")


# -- optimize ---------------------------------------------------------------------------------
def _prices_from_exchange(settings: Settings, market: str, lo: int, hi: int) -> list[dict]:
    import httpx

    key = settings.effective_api_key
    if not key:
        _fail("API_KEY is not set: the exchange's prices need a key (or give --prices FILE)", 2)
    url = settings.exchange_url.rstrip("/")
    try:
        r = httpx.get(
            f"{url}/market/prices",
            params={
                "market": market,
                "start": datetime.fromtimestamp(lo, UTC).isoformat(),
                "end": datetime.fromtimestamp(hi, UTC).isoformat(),
            },
            headers={"X-API-Key": key},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the exchange at {url} ({exc}); start it or give --prices FILE")
    if r.status_code != 200:
        try:
            err = r.json()["error"]
            detail = f"{err['code']}: {err['message']}"
        except (ValueError, KeyError, TypeError):
            detail = r.text[:200]
        _fail(f"the exchange at {url} answered {r.status_code}: {detail}")
    res = {"PT15M": 900, "PT30M": 1800, "PT60M": 3600}
    return [
        {
            "start": int(datetime.fromisoformat(p["start"].replace("Z", "+00:00")).timestamp()),
            "resolution": res.get(p["resolution"], 0),
            "price": float(p["price"]),
        }
        for p in r.json()
    ]


def _one_resolution(rows: list[dict], lo: int, hi: int):
    """The finest resolution whose periods cover [lo, hi) without a gap: (starts, prices, step)."""
    import numpy as np

    for step in sorted({r["resolution"] for r in rows if r["resolution"]}):
        got = {r["start"]: r["price"] for r in rows if r["resolution"] == step}
        grid = list(range(lo, hi, step))
        if grid and all(t in got for t in grid):
            return np.array(grid, dtype=np.int64), np.array([got[t] for t in grid]), step
    return None


@click.command()
@click.option(
    "--prices",
    "prices_path",
    type=click.Path(dir_okay=False),
    help="CSV file instead of the exchange's API (EXCHANGE_URL)",
)
@click.option("--market", default=None, help="Market (default MARKET)")
@click.option("--date", "day", default=None, help="Delivery day YYYY-MM-DD (default: tomorrow)")
@click.option(
    "--soc",
    type=float,
    default=None,
    help="SoC at the start of the day, percent (default: BESS_SOC_MIN)",
)
@click.option("--terminal-soc", type=float, default=None, help="At least this SoC at the end")
@click.option("--margin", type=float, default=0.0, show_default=True, help="Limit price margin")
@_battery_options
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON")
def optimize(
    prices_path,
    market,
    day,
    soc,
    terminal_soc,
    margin,
    battery,
    milp,
    tz,
    as_json,
) -> None:
    """Print tomorrow's schedule for the configured battery (BESS_CAPACITY_MWH, BESS_POWER_MW,
    BESS_SOC_MIN/MAX) and market, from the exchange's prices or a CSV file."""
    import json

    import numpy as np

    from .optimizer import OptimizerError, Problem, solve
    from .optimizer.orders import plan_orders, tradable_power_mw

    settings = _settings()
    market = market or settings.market
    spec = settings.markets.get(market)
    if spec is None:
        _fail(f"unknown market {market!r}; choose one of {', '.join(sorted(settings.markets))}", 2)
    try:
        zone = ZoneInfo(tz)
        the_day = date.fromisoformat(day) if day else datetime.now(zone).date() + timedelta(1)
    except (KeyError, ValueError) as exc:
        _fail(f"--date/--tz: {exc}", 2)
    lo = _local_midnight(the_day, zone)
    hi = _local_midnight(the_day + timedelta(days=1), zone)
    if prices_path:
        starts, prices, step = _load_series(prices_path)
        rows = [
            {"start": int(s), "resolution": step, "price": float(p)}
            for s, p in zip(starts, prices, strict=True)
            if lo <= s < hi
        ]
        where = prices_path
    else:
        rows = _prices_from_exchange(settings, market, lo, hi)
        where = f"the exchange at {settings.exchange_url} ({market})"
    series = _one_resolution(rows, lo, hi)
    if series is None:
        _fail(
            f"no complete day of prices for {the_day} in {where}"
            + (
                " (day-ahead prices are published around 12:45 CET the day before)"
                if rows == []
                else f" ({len(rows)} period(s) found, with gaps)"
            )
        )
    starts, prices, step = series
    power = tradable_power_mw(battery.discharge_power_mw, spec.lot)
    from dataclasses import replace

    planned_battery = replace(battery, charge_power_mw=power, discharge_power_mw=power)
    initial = battery.soc_min_percent if soc is None else soc
    try:
        schedule = solve(
            Problem(
                prices=prices,
                interval_hours=step / 3600,
                initial_soc_percent=initial,
                battery=planned_battery,
                terminal_soc_percent=terminal_soc,
                forbid_simultaneous=milp,
            )
        )
    except OptimizerError as exc:
        _fail(exc.message)
    from .optimizer.orders import to_quarter_hours

    qh_starts, qh_energy = to_quarter_hours(starts, step, schedule.net_export_mwh)
    qh_prices = np.repeat(prices, step // 900)  # each quarter-hour at its period's price
    orders = plan_orders(
        qh_starts,
        qh_energy,
        qh_prices,
        max_charge_mw=power,
        max_discharge_mw=power,
        lot=spec.lot,
        tick=spec.tick,
        margin_eur_mwh=margin,
        min_price=spec.min_price,
        max_price=spec.max_price,
    )
    by_start = {o.delivery_start: o for o in orders}
    if as_json:
        click.echo(
            json.dumps(
                {
                    "market": market,
                    "day": the_day.isoformat(),
                    "initial_soc_percent": initial,
                    "expected_revenue_eur": round(schedule.objective_eur, 4),
                    "cycles": round(schedule.cycles, 4),
                    "intervals": [
                        {
                            "start": datetime.fromtimestamp(int(s), UTC)
                            .isoformat()
                            .replace("+00:00", "Z"),
                            "price": float(p),
                            "power_mw": round(float(pw), 6),
                            "soc_percent": round(float(sc), 4),
                        }
                        for s, p, pw, sc in zip(
                            starts, prices, schedule.power_mw, schedule.soc_percent, strict=True
                        )
                    ],
                    "orders": [
                        {
                            "market": market,
                            "side": o.side,
                            "quantity": o.quantity_mwh,
                            "price": o.price,
                            "delivery_start": datetime.fromtimestamp(o.delivery_start, UTC)
                            .isoformat()
                            .replace("+00:00", "Z"),
                        }
                        for o in orders
                    ],
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"{market} {the_day} ({tz}), battery {battery.capacity_mwh:g} MWh / "
        f"{battery.discharge_power_mw:g} MW (orders use {power:g} MW: whole {spec.lot:g} MWh "
        f"lots per quarter-hour), SoC {initial:g} % → {schedule.soc_percent[-1]:.1f} %"
    )
    click.echo(
        f"expected revenue {schedule.objective_eur:,.2f} EUR, {schedule.cycles:.2f} cycles, "
        f"{len(orders)} orders; prices from {where}"
    )
    click.echo(f"{'local time':<11} {'EUR/MWh':>9} {'power MW':>9} {'SoC %':>7}  orders")
    for s, p, pw, sc in zip(starts, prices, schedule.power_mw, schedule.soc_percent, strict=True):
        legs = [by_start.get(int(s) + i * 900) for i in range(step // 900)]
        text = ", ".join(f"{o.side} {o.quantity_mwh:g} @ {o.price:g}" for o in legs if o)
        local = datetime.fromtimestamp(int(s), zone).strftime("%H:%M")
        click.echo(f"{local:<11} {p:>9.2f} {pw:>9.3f} {sc:>7.1f}  {text}")
