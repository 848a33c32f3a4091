"""Roles: viewers only read, traders trade, only admins reach accounts and configuration."""

from support import new_trader

ORDER = {"market": "epex_at", "side": "BUY", "quantity": 0.1, "price": 11.0}


def test_viewer_cannot_post_orders(client_as, exchange):
    client, token = client_as("viewer")
    before = len(exchange.client().get("/api/orders").json())
    r = client.post("/api/orders", json=ORDER, headers={"X-CSRFToken": token})
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "FORBIDDEN"
    assert len(exchange.client().get("/api/orders").json()) == before
    assert client.get("/api/orders").status_code == 200  # reading is fine


def test_trader_cannot_reach_config_or_accounts_but_admin_can(client_as):
    trader, token = client_as("trader")
    assert trader.get("/api/config/load").status_code == 403
    assert (
        trader.post("/api/config/save", json={}, headers={"X-CSRFToken": token}).status_code == 403
    )
    assert trader.get("/api/accounts").status_code == 403
    admin, _ = client_as("admin")
    assert admin.get("/api/accounts").status_code == 200


def test_trader_sees_and_cancels_only_the_desks_orders(client_as, exchange):
    other = new_trader(exchange)
    foreign = other.post("/api/orders", json={**ORDER, "price": 12.0}).json()["id"]
    trader, token = client_as("trader")
    ids = {o["id"] for o in trader.get("/api/orders").get_json()}
    assert foreign not in ids
    assert trader.get(f"/api/orders/{foreign}").status_code == 404
    r = trader.delete(f"/api/orders/{foreign}", headers={"X-CSRFToken": token})
    assert r.status_code == 404
    assert exchange.client().get(f"/api/orders/{foreign}").json()["status"] == "ACCEPTED"
    admin, _ = client_as("admin")
    assert foreign in {o["id"] for o in admin.get("/api/orders").get_json()}
    other.delete(f"/api/orders/{foreign}")
