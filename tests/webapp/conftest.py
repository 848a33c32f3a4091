"""Fixtures for the web app: a real exchange, the app under test, signed-in clients."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from phoenyra.webapp import create_app
from support import ROOT, free_port

ADMIN_PASSWORD = "admin-password-for-tests"
PASSWORD = "password-for-tests"
SECRET_KEY = "a-test-secret-key-that-is-long-enough-0123456789"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def webapp_env(exchange, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "PHOENYRA_ENV": "development",
        "PHOENYRA_DATA_DIR": str(data_dir),
        "EXCHANGE_BASE_URL": exchange.base_url if exchange else "http://127.0.0.1:9",
        "WEBAPP_SECRET_KEY": SECRET_KEY,
        "WEBAPP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **extra,
    }


@pytest.fixture
def make_app(tmp_path):
    def make(exchange, **extra: str):
        app = create_app(webapp_env(exchange, tmp_path / "webapp", **extra))
        app.config["TESTING"] = True
        return app

    return make


def add_user(app, name: str, role: str) -> None:
    app.extensions["phoenyra"].users.add(name, PASSWORD, role)


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path)
    match = _CSRF.search(page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:500]
    return match.group(1)


def sign_in(client, name: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token})


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


class WebappProcess:
    """``python -m phoenyra.webapp`` in its own process, as an operator would run it."""

    def __init__(self, exchange, data_dir: Path, **extra: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **webapp_env(exchange, data_dir, **extra)}
        self.data_dir = data_dir
        self.log_path = data_dir / f"webapp-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> WebappProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phoenyra.webapp", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"web app exited early:\n{self.log()}")
            try:
                r = httpx.get(f"{self.base_url}/readyz", timeout=1)
                if r.status_code == 200 and r.json()["relay"]["connected"]:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"web app not ready after {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(autouse=True)
def battery_half_full(request):
    """The web app trades as the exchange's demo account, which is linked to the default
    battery: orders need its state of charge, so report 50 % (tests without an exchange skip)."""
    if "exchange" in request.fixturenames:
        from support import set_soc

        set_soc(request.getfixturevalue("exchange"), 50.0)
