"""Pass-through: the exchange's answers, status and error bodies reach the browser unchanged."""


def test_get_is_passed_through(client_as, exchange):
    client, _ = client_as("viewer")
    r = client.get("/api/market-data?market=epex_at")
    assert r.status_code == 200
    assert r.get_json()["market"] == "epex_at"
    direct = exchange.client().get("/api/bess/status").json()
    assert client.get("/api/bess/status").get_json()["battery_id"] == direct["battery_id"]
    assert client.get("/trades").get_json().keys() == {"items", "next"}


def test_exchange_error_body_is_forwarded_unchanged(client_as, exchange):
    client, token = client_as("trader")
    bad = {"market": "epex_at", "side": "BUY", "quantity": 1, "price": 10.001}
    direct = exchange.client().post("/api/orders", json=bad)
    r = client.post("/api/orders", json=bad, headers={"X-CSRFToken": token})
    assert r.status_code == direct.status_code == 422
    assert r.get_json() == direct.json()
    assert r.get_json()["error"]["code"] == "INVALID_TICK"
    missing = client.get("/api/orders/999999999")
    assert missing.status_code == 404
    assert missing.get_json() == exchange.client().get("/api/orders/999999999").json()


def test_accepted_order_is_placed_on_the_exchange(client_as, exchange):
    client, token = client_as("trader")
    body = {"market": "epex_de", "side": "SELL", "quantity": 0.5, "price": 3001.0}
    r = client.post("/api/orders", json=body, headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.get_data(as_text=True)
    order_id = r.get_json()["id"]
    assert exchange.client().get(f"/api/orders/{order_id}").json()["status"] == "ACCEPTED"
    assert (
        client.delete(f"/api/orders/{order_id}", headers={"X-CSRFToken": token}).status_code == 200
    )


def test_a_connection_test_longer_than_the_usual_timeout_reports_the_device(client_as):
    # An MQTT test waits up to wait_s for each topic; the web app's 5 s exchange timeout
    # answered EXCHANGE_TIMEOUT ("the exchange did not answer") while it was still waiting.
    admin, token = client_as("admin")
    config = {
        "battery_id": "default",
        "rated_power_mw": 1.0,
        "interval_s": 5,
        "mqtt": {"enabled": True, "broker": "127.0.0.1", "soc_percent": {"topic": "nobody/soc"}},
    }
    r = admin.post(
        "/api/config/test",
        json={"interface": "mqtt", "config": config, "wait_s": 7.0},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    out = r.get_json()
    assert out["ok"] is False and out["error"]["kind"] == "timeout", out
    assert "nobody/soc" in out["error"]["message"]
