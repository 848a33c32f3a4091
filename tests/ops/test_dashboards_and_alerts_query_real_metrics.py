"""Every PromQL expression of the Grafana dashboards and the alert rules refers only to metrics
(and labels) the running services really expose; the dashboards use the provisioned data
source and are where Grafana's provisioning looks for them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import promql_parser
import pytest

from ops_support import ALERT_RULES, COMPOSE, DASHBOARDS, DEPLOY, Exposed, load_yaml, wait_until

GRAFANA = DEPLOY / "grafana"
# Grafana replaces these before the query reaches Prometheus.
GRAFANA_RANGES = re.compile(
    r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}"
)
LABEL_VALUES = re.compile(r"^label_values\(\s*(?P<expr>.+?)\s*,\s*(?P<label>\w+)\s*\)$")
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


def _dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # rows hold their panels


def _expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every query of every dashboard panel and variable and alert rule."""
    out = []
    for name, dash in _dashboards().items():
        for panel in _panels(dash["panels"]):
            for target in panel.get("targets", []):
                where = f"{name}: {panel['title']!r} {target['refId']}"
                out.append((where, GRAFANA_RANGES.sub("5m", target["expr"])))
        for var in dash.get("templating", {}).get("list", []):
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = LABEL_VALUES.match(query)
            assert match, f"{name}: variable {var['name']}: unsupported query {query!r}"
            out.append((f"{name}: variable {var['name']}", match["expr"]))
            out.append(
                (f"{name}: variable {var['name']} label", f"{match['expr']}#{match['label']}")
            )
    for group in load_yaml(ALERT_RULES)["groups"]:
        for rule in group["rules"]:
            out.append((f"alerts.yml: {rule['alert']}", rule["expr"]))
    return out


def _selectors(expr) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """(metric name, label names matched) per selector, and the label names grouped by."""
    selectors, grouping = [], set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            labels = {m.name for m in node.matchers.matchers}
            names = [node.name] if node.name else []
            names += [m.value for m in node.matchers.matchers if m.name == "__name__"]
            assert names, f"a selector without a metric name: {node}"
            for name in names:
                selectors.append((name, labels - {"__name__"}))
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            grouping.update(node.modifier.labels)
        return True

    promql_parser.walk(expr, visit)
    return selectors, grouping


@pytest.fixture(scope="module")
def exposed(system, prometheus) -> Exposed:
    """What the services expose on /metrics (also metrics without samples yet, such as a
    counter of trades before the first trade) plus every series Prometheus has, which adds
    the series Prometheus makes itself (``up``)."""
    found = Exposed()
    wait_until(
        lambda: len(prometheus.query("up == 1")) == 5, 30, "targets not scraped", prometheus.log
    )
    for service in ("exchange", "market-feed", "bess-telemetry", "webapp"):
        r = httpx.get(system.url(service) + "/metrics", timeout=5)
        assert r.status_code == 200, (service, r.text[:300])
        found.add_exposition(r.text)
    r = httpx.get(prometheus.url + "/api/v1/series", params={"match[]": '{__name__=~".+"}'})
    for series in r.json()["data"]:
        found.add_series(series["__name__"], set(series) - {"__name__"})
    return found


def _problems(where: str, text: str, exposed: Exposed) -> list[str]:
    text, _, label = text.partition("#")
    try:
        expr = promql_parser.parse(text)
    except Exception as exc:  # the parser's error says where the expression is wrong
        return [f"{where}: does not parse: {exc}: {text}"]
    problems = []
    selectors, grouping = _selectors(expr)
    for metric, labels in selectors:
        if metric not in exposed.labels:
            problems.append(f"{where}: no service exposes {metric}")
            continue
        known = exposed.labels[metric] | TARGET_LABELS
        if exposed.labels[metric]:  # label names are known once the metric has samples
            for name in labels | ({label} if label else set()):
                if name not in known:
                    problems.append(f"{where}: {metric} has no label {name!r}")
    if all(exposed.labels.get(m) for m, _ in selectors):
        all_labels = set().union(*(exposed.labels[m] for m, _ in selectors))
        for name in sorted(grouping - all_labels - TARGET_LABELS - {"le"}):
            problems.append(f"{where}: groups by {name!r}, which its metrics lack")
    return problems


def test_every_expression_parses_and_uses_real_metrics_and_labels(exposed):
    expressions = _expressions()
    assert len(expressions) > 30
    problems = [p for where, text in expressions for p in _problems(where, text, exposed)]
    assert problems == [], "\n".join(problems)


def test_the_check_finds_unknown_metrics_labels_and_bad_syntax(exposed):
    # The check itself can fail: a misspelt metric, a label the metric lacks, a grouping label
    # no metric has and a syntax error are each reported.
    assert _problems("x", "rate(phoenyra_trade_total[5m])", exposed) == [
        "x: no service exposes phoenyra_trade_total"
    ]
    assert _problems("x", 'phoenyra_bess_soc_percent{batt="default"}', exposed) == [
        "x: phoenyra_bess_soc_percent has no label 'batt'"
    ]
    assert _problems("x", "sum by (route) (phoenyra_bess_online)", exposed) == [
        "x: groups by 'route', which its metrics lack"
    ]
    assert _problems("x", "sum(rate(phoenyra_trades_total[5m])", exposed)[0].startswith(
        "x: does not parse"
    )
    # A counter is known before its first increment (HELP/TYPE without samples).
    assert _problems("x", "rate(phoenyra_trades_total[5m])", exposed) == []


def test_three_dashboards_cover_battery_trading_and_system_health():
    dashboards = _dashboards()
    titles = {d["title"] for d in dashboards.values()}
    assert titles == {
        "Phoenyra — BESS monitoring",
        "Phoenyra — Trading analytics",
        "Phoenyra — System health",
    }
    by_title = {d["title"]: d for d in dashboards.values()}

    def queried(title: str) -> str:
        dash = by_title[title]
        return " ".join(t["expr"] for p in _panels(dash["panels"]) for t in p.get("targets", []))

    bess = queried("Phoenyra — BESS monitoring")
    for metric in ("soc_percent", "power_mw", "temperature_celsius"):
        assert f"phoenyra_bess_{metric}" in bess
    trading = queried("Phoenyra — Trading analytics")
    for metric in ("orders_total", "trades_total", "realized_pnl_eur", "market_price_eur_mwh"):
        assert f"phoenyra_{metric}" in trading
    system = queried("Phoenyra — System health")
    assert "up{" in system and "histogram_quantile(0.99" in system and '"5.."' in system
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)


def test_dashboards_use_the_provisioned_datasource_from_the_provisioned_folder():
    sources = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    for name, dash in _dashboards().items():
        for panel in _panels(dash["panels"]):
            if panel["type"] == "row":
                continue
            refs = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
            for ref in refs:
                assert ref == {"type": "prometheus", "uid": source["uid"]}, (name, panel["title"])

    # The provider reads the folder compose.yaml mounts the dashboards at.
    (provider,) = load_yaml(GRAFANA / "provisioning" / "dashboards" / "phoenyra.yml")["providers"]
    mounts = load_yaml(COMPOSE)["services"]["grafana"]["volumes"]
    mounted = {
        m.split(":")[1]: (COMPOSE.parent / m.split(":")[0]).resolve()
        for m in mounts
        if m.startswith("./")
    }
    assert mounted[provider["options"]["path"]] == DASHBOARDS.resolve()
    assert mounted["/etc/grafana/provisioning"] == (GRAFANA / "provisioning").resolve()
    assert Path(DASHBOARDS).is_dir()
