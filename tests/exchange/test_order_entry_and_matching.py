"""Orders over HTTP: acknowledged, matched by price–time priority, listed, cancelled."""

from __future__ import annotations

from support import new_trader


def test_buy_crossing_a_resting_sell_trades_at_the_average_of_the_limits(exchange):
    seller, buyer = new_trader(exchange), new_trader(exchange)
    market = "epex_ch"
    r = seller.post(
        "/api/orders", json={"market": market, "side": "SELL", "quantity": 2.0, "price": 80.01}
    )
    assert r.status_code == 201, r.text
    ask = r.json()
    assert (ask["status"], ask["filled"], ask["remaining"]) == ("ACCEPTED", 0.0, 2.0)

    r = buyer.post(
        "/api/orders", json={"market": market, "side": "BUY", "quantity": 0.5, "price": 81.0}
    )
    assert r.status_code == 201, r.text
    bid = r.json()
    assert bid["status"] == "FILLED"
    assert len(bid["trades"]) == 1
    trade = bid["trades"][0]
    assert trade["price"] == 80.505  # (80.01 + 81.00) / 2, the spec's rule
    assert trade["quantity"] == 0.5
    assert (trade["buy_order_id"], trade["sell_order_id"]) == (bid["id"], ask["id"])

    resting = seller.get(f"/api/orders/{ask['id']}").json()
    assert (resting["status"], resting["filled"], resting["remaining"]) == (
        "PARTIALLY_FILLED",
        0.5,
        1.5,
    )
    assert [t["id"] for t in resting["trades"]] == [trade["id"]]
    seller.delete(f"/api/orders/{ask['id']}")


def test_best_price_first_then_oldest_first(exchange):
    a, b, c, buyer = (new_trader(exchange) for _ in range(4))
    market = "epex_it"
    first = a.post(
        "/api/orders", json={"market": market, "side": "SELL", "quantity": 1.0, "price": 90.0}
    ).json()
    cheaper = b.post(
        "/api/orders", json={"market": market, "side": "SELL", "quantity": 1.0, "price": 89.0}
    ).json()
    second = c.post(
        "/api/orders", json={"market": market, "side": "SELL", "quantity": 1.0, "price": 90.0}
    ).json()
    r = buyer.post(
        "/api/orders", json={"market": market, "side": "BUY", "quantity": 2.5, "price": 95.0}
    )
    sells = [t["sell_order_id"] for t in r.json()["trades"]]
    assert sells == [cheaper["id"], first["id"], second["id"]]
    assert [t["quantity"] for t in r.json()["trades"]] == [1.0, 1.0, 0.5]
    c.delete(f"/api/orders/{second['id']}")


def test_active_orders_lists_open_orders_with_filters_and_only_own_for_traders(exchange):
    t1, t2 = new_trader(exchange), new_trader(exchange)
    o1 = t1.post(
        "/api/orders", json={"market": "epex_de", "side": "BUY", "quantity": 1.0, "price": 10.0}
    ).json()
    o2 = t2.post(
        "/api/orders", json={"market": "epex_de", "side": "BUY", "quantity": 1.0, "price": 11.0}
    ).json()
    mine = t1.get("/api/orders").json()
    assert [o["id"] for o in mine] == [o1["id"]]
    with exchange.client() as admin:  # admin sees everyone's
        ids = {o["id"] for o in admin.get("/api/orders", params={"market": "epex_de"}).json()}
        assert {o1["id"], o2["id"]} <= ids
        assert admin.get("/api/orders", params={"side": "SELL", "market": "epex_de"}).json() == []
    for c, o in ((t1, o1), (t2, o2)):
        assert c.delete(f"/api/orders/{o['id']}").json()["status"] == "CANCELLED"
    assert t1.get("/api/orders").json() == []


def test_cancel_twice_is_a_conflict_and_other_accounts_cannot_cancel(exchange):
    owner, other = new_trader(exchange), new_trader(exchange)
    o = owner.post(
        "/api/orders", json={"market": "epex_de", "side": "SELL", "quantity": 1.0, "price": 300.0}
    ).json()
    r = other.delete(f"/api/orders/{o['id']}")
    assert r.status_code == 404  # other traders do not learn that it exists
    assert owner.delete(f"/api/orders/{o['id']}").status_code == 200
    r = owner.delete(f"/api/orders/{o['id']}")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "ORDER_NOT_OPEN"
    assert owner.delete("/api/orders/987654321").status_code == 404


