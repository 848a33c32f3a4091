"""Helpers of the web app tests: its environment, signing in, CSRF tokens, a real web app
process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from support import ROOT, ServiceProcess

REDIS_URL = "redis://127.0.0.1:6379/0"

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


class WebappProcess(ServiceProcess):
    """``python -m phoenyra.webapp`` in its own process; ready once its relay is connected."""

    name = "webapp"
    timeout = 20.0

    def __init__(self, exchange, data_dir: Path, **extra: str) -> None:
        super().__init__(["phoenyra.webapp"], data_dir, webapp_env(exchange, data_dir, **extra))

    def ready(self, response: httpx.Response) -> bool:
        return response.status_code == 200 and response.json()["relay"]["connected"]


def run_webapp_command(data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """`python -m phoenyra.webapp` in development mode with only ``env`` set, expected to exit
    (a refused start); its exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "phoenyra.webapp", "--port", "5999"],
        env={
            "PATH": "/usr/bin:/bin",
            "PHOENYRA_ENV": "development",
            "PHOENYRA_DATA_DIR": str(data_dir),
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
