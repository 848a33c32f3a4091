"""`phoenyra backtest` on three real weeks of Austrian day-ahead prices, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from phoenyra.feed.sources.csv_file import load_csv
from phoenyra.optimizer import Battery
from phoenyra.optimizer.backtest import run_backtest
from support import ROOT, SHARED_DATA

AT_2024 = SHARED_DATA / "at_2024_h.csv"


def phoenyra(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "phoenyra.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=240,
        env=env,
    )


@pytest.fixture(scope="module")
def three_weeks(tmp_path_factory):
    if not AT_2024.exists():
        pytest.skip(f"{AT_2024} is not there")
    lines = AT_2024.read_text().splitlines()
    path = tmp_path_factory.mktemp("prices") / "at_2024_first_3_weeks.csv"
    path.write_text("\n".join(lines[: 1 + 21 * 24]) + "\n")
    return path


def test_backtest_reports_every_strategy_and_writes_a_report_with_plots(three_weeks, tmp_path):
    report, figures = tmp_path / "report.html", tmp_path / "figures.json"
    r = phoenyra(
        "backtest",
        "--prices",
        str(three_weeks),
        "--report",
        str(report),
        "--json",
        str(figures),
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(figures.read_text())
    assert out["days"] == 7  # 21 days less 14 of warm-up
    by = {s["strategy"]: s for s in out["strategies"]}
    assert set(by) == {"perfect", "naive_day", "naive_week", "learned"}
    assert by["perfect"]["capture"] == 1.0 and by["perfect"]["forecast_mae_eur_mwh"] == 0
    for name in ("naive_day", "naive_week", "learned"):
        assert by[name]["revenue_eur"] <= by["perfect"]["revenue_eur"] + 1e-6
        assert by[name]["forecast_mae_eur_mwh"] > 0
    assert by["perfect"]["revenue_eur"] > 0
    page = report.read_text()
    assert page.count('src="data:image/png;base64,') == 2
    assert "perfect foresight" in r.stdout and "EUR/MW/year" in r.stdout


def test_decisions_on_a_forecast_are_settled_at_the_real_prices(three_weeks):
    intervals = load_csv(three_weeks)
    starts = np.array([iv.start for iv in intervals])
    prices = np.array([iv.price for iv in intervals])
    battery = Battery(degradation_cost_eur_per_mwh=2.0)
    result = run_backtest(starts, prices, 3600, battery, strategies=("perfect", "naive_day"))
    for r in result.strategies.values():
        wear = 2.0 * (r.charged_mwh + r.discharged_mwh)
        settled = float(np.dot(result.prices, r.power_mw)) - wear  # 1 h intervals
        assert r.revenue_eur == pytest.approx(settled, abs=1e-6)
    naive = result.strategies["naive_day"]
    # The naive schedule was optimised on yesterday's prices, so valued at those it would look
    # different from what it earned.
    assert float(np.dot(naive.forecast, naive.power_mw)) != pytest.approx(
        float(np.dot(result.prices, naive.power_mw))
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("hello,world\n1,2\n", "expected 'timestamp_utc,price_eur_mwh'"),
        ("timestamp_utc,price_eur_mwh\n2024-01-01T00:00:00Z,abc\n", "is not a number"),
    ],
)
def test_an_empty_or_garbled_price_file_is_one_clear_line(tmp_path, content, expected):
    path = tmp_path / "prices.csv"
    path.write_text(content)
    r = phoenyra("backtest", "--prices", str(path), "--no-progress")
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0], r.stderr


def test_impossible_battery_parameters_are_refused_before_any_work(three_weeks, tmp_path):
    report = tmp_path / "report.html"
    r = phoenyra(
        "backtest",
        "--prices",
        str(three_weeks),
        "--soc-min",
        "80",
        "--soc-max",
        "20",
        "--report",
        str(report),
    )
    assert r.returncode == 2
    assert "soc_min_percent < soc_max_percent" in r.stderr
    assert not report.exists()


def test_too_short_a_series_says_how_much_history_is_needed(three_weeks, tmp_path):
    r = phoenyra("backtest", "--prices", str(three_weeks), "--warmup-days", "30", "--no-progress")
    assert r.returncode == 1
    assert "needs 30 day(s) of history" in r.stderr


def test_optimize_prints_a_day_from_a_price_file_and_fails_clearly_without_prices(three_weeks):
    r = phoenyra("optimize", "--prices", str(three_weeks), "--date", "2024-01-10", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # stdout is pure JSON (the solver's banner goes to stderr)
    assert len(out["intervals"]) == 24
    assert out["expected_revenue_eur"] >= 0
    assert all(o["quantity"] > 0 and o["side"] in ("BUY", "SELL") for o in out["orders"])
    r = phoenyra("optimize", "--prices", str(three_weeks), "--date", "2025-01-10")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("error: no complete day of prices")


def test_optimize_without_a_reachable_exchange_is_one_clear_line():
    import os

    env = {**os.environ, "EXCHANGE_URL": "http://127.0.0.1:9", "PHOENYRA_ENV": "development"}
    r = phoenyra("optimize", env=env)
    assert r.returncode == 1
    assert "cannot reach the exchange at http://127.0.0.1:9" in r.stderr