def test_ioc_remainder_is_cancelled_and_fok_without_liquidity_trades_nothing(exchange):
    seller, buyer = new_trader(exchange), new_trader(exchange)
    market = "epex_at"
    ask = seller.post(
        "/api/orders", json={"market": market, "side": "SELL", "quantity": 1.0, "price": 1000.0}
    ).json()
    fok = buyer.post(
        "/api/orders",
        json={
            "market": market,
            "side": "BUY",
            "quantity": 2.0,
            "price": 1000.0,
            "time_in_force": "FOK",
        },
    ).json()
    assert (fok["status"], fok["filled"], fok["trades"]) == ("CANCELLED", 0.0, [])
    ioc = buyer.post(
        "/api/orders",
        json={
            "market": market,
            "side": "BUY",
            "quantity": 2.0,
            "price": 1000.0,
            "time_in_force": "IOC",
        },
    ).json()
    assert (ioc["status"], ioc["filled"], ioc["remaining"]) == ("CANCELLED", 1.0, 0.0)
    assert seller.get(f"/api/orders/{ask['id']}").json()["status"] == "FILLED"
    assert all(o["id"] != ioc["id"] for o in buyer.get("/api/orders").json())


def test_repeated_client_order_id_returns_the_original_order(exchange):
    trader = new_trader(exchange)
    body = {
        "market": "epex_at",
        "side": "BUY",
        "quantity": 1.0,
        "price": 1.0,
        "client_order_id": "strategy-7:0001",
    }
    first = trader.post("/api/orders", json=body)
    again = trader.post("/api/orders", json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["quantity"] == 1.0
    # A retry computed the way a bot computes it is the same order: 0.1 * 3 MWh at 1.15 * 100
    # EUR/MWh are accepted as 0.3 and 115.0, and a resend of the same floats is a resend.
    near = {**body, "client_order_id": "strategy-7:near", "quantity": 0.1 * 3, "price": 1.15 * 100}
    placed = trader.post("/api/orders", json=near)
    assert placed.status_code == 201 and placed.json()["quantity"] == 0.3, placed.text
    resent = trader.post("/api/orders", json=near)
    assert resent.status_code == 200 and resent.json()["id"] == placed.json()["id"], resent.text
    trader.delete(f"/api/orders/{placed.json()['id']}")
    # A different order under a used id is not a retry: refused, naming the order it is, and
    # nothing placed (before, it was silently answered with the original).
    for change in ({"quantity": 5.0}, {"price": 1.01}, {"side": "SELL"}, {"market": "epex_de"}):
        clash = trader.post("/api/orders", json={**body, **change})
        assert clash.status_code == 409, clash.text
        err = clash.json()["error"]
        assert err["code"] == "CLIENT_ORDER_ID_REUSED" and err["order_id"] == first.json()["id"]
    assert (
        len(
            [
                o
                for o in trader.get("/api/orders").json()
                if o["client_order_id"] == "strategy-7:0001"
            ]
        )
        == 1
    )
    other = new_trader(exchange)
    assert other.post("/api/orders", json=body).json()["id"] != first.json()["id"]


def test_orders_and_trades_are_paginated_newest_first(exchange):
    seller, buyer = new_trader(exchange), new_trader(exchange)
    for i in range(5):
        seller.post(
            "/api/orders",
            json={"market": "epex_it", "side": "SELL", "quantity": 0.1, "price": 200.0 + i},
        )
        buyer.post(
            "/api/orders",
            json={"market": "epex_it", "side": "BUY", "quantity": 0.1, "price": 250.0},
        )
    page1 = seller.get("/orders", params={"limit": 3}).json()
    assert len(page1["items"]) == 3 and page1["next"] is not None
    page2 = seller.get("/orders", params={"limit": 3, "cursor": page1["next"]}).json()
    ids = [o["id"] for o in page1["items"] + page2["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5  # own orders only
    trades = seller.get("/trades", params={"limit": 2, "market": "epex_it", "mine": True}).json()
    assert len(trades["items"]) == 2
    rest = seller.get(
        "/trades", params={"limit": 10, "market": "epex_it", "mine": True, "cursor": trades["next"]}
    ).json()
    assert len(trades["items"]) + len(rest["items"]) == 5
    recent = seller.get("/api/trades", params={"market": "epex_it", "limit": 1}).json()
    assert recent[0]["id"] == trades["items"][0]["id"]


def test_book_depth_aggregates_levels(exchange):
    a, b = new_trader(exchange), new_trader(exchange)
    for c, p in ((a, -20.0), (b, -20.0), (a, -25.5)):
        c.post(
            "/api/orders", json={"market": "epex_ch", "side": "BUY", "quantity": 1.0, "price": p}
        )
    book = a.get("/api/book", params={"market": "epex_ch"}).json()
    top = book["bids"][:2]
    assert top[0] == {"price": -20.0, "quantity": 2.0, "orders": 2}
    assert top[1] == {"price": -25.5, "quantity": 1.0, "orders": 1}
