"""Every response carries the secure headers; HSTS only over TLS."""

from webapp_support import csrf_token


def test_pages_and_api_carry_secure_headers(make_app, exchange):
    client = make_app(exchange).test_client()
    for path in ("/login", "/healthz", "/api/orders"):
        h = client.get(path).headers
        csp = h["Content-Security-Policy"]
        assert (
            "script-src 'self';" in csp
            and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        )
        assert "frame-ancestors 'none'" in csp
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "Strict-Transport-Security" not in h


def test_hsts_behind_tls(make_app, exchange):
    client = make_app(exchange).test_client()
    h = client.get("/login", base_url="https://localhost").headers
    assert h["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_is_http_only_and_same_site(make_app, exchange):
    client = make_app(exchange).test_client()
    r = client.get("/login")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_have_no_inline_scripts_and_expose_the_csrf_token(make_app, exchange):
    app = make_app(exchange)
    client = app.test_client()
    token = csrf_token(client)
    assert token
    from webapp_support import ADMIN_PASSWORD, sign_in

    sign_in(client, "admin", ADMIN_PASSWORD)
    page = client.get("/").get_data(as_text=True)
    assert '<meta name="csrf-token"' in page
    # Scripts come from /static only (the i18n strings are a JSON data block, not code).
    assert "<script>" not in page and '<script src="/static/js/app.js' in page
    import re

    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert all('type="application/json"' in attrs for attrs in inline), inline
    assert client.get("/static/js/app.js").status_code == 200


def test_the_event_socket_refuses_other_origins(client_as):
    # Browsers do not apply CORS to WebSockets: the server must check Origin itself (an empty
    # allow-list switched the check off, so any page the user visited could listen in).
    client, _ = client_as("viewer")
    handshake = "/socket.io/?EIO=4&transport=polling"
    foreign = client.get(handshake, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 400, foreign.get_data(as_text=True)
    same = client.get(handshake, headers={"Origin": "http://localhost"})
    assert same.status_code == 200, same.get_data(as_text=True)


def test_errors_answer_in_the_apps_shape(client_as):
    client, token = client_as("viewer")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "Something went wrong" in page.get_data(as_text=True)
    wrong_method = client.get("/logout")
    assert wrong_method.status_code == 405 and "Something went wrong" in wrong_method.get_data(
        as_text=True
    )
    # An API body over the web app's own limit: JSON like every other API error, not HTML.
    huge = client.post(
        "/api/orders",
        data=b"x" * (2 << 20),
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert (
        huge.status_code == 413 and huge.get_json()["error"]["code"] == "REQUEST_ENTITY_TOO_LARGE"
    )
