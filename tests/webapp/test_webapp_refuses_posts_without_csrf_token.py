"""CSRF: a form post or a state-changing API call without the session's token is refused."""

ORDER = {"market": "epex_at", "side": "BUY", "quantity": 0.1, "price": 10.0}


def test_order_form_post_without_token_is_refused(client_as):
    client, _ = client_as("trader")
    r = client.post("/order", data={k: str(v) for k, v in ORDER.items()})
    assert r.status_code == 400
    assert "CSRF" in r.get_data(as_text=True)


def test_sign_in_form_without_token_is_refused(make_app, exchange):
    client = make_app(exchange).test_client()
    r = client.post("/login", data={"username": "admin", "password": "whatever-it-is"})
    assert r.status_code == 400


def test_api_post_without_header_token_is_refused_and_with_it_passes(client_as):
    client, token = client_as("trader")
    r = client.post("/api/orders", json=ORDER)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "CSRF_FAILED"
    r = client.post("/api/orders", json=ORDER, headers={"X-CSRFToken": "not-the-token"})
    assert r.status_code == 400
    r = client.post("/api/orders", json=ORDER, headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert (
        client.delete(
            f"/api/orders/{r.get_json()['id']}", headers={"X-CSRFToken": token}
        ).status_code
        == 200
    )
