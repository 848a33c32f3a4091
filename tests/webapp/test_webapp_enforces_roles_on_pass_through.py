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


def test_dot_segments_cannot_climb_to_a_path_the_role_may_not_use(client_as, exchange):
    # The HTTP client resolves ".." before the exchange sees the path: the role check must
    # refuse it, not pass /api/orders/../accounts on as /api/accounts.
    accounts_before = len(exchange.client().get("/api/accounts").json())
    trader, token = client_as("trader")
    for path in ("/api/orders/../accounts", "/api/orders/%2e%2e/accounts", "/api/./accounts"):
        r = trader.post(
            path,
            json={"name": "sneaky", "role": "admin"},
            headers={"X-CSRFToken": token},
        )
        assert r.status_code in (403, 404), (path, r.status_code)
    viewer, _ = client_as("viewer")
    assert viewer.get("/api/bess/../accounts").status_code in (403, 404)
    assert len(exchange.client().get("/api/accounts").json()) == accounts_before


def test_only_an_admin_reads_the_telemetry_services_unmasked_configuration(client_as):
    viewer, _ = client_as("viewer")
    assert viewer.get("/api/telemetry/config").status_code == 403
    assert viewer.get("/api/telemetry/presets").status_code == 200


def test_a_viewer_may_see_the_optimisers_plan_but_not_place_it(client_as, exchange):
    viewer, token = client_as("viewer")
    plan = viewer.post("/api/schedule/optimize", json={}, headers={"X-CSRFToken": token})
    # It reaches the exchange, which plans (200) or says it has no prices to plan with (409).
    if plan.status_code == 409:
        assert plan.get_json()["error"]["code"] == "NO_PRICES"
    else:
        assert plan.status_code == 200 and plan.get_json()["intervals"], plan.get_json()
    placed = viewer.post("/api/schedule/execute", json={}, headers={"X-CSRFToken": token})
    assert placed.status_code == 403


def test_encoded_paths_cannot_slip_past_the_role_check(client_as, exchange):
    # Flask decodes the path once and the exchange again: a double-encoded letter, or an
    # encoded "?" or "#" the HTTP client cuts at, made the checked path differ from the one
    # the exchange served (a viewer read the unmasked telemetry secrets, a trader cancelled
    # other accounts' orders).
    other = new_trader(exchange)
    foreign = other.post("/api/orders", json={**ORDER, "price": 12.5}).json()["id"]
    digits = "".join(f"%25{ord(c):x}" for c in str(foreign))
    trader, token = client_as("trader")
    for path in (
        f"/api/orders/{foreign}%3F",
        f"/api/orders/{foreign}%23",
        f"/api/orders/{foreign}%3Fx=1",
        f"/api/orders/{digits}",
    ):
        r = trader.delete(path, headers={"X-CSRFToken": token})
        assert r.status_code == 403, (path, r.status_code, r.get_data())
    assert exchange.client().get(f"/api/orders/{foreign}").json()["status"] == "ACCEPTED"
    viewer, _ = client_as("viewer")
    for path in ("/api/telemetry/%2563onfig", "/api/%2561ccounts", "/api/%2563onfig/load"):
        r = viewer.get(path)
        assert r.status_code == 403, (path, r.status_code, r.get_data())
    assert viewer.get("/api/orders/").status_code == 403  # no redirect to the exchange itself
    other.delete(f"/api/orders/{foreign}")


def test_only_an_admin_is_served_the_telemetry_configuration_page(client_as):
    for role in ("viewer", "trader"):
        client, _ = client_as(role)
        r = client.get("/config")
        assert r.status_code == 403 and "Only an admin may configure telemetry" in r.get_data(
            as_text=True
        )
    admin, _ = client_as("admin")
    assert admin.get("/config").status_code == 200
