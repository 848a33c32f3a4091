"""The Flask app factory and the ``run`` entry (``phoenyra webapp``)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template, request, session, url_for
from flask_compress import Compress
from flask_socketio import SocketIO, join_room
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from whitenoise import WhiteNoise

from ..tls import check_server_pair, client_context
from . import auth, i18n, passthrough, views
from .auth import json_error, load_user, wants_json
from .exchange_client import ExchangeClient
from .hosts import AllowedHosts
from .live import LiveSockets
from .metrics import install_metrics
from .relay import ROOM_ADMINS, ROOM_ALL, ExchangeRelay
from .security import check_startup, install_secure_headers
from .sessions import install_sessions
from .settings import WebSettings
from .signin_limit import SignInLimiter
from .users import UserStore

log = logging.getLogger("phoenyra.webapp")

STATIC = Path(__file__).parent / "static"
# Built by `make assets` (npm ci && npm run build): Tailwind CSS and the vendored npm packages.
BUILT_ASSETS = (
    "build/app.css",
    "vendor/apexcharts/apexcharts.min.js",
    "vendor/socket.io/socket.io.min.js",
)


def _static_headers(headers, path: str, url: str) -> None:
    headers["X-Content-Type-Options"] = "nosniff"


def _asset_versions() -> dict[str, str]:
    """A version per static file (its mtime), so URLs change when a file does and browsers may
    cache them for long."""
    return {
        str(p.relative_to(STATIC)): format(int(p.stat().st_mtime), "x")
        for p in STATIC.rglob("*")
        if p.is_file() and p.suffix not in (".gz", ".br")
    }


@dataclass
class WebState:
    settings: WebSettings
    users: UserStore
    exchange: ExchangeClient
    socketio: SocketIO
    relay: ExchangeRelay
    redis: Any | None
    signin_limit: SignInLimiter
    allowed_hosts: AllowedHosts
    live: LiveSockets


def _settings(settings_or_env: WebSettings | Mapping[str, Any] | None) -> WebSettings:
    if isinstance(settings_or_env, WebSettings):
        return settings_or_env
    return WebSettings.load(settings_or_env)


def create_app(settings_or_env: WebSettings | Mapping[str, Any] | None = None) -> Flask:
    settings = _settings(settings_or_env)
    app = Flask(__name__)
    app.config.update(
        # Signs the CSRF tokens (the sessions are kept server-side: sessions.py). Local
        # development without a configured key: a random one per process (pages open across a
        # restart must be reloaded before sending a form). check_startup refuses this elsewhere.
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        DEBUG=settings.debug,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="phoenyra_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=1 << 20,
        # The token is bound to the session; a dashboard stays open all day.
        WTF_CSRF_TIME_LIMIT=None,
        # Static URLs carry a version (asset()), so they may be cached for long.
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(days=30),
        COMPRESS_MIMETYPES=[
            "text/html",
            "text/css",
            "text/csv",
            "application/javascript",
            "text/javascript",
            "application/json",
            "image/svg+xml",
        ],
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_MIN_SIZE=1024,
    )
    missing = [f for f in BUILT_ASSETS if not (STATIC / f).is_file()]
    if missing:
        log.warning(
            "web app assets are not built (%s missing): the pages will lack their styles and "
            "charts; run `make assets` (npm ci && npm run build)",
            ", ".join(missing),
        )
    versions = _asset_versions()

    # Server-side sessions (Redis, or files under the data directory): sign-out ends them.
    redis_client = install_sessions(app, settings)

    # Static files bypass Flask: WhiteNoise serves them with the .br/.gz variants `make assets`
    # compressed ahead of time, and long cache lifetimes (their URLs carry a version).
    app.wsgi_app = WhiteNoise(
        app.wsgi_app,
        root=STATIC,
        prefix="static/",
        max_age=30 * 86400,
        allow_all_origins=False,
        add_headers_function=_static_headers,
        # In development the files change under a running app: look at each one as it is
        # asked for (otherwise the size read at start cuts an edited file short).
        autorefresh=settings.is_dev,
    )
    CSRFProtect(app)
    Compress(app)  # pages and API answers, compressed as they are made
    install_secure_headers(app)
    i18n.init_app(app)

    users = UserStore(settings.users_db)
    if settings.admin_password:
        users.ensure_admin(settings.admin_user, settings.admin_password)

    exchange = ExchangeClient(
        settings.exchange_base_url,
        settings.effective_api_key,
        settings.exchange_timeout_s,
        verify=client_context(settings.exchange_ca_file),
    )
    socketio = SocketIO(
        app,
        async_mode="threading",
        # The session is the Flask one (server-side), so sign-out also ends socket access.
        manage_session=False,
        message_queue=settings.redis_url,
        channel=f"{settings.redis_prefix}socketio",
        # Same origin only: None checks Origin against this host (and a trusted proxy's
        # X-Forwarded-Proto/-Host); an empty list would switch the check off.
        cors_allowed_origins=None,
        logger=False,
        engineio_logger=False,
    )
    relay = ExchangeRelay(socketio, settings, exchange, redis_client)
    allowed_hosts = AllowedHosts.for_app(settings.allowed_hosts, settings.host)
    app.extensions["phoenyra"] = WebState(
        settings,
        users,
        exchange,
        socketio,
        relay,
        redis_client,
        SignInLimiter.for_settings(settings, redis_client),
        allowed_hosts,
        LiveSockets(socketio, app, users),
    )

    install_metrics(app)
    app.before_request(auth.require_sign_in)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(passthrough.bp)

    @app.context_processor
    def inject_user():
        from flask import g

        def asset(filename: str) -> str:
            return url_for("static", filename=filename, v=versions.get(filename))

        return {
            "current_user": getattr(g, "user", None),
            "login_disabled": settings.login_disabled,
            "asset": asset,
        }

    # Outermost, so that no part of the app (Socket.IO, static files, /metrics included) answers
    # a Host that is not allowed; behind a trusted proxy, after its X-Forwarded-* are applied.
    app.wsgi_app = allowed_hosts.middleware(app.wsgi_app)
    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        """4xx/5xx answers in the app's shape: JSON on the API paths, the error page elsewhere
        (Werkzeug's bare pages, and an HTML 413 on an API path, otherwise). A CSRF refusal
        has its own, more specific handler below."""
        if exc.code is None or exc.code < 400:
            return exc  # redirects
        code = exc.name.upper().replace(" ", "_")
        if wants_json() or request.is_json:
            return json_error(exc.code, code, exc.description or exc.name)
        return render_template(
            "error.html", message=f"{exc.code} {exc.name}: {exc.description}"
        ), exc.code

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError):
        message = f"CSRF check failed: {exc.description} Reload the page and try again."
        if wants_json() or request.is_json:
            return json_error(400, "CSRF_FAILED", message)
        return render_template("error.html", message=message), 400

    @socketio.on("connect")
    def on_connect(auth_data=None):
        user = load_user()
        if user is None:
            return False  # refuse: not signed in
        if not settings.login_disabled:  # the socket ends with the session that opened it
            app.extensions["phoenyra"].live.opened(request.sid, session.sid)
        join_room(ROOM_ALL)
        if user.is_admin:
            join_room(ROOM_ADMINS)
        return True

    @socketio.on("disconnect")
    def on_disconnect(reason=None):
        app.extensions["phoenyra"].live.closed(request.sid)

    return app


def run(host: str | None = None, port: int | None = None, settings: WebSettings | None = None):
    """Serve the web app (HTTP and Socket.IO) and relay the exchange's events until stopped."""
    settings = settings or WebSettings.load()
    host = host or settings.host
    port = port or settings.port
    # The address given on the command line is a name clients may use (allowed_hosts).
    settings = settings.model_copy(update={"host": host, "port": port})
    check_startup(host, settings)
    tls = check_server_pair(settings.tls_cert_file, settings.tls_key_file)
    app = create_app(settings)
    state: WebState = app.extensions["phoenyra"]
    state.relay.start()
    state.live.start()
    scheme = "https" if tls else "http"
    log.info("web app on %s://%s:%s (exchange %s)", scheme, host, port, settings.exchange_base_url)
    log.info(
        "web app answers to the hosts %s (WEBAPP_ALLOWED_HOSTS adds names)",
        ", ".join(state.allowed_hosts.entries),
    )
    if not settings.debug:
        # Werkzeug's start-up banner (its address, which the line above gives, and a coloured
        # "development server, do not use in production" written into log files as escape
        # codes) is INFO: the threaded server is this app's server by choice (above).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    try:
        state.socketio.run(
            app,
            host=host,
            port=port,
            debug=False,
            use_reloader=False,
            log_output=settings.debug,
            # threading mode serves with Werkzeug's threaded server (WebSocket via
            # simple-websocket); fine for a control room's handful of users.
            allow_unsafe_werkzeug=True,
            ssl_context=(str(settings.tls_cert_file), str(settings.tls_key_file)) if tls else None,
        )
    finally:
        state.relay.stop()
        state.live.stop()
