"""Prometheus metrics, health and readiness."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from support import new_trader


def _samples(exchange) -> dict[tuple[str, tuple], float]:
    text = exchange.client().get("/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_trading_metrics_follow_orders_and_trades(exchange):
    before = _samples(exchange)
    seller, buyer = new_trader(exchange), new_trader(exchange)
    seller.post(
        "/api/orders", json={"market": "epex_ch", "side": "SELL", "quantity": 1.5, "price": 50.0}
    )
    buyer.post(
        "/api/orders", json={"market": "epex_ch", "side": "BUY", "quantity": 1.0, "price": 50.0}
    )
    after = _samples(exchange)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("phoenyra_orders_total", market="epex_ch", side="SELL", status="ACCEPTED") == 1
    assert delta("phoenyra_orders_total", market="epex_ch", side="BUY", status="FILLED") == 1
    assert delta("phoenyra_trades_total", market="epex_ch") == 1
    assert delta("phoenyra_traded_volume_mwh_total", market="epex_ch") == 1.0
    names = {name for name, _ in after}
    for required in (
        "phoenyra_exposure_energy_mwh",
        "phoenyra_exposure_notional_eur",
        "phoenyra_realized_pnl_eur",
        "phoenyra_http_request_duration_seconds_bucket",
        "phoenyra_open_orders",
    ):
        assert required in names, required
    route = (
        "phoenyra_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/api/orders"), ("status", "201")),
    )
    assert after[route] - before.get(route, 0) == 2


def test_errors_are_counted_by_code(exchange):
    before = _samples(exchange)
    trader = new_trader(exchange)
    trader.post(
        "/api/orders", json={"market": "epex_at", "side": "BUY", "quantity": 1.0, "price": 1.005}
    )
    after = _samples(exchange)
    key = ("phoenyra_errors_total", (("code", "INVALID_TICK"),))
    assert after[key] - before.get(key, 0) == 1


def test_health_and_readiness(exchange):
    c = exchange.client("")
    assert c.get("/healthz").json()["status"] == "ok"
    ready = c.get("/readyz").json()
    assert ready == {"status": "ok", "checks": {"state_loaded": True, "database": True}}
