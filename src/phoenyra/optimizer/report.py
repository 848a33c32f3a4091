"""The backtest report: one self-contained HTML page (figures inlined as PNG), returned as text.
Writing it somewhere is the caller's business."""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime

import numpy as np

from .backtest import BacktestResult


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures(result: BacktestResult) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory only
    from matplotlib.figure import Figure

    out = []
    days = [datetime.fromisoformat(d) for d in result.dates]

    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    for r in result.strategies.values():
        ax.plot(days, np.cumsum(r.daily_revenue_eur), label=r.label)
    ax.set_ylabel("cumulative revenue, EUR")
    ax.set_title("Revenue settled at real prices")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.autofmt_xdate()
    out.append(("Cumulative revenue", _png(fig)))

    # The week with the widest price spread: where forecasts matter most.
    per_day = round(86_400 / result.step_s)
    week = 7 * per_day
    n = len(result.prices)
    if n >= week:
        spreads = [np.ptp(result.prices[i : i + week]) for i in range(0, n - week + 1, per_day)]
        a = int(np.argmax(spreads)) * per_day
    else:
        a = 0
    z = min(n, a + week)
    times = [datetime.fromtimestamp(int(t), UTC) for t in result.starts[a:z]]
    fig = Figure(figsize=(10, 6))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.step(times, result.prices[a:z], where="post", label="real price", color="black")
    for r in result.strategies.values():
        if r.name != "perfect" and r.forecast is not None:
            ax1.step(times, r.forecast[a:z], where="post", label=r.label, alpha=0.7)
    ax1.set_ylabel("EUR/MWh")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    for r in result.strategies.values():
        ax2.plot(times, r.soc_percent[a:z], label=r.label)
    ax2.set_ylabel("SoC, % (end of interval)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.autofmt_xdate()
    out.append(
        ("Prices, forecasts and state of charge in the week of the widest spread", _png(fig))
    )
    return out


def render_html(result: BacktestResult, title: str = "Backtest") -> str:
    b = result.battery
    rows = []
    for s in result.summary():
        capture = "—" if s["capture"] is None else f"{s['capture'] * 100:.1f} %"
        rows.append(
            "<tr>"
            f"<td>{html.escape(s['label'])}</td>"
            f"<td>{s['revenue_eur']:,.2f}</td>"
            f"<td>{s['revenue_eur_per_mw_year']:,.0f}</td>"
            f"<td>{s['cycles']:.1f}</td>"
            f"<td>{s['forecast_mae_eur_mwh']:.2f}</td>"
            f"<td>{capture}</td>"
            "</tr>"
        )
    figures = "".join(
        f'<h2>{html.escape(name)}</h2><img alt="{html.escape(name)}" '
        f'src="data:image/png;base64,{data}">'
        for name, data in _figures(result)
    )
    first, last = result.dates[0], result.dates[-1]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 1100px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; }}
td:not(:first-child) {{ text-align: right; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(result.dates)} delivery days, {first} to {last}; battery {b.capacity_mwh:g} MWh,
charge {b.charge_power_mw:g} MW, discharge {b.discharge_power_mw:g} MW, SoC
{b.soc_min_percent:g}–{b.soc_max_percent:g} %, efficiencies {b.charge_efficiency:g} /
{b.discharge_efficiency:g}, degradation {b.degradation_cost_eur_per_mwh:g} EUR/MWh,
cycle limit {b.max_cycles_per_day if b.max_cycles_per_day is not None else "none"} per day;
{"MILP (no simultaneous charge and discharge)" if result.milp else "LP"}.
Each day is scheduled on the strategy's forecast and settled at the real prices.</p>
<table><tr><th>strategy</th><th>revenue, EUR</th><th>EUR per MW per year</th>
<th>full cycles</th><th>forecast MAE, EUR/MWh</th><th>share of perfect foresight</th></tr>
{"".join(rows)}</table>
{figures}
</body></html>
"""
