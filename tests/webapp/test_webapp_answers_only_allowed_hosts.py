"""The web app answers only to allowed Host names (DNS rebinding): localhost, 127.0.0.1, [::1],
the address it listens on and WEBAPP_ALLOWED_HOSTS (exact names, or .example.com for a domain
and its subdomains). Any other Host gets 400 saying which setting to change, and nothing runs:
no page, no API call, no Socket.IO connection."""

import httpx
import pytest

from phoenyra.config import ConfigError
from webapp_support import WebappProcess, csrf_token, run_webapp_command

ORDER = {"market": "epex_at", "side": "BUY", "quantity": 0.1, "price": 3.21}
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def order_count(exchange) -> int:
    with exchange.client() as c:
        return len(c.get("/orders", params={"limit": 1000}).json()["items"])


def test_a_post_for_an_unknown_host_is_refused_and_not_executed(make_app, exchange):
    # A rebinding page is same-origin with the web app as far as the browser knows: it can read
    # the CSRF token and send it. Here it even has the session of a local page.
    app = make_app(exchange, WEBAPP_ADMIN_PASSWORD="")  # development: no sign-in
    client = app.test_client()
    token = csrf_token(client, "/")
    session = client.get_cookie("phoenyra_session").value
    client.set_cookie("phoenyra_session", session, domain="evil.example")
    before = order_count(exchange)

    refused = client.post(
        "/api/orders",
        json=ORDER,
        headers={"X-CSRFToken": token},
        base_url="http://evil.example:5000",
    )
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["code"] == "HOST_NOT_ALLOWED"
    assert "'evil.example:5000' is not allowed" in error["message"]
    assert "WEBAPP_ALLOWED_HOSTS" in error["message"]
    assert order_count(exchange) == before

    placed = client.post("/api/orders", json=ORDER, headers={"X-CSRFToken": token})
    assert placed.status_code == 201, placed.get_data(as_text=True)
    assert order_count(exchange) == before + 1
    client.delete(f"/api/orders/{placed.get_json()['id']}", headers={"X-CSRFToken": token})


def test_pages_metrics_and_the_event_socket_refuse_an_unknown_host(make_app, exchange):
    client = make_app(exchange, WEBAPP_ADMIN_PASSWORD="").test_client()
    for path in ("/", "/login", "/healthz", "/metrics", HANDSHAKE, "/static/js/app.js"):
        r = client.get(path, base_url="http://attacker.example")
        assert r.status_code == 400, path
        assert r.mimetype == "text/plain"
        assert "not allowed" in r.get_data(as_text=True)
        assert "WEBAPP_ALLOWED_HOSTS" in r.get_data(as_text=True)
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "phoenyra_webapp_host_not_allowed_requests_total 6.0" in metrics


@pytest.mark.parametrize(
    "base_url",
    ["http://localhost", "http://127.0.0.1:5000", "http://[::1]:5000", "https://localhost:8443"],
)
def test_local_names_are_allowed_on_any_port(make_app, exchange, base_url):
    client = make_app(exchange).test_client()
    assert client.get("/login", base_url=base_url).status_code == 200


def test_configured_names_and_subdomain_wildcards_are_allowed(make_app, exchange):
    app = make_app(
        exchange, WEBAPP_ALLOWED_HOSTS="trade.example.com, .Ops.Example.NET,[2001:db8::7],"
    )
    client = app.test_client()
    for host in (
        "trade.example.com",
        "trade.example.com:8443",
        "ops.example.net",
        "site-a.ops.example.net",
        "a.b.ops.example.net:5000",
        "[2001:db8::7]:5000",
    ):
        assert client.get("/login", base_url=f"http://{host}").status_code == 200, host
    for host in (
        "example.com",  # only the exact name was listed
        "www.trade.example.com",
        "badops.example.net",  # a suffix, but not a subdomain
        "ops.example.net.evil.example",
        "[2001:db8::8]",
    ):
        assert client.get("/login", base_url=f"http://{host}").status_code == 400, host


def test_the_address_the_web_app_listens_on_is_allowed(make_app, exchange):
    client = make_app(exchange, WEBAPP_HOST="192.0.2.15").test_client()
    assert client.get("/login", base_url="http://192.0.2.15:5000").status_code == 200
    assert client.get("/login", base_url="http://192.0.2.16:5000").status_code == 400


def test_behind_the_proxy_the_forwarded_host_is_checked(make_app, exchange):
    # compose: Caddy forwards https://PHOENYRA_HOST to webapp:5000 with X-Forwarded-Host.
    app = make_app(
        exchange,
        WEBAPP_TRUST_PROXY="true",
        WEBAPP_ALLOWED_HOSTS="trade.example.com,webapp",
        WEBAPP_ADMIN_PASSWORD="",  # no sign-in, so the socket handshake itself answers
    )
    client = app.test_client()
    proxied = {"X-Forwarded-Host": "trade.example.com", "X-Forwarded-Proto": "https"}
    # (Without sign-in the dashboard answers; /login leads to it.)
    page = client.get("/", base_url="http://webapp:5000", headers=proxied)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    # The event socket's own Origin check still sees the public name.
    socket = client.get(
        HANDSHAKE,
        base_url="http://webapp:5000",
        headers={**proxied, "Origin": "https://trade.example.com"},
    )
    assert socket.status_code == 200, socket.get_data(as_text=True)
    assert socket.get_data(as_text=True).startswith("0{")
    rebound = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    assert client.get("/login", base_url="http://webapp:5000", headers=rebound).status_code == 400
    # Prometheus scrapes webapp:5000 directly.
    assert client.get("/metrics", base_url="http://webapp:5000").status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "*.example.com",
        "https://trade.example.com",
        "trade.example.com:443",
        "trade.example.com/dashboard",
        "two words",
        "*",
        ".192.0.2.1",
    ],
)
def test_a_malformed_setting_is_refused_at_start(make_app, exchange, value):
    with pytest.raises(ConfigError) as refused:
        make_app(exchange, WEBAPP_ALLOWED_HOSTS=f"localhost,{value}")
    assert "WEBAPP_ALLOWED_HOSTS" in str(refused.value)
    assert repr(value) in str(refused.value)


def test_the_command_exits_with_the_reason_for_a_malformed_setting(tmp_path):
    r = run_webapp_command(tmp_path, WEBAPP_ALLOWED_HOSTS="*.example.com")
    assert r.returncode == 2, r.stderr
    assert "WEBAPP_ALLOWED_HOSTS" in r.stderr and "'.example.com' (a leading dot)" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_running_web_app_without_sign_in_answers_only_its_own_names(exchange, tmp_path):
    # Development without an admin password has no sign-in: what DNS rebinding would reach.
    web = WebappProcess(exchange, tmp_path / "web", WEBAPP_ADMIN_PASSWORD="").start()
    try:
        with httpx.Client(base_url=web.base_url, timeout=10) as http:
            rebound = {"Host": f"rebind.attacker.example:{web.port}"}
            for path in ("/", "/api/orders", HANDSHAKE):
                r = http.get(path, headers=rebound)
                assert r.status_code == 400, (path, r.text)
                assert "WEBAPP_ALLOWED_HOSTS" in r.text
            assert http.get("/api/orders", headers=rebound).json()["error"]["code"] == (
                "HOST_NOT_ALLOWED"
            )
            for host in (f"127.0.0.1:{web.port}", f"localhost:{web.port}"):
                assert http.get("/", headers={"Host": host}).status_code == 200, host
                socket = http.get(HANDSHAKE, headers={"Host": host})
                assert socket.status_code == 200 and socket.text.startswith("0{"), socket.text
    finally:
        web.stop()
