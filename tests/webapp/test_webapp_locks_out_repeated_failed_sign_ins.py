"""Failed sign-ins are counted per user name and per client address over a sliding window: at
the limit, further attempts get 429 with Retry-After and the password is not even checked, for
unknown names exactly as for real ones; a success clears the name's failures. With Redis the
counts are shared by every web app instance."""

import logging
import re
import time

import httpx
import pytest

from phoenyra.config import ConfigError
from phoenyra.webapp.users import UserStore
from webapp_support import (
    PASSWORD,
    WebappProcess,
    add_user,
    csrf_token,
    run_webapp_command,
)

WRONG = "not-the-password"
ACCOUNT_LOCKED = re.compile(
    r"Too many failed sign-ins for this account; try again in (\d+) minutes?\."
)
ADDRESS_LOCKED = re.compile(
    r"Too many failed sign-ins from your address; try again in (\d+) minutes?\."
)


def attempt(client, name: str, password: str, address: str = "127.0.0.1"):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def assert_wrong_password(r):
    assert r.status_code == 401, r.status_code
    assert "Wrong user name or password." in r.get_data(as_text=True)
    assert "Retry-After" not in r.headers


def assert_locked(r, pattern=ACCOUNT_LOCKED, window_s: int = 900) -> int:
    assert r.status_code == 429, r.status_code
    retry_after = int(r.headers["Retry-After"])
    assert 0 < retry_after <= window_s
    message = pattern.search(r.get_data(as_text=True))
    assert message, r.get_data(as_text=True)[-2000:]
    assert int(message.group(1)) == -(-retry_after // 60)  # the minutes, rounded up
    return retry_after


def test_the_sixth_attempt_within_15_minutes_is_refused_even_with_the_right_password(
    make_app, exchange
):
    app = make_app(exchange)
    add_user(app, "tom", "trader")
    client = app.test_client()
    for _ in range(5):  # the default limit: 5 failures per name in 15 minutes
        assert_wrong_password(attempt(client, "tom", WRONG))
    retry_after = assert_locked(attempt(client, "tom", PASSWORD))
    assert retry_after > 890  # the first failure leaves the window in 15 minutes
    assert client.get("/me").status_code == 302  # not signed in
    # From any address: it is the account that is locked.
    assert_locked(attempt(app.test_client(), "tom", PASSWORD, address="10.20.30.40"))


def test_an_unknown_name_gets_the_same_answers(make_app, exchange):
    app = make_app(exchange)
    add_user(app, "tom", "trader")
    known, unknown = app.test_client(), app.test_client()
    for _ in range(5):
        a, b = attempt(known, "tom", WRONG), attempt(unknown, "nobody", WRONG)
        assert_wrong_password(a)
        assert_wrong_password(b)
    a, b = attempt(known, "tom", WRONG), attempt(unknown, "nobody", WRONG)
    assert assert_locked(a) == pytest.approx(assert_locked(b), abs=2)
    assert sorted(a.headers.keys()) == sorted(b.headers.keys())


def test_another_name_from_another_address_is_not_affected(make_app, exchange):
    app = make_app(exchange)
    add_user(app, "tom", "trader")
    add_user(app, "vera", "viewer")
    attacker = app.test_client()
    for _ in range(6):
        attempt(attacker, "tom", WRONG)
    assert_locked(attempt(attacker, "tom", PASSWORD))
    vera = app.test_client()
    r = attempt(vera, "vera", PASSWORD, address="192.0.2.44")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert vera.get("/me").get_json() == {"username": "vera", "role": "viewer"}


def test_a_success_clears_the_names_failures(make_app, exchange):
    app = make_app(exchange)
    add_user(app, "tom", "trader")
    client = app.test_client()
    for _ in range(4):
        assert_wrong_password(attempt(client, "tom", WRONG))
    assert attempt(client, "tom", PASSWORD).status_code == 302
    for _ in range(4):  # 8 failures in the window, but only 4 since the success
        assert_wrong_password(attempt(app.test_client(), "tom", WRONG))
    assert attempt(app.test_client(), "tom", PASSWORD).status_code == 302


def test_one_address_trying_many_names_is_stopped_at_its_own_limit(make_app, exchange):
    app = make_app(exchange, WEBAPP_SIGNIN_MAX_FAILURES_PER_ADDRESS="4")
    add_user(app, "vera", "viewer")
    client = app.test_client()
    for n in range(4):
        assert_wrong_password(attempt(client, f"guess-{n}", WRONG, address="198.51.100.7"))
    assert_locked(attempt(client, "vera", PASSWORD, address="198.51.100.7"), ADDRESS_LOCKED)
    # An IPv6 client is counted by its /64: another address of the same network is locked too.
    for n in range(4):
        attempt(client, f"guess-{n}", WRONG, address="2001:db8:1:2::10")
    locked = attempt(client, "vera", PASSWORD, address="2001:db8:1:2::ffff")
    assert_locked(locked, ADDRESS_LOCKED)
    r = attempt(app.test_client(), "vera", PASSWORD, address="198.51.100.8")
    assert r.status_code == 302


def test_the_lock_ends_when_the_failures_leave_the_window(make_app, exchange):
    app = make_app(
        exchange,
        WEBAPP_SIGNIN_MAX_FAILURES_PER_USER="2",
        WEBAPP_SIGNIN_FAILURE_WINDOW_S="2",
    )
    add_user(app, "tom", "trader")
    client = app.test_client()
    for _ in range(2):
        assert_wrong_password(attempt(client, "tom", WRONG))
    retry_after = assert_locked(attempt(client, "tom", PASSWORD), window_s=2)
    time.sleep(retry_after + 0.1)
    assert attempt(client, "tom", PASSWORD).status_code == 302


def test_a_lockout_is_logged_and_counted(make_app, exchange, caplog):
    app = make_app(exchange)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="phoenyra.webapp.signin"):
        for _ in range(6):
            attempt(client, "mallory", WRONG, address="203.0.113.9")
    (record,) = [r for r in caplog.records if r.name == "phoenyra.webapp.signin"]
    assert record.levelno == logging.WARNING
    assert (record.scope, record.user, record.client) == ("user", "mallory", "203.0.113.9")
    assert (record.failures, record.window_s) == (5, 900)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'phoenyra_webapp_sign_in_lockouts_total{scope="user"} 1.0' in metrics
    assert 'phoenyra_webapp_sign_in_lockouts_total{scope="address"} 0.0' in metrics


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEBAPP_SIGNIN_MAX_FAILURES_PER_USER", "0"),
        ("WEBAPP_SIGNIN_MAX_FAILURES_PER_ADDRESS", "many"),
        ("WEBAPP_SIGNIN_FAILURE_WINDOW_S", "-5"),
    ],
)
def test_a_bad_limit_is_refused_at_start_naming_the_variable(make_app, exchange, name, value):
    with pytest.raises(ConfigError, match=name):
        make_app(exchange, **{name: value})


