"""The web app refuses to listen on a non-local address without a secret key and admin password."""

import subprocess
import sys

import pytest

from phoenyra.config import ConfigError
from phoenyra.webapp import WebSettings, check_startup
from support import ROOT

STRONG = {
    "PHOENYRA_ENV": "production",
    "API_KEY": "k" * 32,
    "HMAC_SECRET": "h" * 32,
    "WEBAPP_SECRET_KEY": "s" * 40,
    "WEBAPP_ADMIN_PASSWORD": "a-long-admin-password",
}


def settings(**values):
    return WebSettings.from_mapping(values)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::"])
def test_public_address_without_secret_key_or_admin_password_is_refused(host):
    with pytest.raises(ConfigError) as refused:
        check_startup(host, settings(PHOENYRA_ENV="development"))
    message = str(refused.value)
    assert "WEBAPP_SECRET_KEY" in message and "WEBAPP_ADMIN_PASSWORD" in message
    with pytest.raises(ConfigError, match="WEBAPP_ADMIN_PASSWORD"):
        check_startup(host, settings(**{**STRONG, "WEBAPP_ADMIN_PASSWORD": ""}))
    with pytest.raises(ConfigError, match="WEBAPP_SECRET_KEY"):
        check_startup(host, settings(**{**STRONG, "WEBAPP_SECRET_KEY": "short"}))


def test_public_address_with_secrets_is_allowed():
    check_startup("0.0.0.0", settings(**STRONG))


def test_local_development_needs_no_secrets():
    check_startup("127.0.0.1", settings(PHOENYRA_ENV="development"))
    check_startup("localhost", settings(PHOENYRA_ENV="development"))


def test_production_needs_secret_key_and_exchange_secrets_even_locally():
    with pytest.raises(ConfigError, match="API_KEY"):
        check_startup("127.0.0.1", settings(**{**STRONG, "API_KEY": ""}))


def test_the_command_exits_with_the_reason(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PHOENYRA_ENV": "development",
        "PHOENYRA_DATA_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "-m", "phoenyra.webapp", "--host", "0.0.0.0", "--port", "5999"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert "refusing to start the web app on 0.0.0.0" in r.stderr
