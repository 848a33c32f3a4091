"""POST /order: the dashboard form answers with a flash saying what happened and why."""

FORM = {"market": "epex_at", "side": "BUY", "quantity": "0.1", "time_in_force": "GTC"}


def _post(client, token, **fields):
    r = client.post("/order", data={**FORM, **fields, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    return client.get("/").get_data(as_text=True)


def test_refused_order_flashes_the_exchanges_reason(client_as):
    client, token = client_as("trader")
    page = _post(client, token, price="10.001")
    assert "Order refused:" in page and "(INVALID_TICK)" in page
    assert "tick" in page.split("Order refused:")[1].split("</li>")[0].lower()


def test_numbers_that_are_not_plain_decimals_are_refused_by_name(client_as, exchange):
    # float() takes these; the form sent NaN on and answered 500, or placed 1_000 as 1000.
    client, token = client_as("trader")
    before = len(exchange.client().get("/orders", params={"limit": 1000}).json()["items"])
    for field, value in (
        ("price", "nan"),
        ("price", "1e999"),
        ("quantity", "inf"),
        ("price", "1_000"),
        ("price", "\u0661\u0660"),  # Arabic-Indic digits
    ):
        page = _post(client, token, **{"price": "1.5", field: value})
        refusal = page.split("Order refused:")[1].split("</li>")[0]
        assert field in refusal and "VALIDATION_ERROR" in refusal, (field, value, refusal)
    after = len(exchange.client().get("/orders", params={"limit": 1000}).json()["items"])
    assert after == before
    page = _post(client, token, price="1,5", time_in_force="IOC")  # a German decimal comma
    assert "@ 1.50 EUR/MWh" in page


def test_accepted_order_flashes_what_was_accepted(client_as, exchange):
    client, token = client_as("trader")
    page = _post(client, token, price="1.5", delivery_start="")
    assert "Buy 0.1 MWh @ 1.50 EUR/MWh on epex_at: accepted, resting in the book." in page
    for order in client.get("/api/orders").get_json():
        if order["price"] == 1.5:
            client.delete(f"/api/orders/{order['id']}", headers={"X-CSRFToken": token})


def test_viewer_gets_a_refusal_flash_and_nothing_is_sent(client_as):
    client, token = client_as("viewer")
    page = _post(client, token, price="1.25")
    assert "Order refused: the role viewer may not place orders." in page


def test_exchange_down_flashes_that_the_order_was_not_sent(make_app, client_as):
    app = make_app(None)  # EXCHANGE_BASE_URL points at a closed port
    client, token = client_as("trader", app=app)
    page = _post(client, token, price="1.5")
    assert "Order not sent: The exchange at http://127.0.0.1:9 cannot be reached" in page


def test_a_filled_order_says_trade_in_the_singular(client_as, exchange):
    from support import new_trader

    with new_trader(exchange) as other:
        r = other.post(
            "/api/orders",
            json={"market": "epex_it", "side": "SELL", "quantity": 0.1, "price": 7.77},
        )
        assert r.status_code == 201, r.text
    client, token = client_as("trader")
    page = _post(client, token, market="epex_it", price="7.77")
    assert "filled 0.1 MWh in 1 trade." in page  # not "in 1 trade(s)"


def test_the_outcome_is_in_german_with_side_and_decimal_comma(client_as, exchange):
    client, token = client_as("trader")
    client.set_cookie("phoenyra_lang", "de")
    page = _post(client, token, price="1,5")
    assert "Order #" in page
    assert "Kauf 0,1 MWh @ 1,50 EUR/MWh auf epex_at: angenommen, liegt im Orderbuch." in page
    for order in client.get("/api/orders").get_json():
        if order["price"] == 1.5:
            client.delete(f"/api/orders/{order['id']}", headers={"X-CSRFToken": token})
