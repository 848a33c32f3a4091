"""Benchmark of the schedule optimiser and the backtest.

Usage::

    python bench/bench_optimizer.py [--day-repeats 50] [--skip-pulp-year] [--skip-backtest]

1. One day of 96 real quarter-hour prices (``de_lu_2023_15min_exaa.csv``, 2023-06-15): build
   and solve time of our HiGHS model, median of ``--day-repeats`` runs (target < 20 ms).
2. One year of 35,040 quarter-hours of the same file in one LP (target < 5 s).
3. Both side by side in the same run with the same model written in PuLP and solved with CBC
   (as comparable open-source tools do): times, their ratio, and the optima (must agree to
   1e-6 relative; checked).
4. A rolling daily backtest on a real year (``at_2024_h.csv``) for a 1 MW / 2 MWh battery:
   perfect foresight, naive and learned forecasts.

Battery for 1–3: 2 MWh, 1 MW, SoC 15–90 %, efficiencies 0.95, 1 EUR/MWh wear, at most 2 full
cycles a day, starting and ending at 50 %. Prints a Markdown table to stdout, progress to
stderr, writes ``bench/results/optimizer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from common import SHARED_DATA, git_commit, git_dirty, machine, version_of
from phoenyra.feed.sources.csv_file import load_csv
from phoenyra.optimizer import Battery, Problem, solve
from phoenyra.optimizer.backtest import run_backtest
from phoenyra.optimizer.lp import build, cycle_blocks

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "optimizer.json"
BATTERY = Battery(degradation_cost_eur_per_mwh=1.0, max_cycles_per_day=2.0)


def progress(message: str) -> None:
    print(f"[bench_optimizer] {message}", file=sys.stderr, flush=True)


def series(name: str) -> tuple[np.ndarray, np.ndarray]:
    intervals = load_csv(SHARED_DATA / name)
    return (
        np.array([iv.start for iv in intervals], dtype=np.int64),
        np.array([iv.price for iv in intervals]),
    )


def problem(prices: np.ndarray) -> Problem:
    return Problem(prices=prices, interval_hours=0.25, initial_soc_percent=50.0, battery=BATTERY)


def pulp_solve(p: Problem) -> tuple[float, float, float]:
    """The same LP in PuLP, solved by CBC: (objective EUR, build s, solve s)."""
    import pulp

    b, n, dt = p.battery, p.size, p.interval_hours
    started = time.perf_counter()
    m = pulp.LpProblem("bess", pulp.LpMaximize)
    c = [pulp.LpVariable(f"c{t}", 0, b.charge_power_mw) for t in range(n)]
    d = [pulp.LpVariable(f"d{t}", 0, b.discharge_power_mw) for t in range(n)]
    s = [pulp.LpVariable(f"s{t}", b.e_min, b.e_max) for t in range(n)]
    s0 = p.initial_soc_percent / 100 * b.capacity_mwh
    wear = b.degradation_cost_eur_per_mwh
    m += pulp.lpSum(
        (float(p.prices[t]) - wear) * dt * d[t] - (float(p.prices[t]) + wear) * dt * c[t]
        for t in range(n)
    )
    for t in range(n):
        prev = s0 if t == 0 else s[t - 1]
        m += s[t] == prev + b.charge_efficiency * dt * c[t] - dt / b.discharge_efficiency * d[t]
    m += s[n - 1] >= s0
    for a, z in cycle_blocks(n, dt):
        m += pulp.lpSum(d[a:z]) * dt <= b.max_cycles_per_day * b.capacity_mwh * (z - a) * dt / 24
    built = time.perf_counter()
    status = m.solve(pulp.PULP_CBC_CMD(msg=False))
    done = time.perf_counter()
    if pulp.LpStatus[status] != "Optimal":
        raise RuntimeError(f"CBC: {pulp.LpStatus[status]}")
    return float(pulp.value(m.objective)), built - started, done - built


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--day-repeats", type=int, default=50)
    ap.add_argument("--skip-pulp-year", action="store_true")
    ap.add_argument("--skip-backtest", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()
    out: dict = {
        "machine": machine(
            highspy=version_of("highspy"),
            pulp=version_of("pulp"),
            scikit_learn=version_of("scikit-learn"),
            numpy=version_of("numpy"),
        ),
        "commit": git_commit(),
        "dirty": git_dirty(),
        "load_average_before": load_before,
        "battery": {
            "capacity_mwh": BATTERY.capacity_mwh,
            "power_mw": BATTERY.discharge_power_mw,
            "soc_window_percent": [BATTERY.soc_min_percent, BATTERY.soc_max_percent],
            "efficiencies": [BATTERY.charge_efficiency, BATTERY.discharge_efficiency],
            "degradation_cost_eur_per_mwh": BATTERY.degradation_cost_eur_per_mwh,
            "max_cycles_per_day": BATTERY.max_cycles_per_day,
        },
    }
    starts, prices = series("de_lu_2023_15min_exaa.csv")
    day0 = int(np.searchsorted(starts, 1_686_780_000))  # 2023-06-14T22:00Z: 15 June, local
    day = prices[day0 : day0 + 96]

    progress("one day, HiGHS")
    solve(problem(day))  # warm: imports, the solver's first construction
    highs_day = timed(lambda: solve(problem(day)), args.day_repeats)
    ours_day = solve(problem(day)).objective_eur
    progress("one day, PuLP + CBC")
    pulp_day_runs = [pulp_solve(problem(day)) for _ in range(max(3, args.day_repeats // 10))]
    pulp_day = [b + s for _, b, s in pulp_day_runs]
    day_rel = rel(ours_day, pulp_day_runs[0][0])
    out["day"] = {
        "intervals": 96,
        "highs_ms_median": statistics.median(highs_day) * 1000,
        "highs_ms_p95": sorted(highs_day)[int(0.95 * (len(highs_day) - 1))] * 1000,
        "pulp_cbc_ms_median": statistics.median(pulp_day) * 1000,
        "ratio": statistics.median(pulp_day) / statistics.median(highs_day),
        "objective_eur": ours_day,
        "objective_rel_diff": day_rel,
        "target_ms": 20,
    }

    progress("one year in one LP, HiGHS")
    year = problem(prices)
    build_s = min(timed(lambda: build(year), 3))
    highs_year = timed(lambda: solve(year), 3)
    year_sched = solve(year)
    out["year"] = {
        "intervals": int(prices.size),
        "build_s": build_s,
        "highs_s_median": statistics.median(highs_year),
        "highs_s_runs": highs_year,
        "objective_eur": year_sched.objective_eur,
        "cycles": year_sched.cycles,
        "target_s": 5,
    }
    if not args.skip_pulp_year:
        progress("one year in one LP, PuLP + CBC (minutes)")
        obj, pb, ps = pulp_solve(year)
        out["year"].update(
            {
                "pulp_build_s": pb,
                "pulp_cbc_solve_s": ps,
                "pulp_cbc_s": pb + ps,
                "ratio": (pb + ps) / statistics.median(highs_year),
                "pulp_objective_eur": obj,
                "objective_rel_diff": rel(year_sched.objective_eur, obj),
            }
        )

    if not args.skip_backtest:
        progress("backtest on at_2024_h.csv (1 MW / 2 MWh)")
        bstarts, bprices = series("at_2024_h.csv")
        result = run_backtest(bstarts, bprices, 3600, Battery())
        out["backtest"] = {
            "prices": "at_2024_h.csv",
            "days": len(result.dates),
            "first_day": result.dates[0],
            "last_day": result.dates[-1],
            "battery": "1 MW / 2 MWh, SoC 15–90 %, η 0.95/0.95, no wear, no cycle limit",
            "elapsed_s": result.elapsed_s,
            "strategies": result.summary(),
        }
    out["load_average_after"] = os.getloadavg()

    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    d, y = out["day"], out["year"]
    print(
        f"\nload average before {load_before[0]:.2f} / {load_before[1]:.2f}, after "
        f"{out['load_average_after'][0]:.2f}\n"
    )
    print("| case | target | HiGHS (ours) | PuLP + CBC | ratio | optima rel. diff |")
    print("|---|---|---:|---:|---:|---:|")
    print(
        f"| 1 day, 96 quarter-hours | < 20 ms | {d['highs_ms_median']:.2f} ms (p95 "
        f"{d['highs_ms_p95']:.2f}) | {d['pulp_cbc_ms_median']:.1f} ms | {d['ratio']:.1f}× | "
        f"{d['objective_rel_diff']:.1e} |"
    )
    pulp_year = f"{y['pulp_cbc_s']:.2f} s" if "pulp_cbc_s" in y else "skipped"
    ratio = f"{y['ratio']:.1f}×" if "ratio" in y else "—"
    diff = f"{y['objective_rel_diff']:.1e}" if "objective_rel_diff" in y else "—"
    print(
        f"| 1 year, 35,040 quarter-hours, one LP | < 5 s | {y['highs_s_median']:.2f} s "
        f"(build {y['build_s'] * 1000:.0f} ms) | {pulp_year} | {ratio} | {diff} |"
    )
    if "backtest" in out:
        bt = out["backtest"]
        print(f"\nBacktest {bt['prices']}, {bt['days']} days, {bt['elapsed_s']:.1f} s\n")
        print("| strategy | revenue EUR | EUR/MW/year | cycles | MAE EUR/MWh | capture |")
        print("|---|---:|---:|---:|---:|---:|")
        for s in bt["strategies"]:
            print(
                f"| {s['label']} | {s['revenue_eur']:,.0f} | "
                f"{s['revenue_eur_per_mw_year']:,.0f} | {s['cycles']:.0f} | "
                f"{s['forecast_mae_eur_mwh']:.2f} | {s['capture'] * 100:.1f} % |"
            )
    failed = d["objective_rel_diff"] > 1e-6 or y.get("objective_rel_diff", 0) > 1e-6
    if failed:
        print("optima differ by more than 1e-6 relative", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