def test_the_command_exits_with_the_reason_for_a_bad_limit(tmp_path):
    r = run_webapp_command(tmp_path, WEBAPP_SIGNIN_FAILURE_WINDOW_S="0")
    assert r.returncode == 2, r.stderr
    assert "WEBAPP_SIGNIN_FAILURE_WINDOW_S='0'" in r.stderr and "Traceback" not in r.stderr


# -- shared through Redis ---------------------------------------------------------------------


def test_with_redis_a_second_instance_sees_the_lock(make_app, exchange, redis_prefix, redis_env):
    db, prefix = redis_prefix
    env = redis_env
    first, second = make_app(exchange, **env), make_app(exchange, **env)
    add_user(first, "tom", "trader")  # both instances share the data directory's users
    assert second.extensions["phoenyra"].users.get("tom") is not None
    for _ in range(3):
        assert_wrong_password(attempt(first.test_client(), "tom", WRONG))
    for _ in range(2):  # the failures add up across instances
        assert_wrong_password(attempt(second.test_client(), "tom", WRONG))
    assert_locked(attempt(first.test_client(), "tom", PASSWORD))
    assert_locked(attempt(second.test_client(), "tom", PASSWORD, address="192.0.2.1"))
    keys = {k.decode() for k in db.scan_iter(f"{prefix}signin-failures:*")}
    assert {k.rsplit(":", 2)[1] for k in keys} == {"user", "address"}
    assert not any("tom" in k for k in keys)  # what was typed as a name is not a key
    assert all(0 < db.pttl(k) <= 900_000 for k in keys)  # gone after the window

    # An instance started afterwards (a restart) still refuses.
    third = make_app(exchange, **env)
    assert_locked(attempt(third.test_client(), "tom", PASSWORD))


def test_with_redis_a_success_clears_the_name_everywhere(make_app, exchange, redis_env):
    env = redis_env
    first, second = make_app(exchange, **env), make_app(exchange, **env)
    add_user(first, "tom", "trader")
    for _ in range(4):
        assert_wrong_password(attempt(first.test_client(), "tom", WRONG))
    assert attempt(second.test_client(), "tom", PASSWORD).status_code == 302
    for _ in range(4):
        assert_wrong_password(attempt(first.test_client(), "tom", WRONG))
    assert attempt(first.test_client(), "tom", PASSWORD).status_code == 302


# -- over real HTTP, with real client addresses -----------------------------------------------
def test_a_running_web_app_locks_the_name_but_not_another_client(exchange, tmp_path):
    web = WebappProcess(exchange, tmp_path / "web", WEBAPP_SIGNIN_MAX_FAILURES_PER_USER="3")
    web.start()
    UserStore(tmp_path / "web" / "webapp-users.db").add("vera", PASSWORD, "viewer")
    try:

        def sign_in_from(address: str, name: str, password: str) -> httpx.Response:
            transport = httpx.HTTPTransport(local_address=address)
            with httpx.Client(base_url=web.base_url, transport=transport, timeout=10) as http:
                page = http.get("/login").text
                token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
                return http.post(
                    "/login", data={"username": name, "password": password, "csrf_token": token}
                )

        for _ in range(3):
            assert sign_in_from("127.0.0.1", "admin", WRONG).status_code == 401
        locked = sign_in_from("127.0.0.1", "admin", "admin-password-for-tests")
        assert locked.status_code == 429 and 890 < int(locked.headers["Retry-After"]) <= 900
        assert ACCOUNT_LOCKED.search(locked.text).group(1) == "15"
        # Another user from another loopback address signs in as usual.
        other = sign_in_from("127.0.0.2", "vera", PASSWORD)
        assert other.status_code == 302 and other.headers["Location"] == "/"
    finally:
        web.stop()
    assert "sign-in locked after too many failures" in web.log()
