"""Secure response headers and the refusal to listen publicly without secrets."""

from __future__ import annotations

import ipaddress

from flask import Flask, request

from ..config import ConfigError
from .settings import WebSettings

# No inline scripts: pages load their JS from /static and read the CSRF token from a <meta>.
# Inline styles stay allowed because chart libraries (ApexCharts) set style attributes.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def install_secure_headers(app: Flask) -> None:
    @app.after_request
    def secure_headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def is_local(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_startup(host: str, config: WebSettings) -> None:
    """Raise ConfigError (saying what to set) when the web app must not listen on ``host``."""
    problems = []
    local = is_local(host)
    if not local:
        if config.secret_key_is_weak:
            problems.append("WEBAPP_SECRET_KEY must be set to a random secret of 32+ characters")
        if not config.admin_password or len(config.admin_password) < 12:
            problems.append("WEBAPP_ADMIN_PASSWORD must be set (12+ characters)")
    if not config.is_dev:
        if config.secret_key_is_weak and local:
            problems.append("WEBAPP_SECRET_KEY must be set outside development mode")
        if not config.api_key:
            problems.append("API_KEY (the exchange key the web app uses) must be set")
        if not config.hmac_secret:
            problems.append("HMAC_SECRET must be set to sign the exchange's event stream")
    if problems:
        where = f"on {host}" if not local else "outside development mode"
        raise ConfigError(
            f"refusing to start the web app {where}: "
            + "; ".join(problems)
            + (". Listen on 127.0.0.1 for a local demo." if not local else ".")
        )
