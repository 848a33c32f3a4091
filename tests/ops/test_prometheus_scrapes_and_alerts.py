"""Prometheus: the deploy configuration is valid, the alert rules fire as intended (promtool
unit tests), and a real Prometheus scrapes every running service."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ops_support import ALERT_RULES, PROMETHEUS_CONFIG, binary, load_yaml, wait_until

HERE = Path(__file__).parent

REQUIRED_ALERTS = {
    "BatteryOffline",
    "BatterySocOutsideLimits",
    "BatteryTemperatureHigh",
    "MarketFeedStale",
    "ApiErrorRateHigh",
    "ApiLatencyP99High",
}


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary("promtool"), *args], capture_output=True, text=True, timeout=60, cwd=HERE
    )


def test_promtool_accepts_the_scrape_configuration_and_the_rules():
    config = _promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert config.returncode == 0, config.stdout + config.stderr
    rules = _promtool("check", "rules", str(ALERT_RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    names = {r["alert"] for g in load_yaml(ALERT_RULES)["groups"] for r in g["rules"]}
    assert names >= REQUIRED_ALERTS


def test_alert_rules_pass_their_promtool_unit_tests():
    # Battery offline, market feed stale (from the exchange and from the feed), SoC limits.
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_unit_tests_catch_a_wrong_expectation(tmp_path):
    # The unit tests can fail: the same battery-offline case expecting no alert is refused.
    text = (HERE / "alerts_test.yml").read_text()
    broken = text.replace(
        "- eval_time: 5m\n        alertname: BatteryOffline",
        "- eval_time: 1m\n        alertname: BatteryOffline",
        1,
    )
    assert broken != text
    path = tmp_path / "broken_test.yml"
    path.write_text(broken.replace("../../deploy/prometheus/alerts.yml", str(ALERT_RULES)))
    result = _promtool("test", "rules", str(path))
    assert result.returncode != 0


def test_prometheus_scrapes_every_service_and_reads_the_battery_back(prometheus, system):
    # Every job of deploy/prometheus/prometheus.yml is up: exchange, feed, telemetry, web app.
    def all_up():
        up = {r["metric"]["job"]: r["value"][1] for r in prometheus.query("up")}
        return up if len(up) == 5 and set(up.values()) == {"1"} else None

    up = wait_until(all_up, 30, "not every scrape target is up", prometheus.log)
    assert set(up) == {"exchange", "market-feed", "bess-telemetry", "webapp", "prometheus"}

    # The simulated battery's SoC went simulator -> Modbus -> telemetry -> exchange ->
    # Prometheus, and reads back as the exchange reports it now.
    result = wait_until(
        lambda: prometheus.query('phoenyra_bess_soc_percent{job="exchange"}'),
        30,
        "no SoC in Prometheus",
        prometheus.log,
    )
    assert result[0]["metric"]["battery"] == "default"
    assert 0 <= float(result[0]["value"][1]) <= 100

    # The feed's and the web app's own metrics arrive too.
    assert prometheus.query('phoenyra_feed_stale{job="market-feed"}')[0]["value"][1] == "0"
    assert prometheus.query("phoenyra_webapp_exchange_stream_connected")[0]["value"][1] == "1"

    # The alert rules are loaded and evaluated; with a healthy system none fires.
    def evaluated():
        groups = prometheus_rules(prometheus)
        rules = [r for g in groups for r in g["rules"]]
        return rules if all(r.get("lastEvaluation", "").startswith("2") for r in rules) else None

    rules = wait_until(evaluated, 20, "alert rules not evaluated", prometheus.log)
    assert {r["name"] for r in rules} >= REQUIRED_ALERTS
    assert all(r["health"] == "ok" for r in rules), rules
    firing = [r["name"] for r in rules if r["state"] == "firing"]
    assert firing == []


def prometheus_rules(prometheus) -> list[dict]:
    import httpx

    r = httpx.get(prometheus.url + "/api/v1/rules", timeout=5)
    return r.json()["data"]["groups"]
