"""Fixtures for the web app: a real exchange, the app under test, signed-in clients."""

from __future__ import annotations

import uuid

import pytest
import redis

from phoenyra.webapp import create_app
from support import service_missing
from webapp_support import (
    ADMIN_PASSWORD,
    PASSWORD,
    REDIS_URL,
    add_user,
    csrf_token,
    sign_in,
    webapp_env,
)


@pytest.fixture
def make_app(tmp_path):
    def make(exchange, **extra: str):
        app = create_app(webapp_env(exchange, tmp_path / "webapp", **extra))
        app.config["TESTING"] = True
        return app

    return make


@pytest.fixture
def client_as(make_app, exchange):
    """A test client signed in with a fresh user of the given role; returns (client, token)."""

    def make(role: str, app=None):
        app = app or make_app(exchange)
        name = f"{role}-user"
        if role == "admin":
            name, password = "admin", ADMIN_PASSWORD
        else:
            add_user(app, name, role)
            password = PASSWORD
        client = app.test_client()
        r = sign_in(client, name, password)
        assert r.status_code == 302, r.get_data(as_text=True)
        return client, csrf_token(client, "/")

    return make


@pytest.fixture(autouse=True)
def battery_half_full(request):
    """The web app trades as the exchange's demo account, which is linked to the default
    battery: orders need its state of charge, so report 50 % (tests without an exchange skip)."""
    if "exchange" in request.fixturenames:
        from support import set_soc

        set_soc(request.getfixturevalue("exchange"), 50.0)


@pytest.fixture
def redis_prefix():
    """(a Redis client, a key prefix of this test's own); the test's keys are removed after."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        service_missing(f"Redis at {REDIS_URL}")
    prefix = f"phoenyra-test:{uuid.uuid4().hex}:"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def redis_env(redis_prefix) -> dict[str, str]:
    """The web app's settings to keep its sessions and counters in Redis under this test's
    own key prefix (``redis_prefix``)."""
    _, prefix = redis_prefix
    return {"REDIS_URL": REDIS_URL, "WEBAPP_REDIS_PREFIX": prefix}
