"""The web app's Prometheus metrics (``/metrics``) and request ids.

``/metrics`` is served by a WSGI dispatcher in front of Flask, so neither the sign-in check nor
CSRF applies to it and scraping does not count as a page request. The TLS proxy of the
container setup does not forward it: Prometheus scrapes the web app on its internal port.

Every request gets an id (the caller's ``X-Request-ID`` when it is safe to reuse, else a new
one): it is bound to the log context, so each log line of the request carries it, and it is
sent back in the ``X-Request-ID`` response header.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from ..exchange.metrics import LATENCY_BUCKETS

_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RelayCollector(Collector):
    """The relay's state read at scrape time (the relay thread keeps plain attributes)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        relay = self.app.extensions["phoenyra"].relay
        connected = GaugeMetricFamily(
            "phoenyra_webapp_exchange_stream_connected",
            "1 while the web app is connected to the exchange's event stream",
        )
        connected.add_metric([], 1.0 if relay.connected else 0.0)
        relayed = CounterMetricFamily(
            "phoenyra_webapp_events_relayed",
            "Exchange events relayed to browsers over Socket.IO",
        )
        relayed.add_metric([], relay.events_relayed)
        yield from (connected, relayed)


class SecurityCollector(Collector):
    """Sign-in lockouts and requests refused for their Host, counted by this process."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        state = self.app.extensions["phoenyra"]
        lockouts = CounterMetricFamily(
            "phoenyra_webapp_sign_in_lockouts",
            "Sign-in lockouts: a user name or client address reached its limit of failed "
            "sign-ins in the window (WEBAPP_SIGNIN_*)",
            labels=["scope"],
        )
        for scope, count in state.signin_limit.lockouts.items():
            lockouts.add_metric([scope], count)
        refused = CounterMetricFamily(
            "phoenyra_webapp_host_not_allowed_requests",
            "Requests refused because their Host is not in WEBAPP_ALLOWED_HOSTS",
        )
        refused.add_metric([], state.allowed_hosts.refused)
        yield from (lockouts, refused)


def install_metrics(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry()
    duration = Histogram(
        "phoenyra_webapp_http_request_duration_seconds",
        "Web app HTTP request duration (seconds), by route template and status",
        ["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    registry.register(RelayCollector(app))
    registry.register(SecurityCollector(app))

    @app.before_request
    def start_request():
        offered = request.headers.get("X-Request-ID", "")
        g.request_id = offered if _SAFE_ID.fullmatch(offered) else uuid.uuid4().hex
        g.request_started = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def end_request(response):
        started = g.get("request_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            duration.labels(request.method, route, str(response.status_code)).observe(
                time.perf_counter() - started
            )
            response.headers["X-Request-ID"] = g.request_id
        return response

    @app.teardown_request
    def forget_request(_exc):
        structlog.contextvars.unbind_contextvars("request_id")

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": make_wsgi_app(registry)})
    return registry
