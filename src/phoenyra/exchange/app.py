"""The exchange's FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from pathlib import Path

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from .. import core
from ..config import Settings
from ..core.errors import Reject
from ..requestlog import RequestIds
from ..runtime import tune_gc
from .deps import json_response
from .gateway import Gateways
from .routes import accounts, bess, config, health, market, orders, schedule, trades, ws
from .routes.models import OrderIn
from .service import ExchangeService
from .store import Store

log = logging.getLogger("phoenyra.exchange")
_BODY_HEADERS = (b"content-length", b"content-type")
# Swagger UI for /docs, vendored from npm by `make assets` (scripts/vendor-assets.mjs) and served
# from here: FastAPI's default page loads it from a CDN, blank in an offline control room.
DOCS_STATIC = Path(__file__).parent / "static"
DOCS_STATIC_URL = "/docs-static"

DESCRIPTION = """
The Phoenyra BESS Trade exchange: limit orders for the EPEX markets (AT, DE-LU, CH, IT-North)
matched by price–time priority, SoC-aware risk checks for battery accounts, durable storage and
live events.

Units: energy **MWh**, power **MW**, price **EUR/MWh**, SoC **percent**, times **ISO 8601 UTC**.
A BUY charges the battery, a SELL discharges it. Authenticate with the `X-API-Key` header.
Errors are `{"error": {"code", "message"}}`; a refusal adds its figures as further fields
(INVALID_TICK: `market`, `price`, `tick`; THROTTLED: `retry_after`; VALIDATION_ERROR: `details`,
each with `field`, `problem` and pydantic's `type`; ...).
"""


class BodyLimit:
    """Refuses request bodies over the limit with 413, before the app reads them."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    return await self._refuse(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        response = json_response(
            {
                "error": {
                    "code": "BODY_TOO_LARGE",
                    "message": f"Request bodies are limited to {self.max_bytes} bytes.",
                }
            },
            413,
        )
        await response(scope, receive, send)


def _limits(ctx) -> dict:
    """A validation error's numeric limits (gt, ge, lt, le, min_length, max_length), never
    other context (an expected pattern, an exception)."""
    if not isinstance(ctx, dict):
        return {}
    return {
        k: v
        for k, v in ctx.items()
        if k in ("gt", "ge", "lt", "le", "min_length", "max_length")
        and isinstance(v, int | float)
        and not isinstance(v, bool)
    }


class _TooLarge(BaseException):
    """Raised from inside the app's receive when a body without Content-Length passes the
    limit. Not an Exception: the handlers on its way (FastAPI's body parsing answers 400 to
    any Exception, the order path's catch-all 500) must let it through to ``BodyLimit``."""


class ExchangeApp(FastAPI):
    """FastAPI with the order path in front of its middleware stack.

    POST /api/orders is the exchange's hot path. Measured on this project's 2-vCPU VM, the
    stack in front of a route (Starlette's error and exception middleware, FastAPI's telemetry,
    body-limit and exit-stack layers, the router) cost about as much server CPU as the order
    itself, and FastAPI's per-route machinery as much again. ``order_entry`` runs the same
    documented handler (``routes/orders.py``) behind our own request-id/timing and body-limit
    middleware, and answers errors with the same exception handlers as every other route.
    Everything else, including other methods on /api/orders, goes through FastAPI.
    """

    order_entry = None  # set by create_app: an ASGI app

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["path"] == "/api/orders"
            and scope["method"] == "POST"
            and self.order_entry is not None
        ):
            scope["app"] = self
            await self.order_entry(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class RequestTimer:
    """The request-duration histogram per route template, fed by ``RequestIds`` at the end of
    each request (one middleware layer fewer on the order path); labelled children cached."""

    def __init__(self, service: ExchangeService) -> None:
        self.histogram = service.metrics.http
        self.children: dict[tuple[str, str, int], object] = {}

    def __call__(self, scope: dict, status: int, seconds: float) -> None:
        route = scope.get("route")
        self.observe(scope["method"], getattr(route, "path", "unmatched"), status, seconds)

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        key = (method, path, status)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = self.histogram.labels(key[0], key[1], str(status))
        child.observe(seconds)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    settings.check_secrets()
    store = store or Store(settings.effective_database_url, settings.sqlite_synchronous)
    service = ExchangeService(settings, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        service.load()
        # The cyclic GC, not the order path, set the tail latency: with the default
        # thresholds (700, 10, 10) a full collection ran every ~1 s under load and paused the
        # loop for 60-120 ms, walking every object of the books and the imported modules.
        tune_gc()
        await service.start()
        gateways = None
        plan = getattr(app.state, "gateway_plan", None)
        if plan is not None:
            gateways = Gateways(app, *plan)
            await gateways.start()
        log.info(
            "exchange ready",
            extra={"database": store.dialect, "env": settings.env, "core": core.describe()},
        )
        try:
            yield
        finally:
            if gateways is not None:  # they finish their requests through this process first
                await gateways.stop()
            # The optimiser's auto-trading loop places orders: end it before storage closes.
            auto = getattr(app.state, "schedule_auto", None)
            if auto is not None and auto.task is not None:
                auto.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await auto.task
            await service.stop()

    app = ExchangeApp(
        title="Phoenyra BESS Trade — Exchange",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /api/orders/ is not /api/orders: a 404, not a 307 that a client may follow with its
        # POST body or not.
        redirect_slashes=False,
        # FastAPI's own /docs and /redoc load their scripts from a CDN: /docs is ours, below.
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service

    def error(code: str, message: str, status: int, headers=None, **extra):
        service.metrics.errors.labels(code).inc()
        return json_response(
            {"error": {"code": code, "message": message, **extra}}, status, headers
        )

    @app.exception_handler(Reject)
    async def on_reject(request: Request, exc: Reject):
        headers = None
        if exc.status == 429:
            headers = {"Retry-After": str(max(1, math.ceil(exc.details.get("retry_after", 1))))}
        return error(
            exc.code, exc.message, exc.status, headers, **{k: v for k, v in exc.details.items()}
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errs):
            return error("MALFORMED_JSON", "The request body is not valid JSON.", 422)
        details = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "problem": e.get("msg", ""),
                # pydantic's error type (missing, float_type, greater_than, ...) and its
                # limits, for clients that say the problem in their own words
                "type": e.get("type", ""),
                **_limits(e.get("ctx")),
            }
            for e in errs
        ]
        message = "; ".join(f"{d['field'] or 'body'}: {d['problem']}" for d in details)
        return error("VALIDATION_ERROR", message, 422, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
        return error(codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail), exc.status_code)

    def crashed(path: str):
        """The answer to an unexpected exception, logged with its traceback (call in except)."""
        log.exception("unhandled error", extra={"path": path})
        return error("INTERNAL", "Internal error; it was logged.", 500)

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception):
        return crashed(request.url.path)

    for module in (orders, trades, accounts, bess, market, config, health, ws, schedule):
        app.include_router(module.router)
    add_docs(app, error)
    # The documented route of POST /api/orders: its path labels the order path's metrics.
    order_route = next(
        r for r in orders.router.routes if r.path == "/api/orders" and "POST" in r.methods
    )

    async def order_entry(scope, receive, send):
        scope["route"] = order_route
        request = Request(scope, receive)
        try:
            response = await orders.place_order(request)
        except Exception as exc:
            # The handler registered for the nearest class, as Starlette looks it up.
            handlers = app.exception_handlers
            kind = next(k for k in type(exc).__mro__ if k in handlers)
            response = await handlers[kind](request, exc)
        await response(scope, receive, send)

    timer = RequestTimer(service)

    async def gateway_order(api_key: str | None, req, request_id: str):
        """POST /api/orders for an order gateway, which parsed a valid body (gateway.py):
        the handler's steps after parsing, answered as (status, JSON bytes, extra headers)."""
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            account = await orders.trading_account(service, api_key)
            status, out = await service.place_order(account, req)
            return status, orjson.dumps(out), ()
        except Reject as exc:
            response = await on_reject(None, exc)
        except Exception:
            response = crashed("/api/orders")
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
        extra = [(k, v) for k, v in response.raw_headers if k not in _BODY_HEADERS]
        return response.status_code, response.body, extra

    app.state.gateway_order = gateway_order
    app.state.gateway_observe = timer.observe
    app.order_entry = RequestIds(
        BodyLimit(order_entry, max_bytes=settings.max_body_bytes),
        access_log=settings.access_log,
        observe=timer,
    )
    generate_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schemas = generate_openapi()["components"]["schemas"]
            order_in = OrderIn.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(order_in.pop("$defs", {}))
            schemas["OrderIn"] = order_in
        return app.openapi_schema

    app.openapi = openapi
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIds, access_log=settings.access_log, observe=timer)
    return app


class _RouteMount(Mount):
    """A mount that names itself as the request's route, so the request-duration histogram
    labels its requests with its path, not as unmatched."""

    def matches(self, scope):
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def add_docs(app: FastAPI, error) -> None:
    """GET /docs: Swagger UI on /openapi.json, its script and stylesheet served by the exchange
    under /docs-static/ (no CDN). Without the vendored files /docs says how to build them."""
    swagger = DOCS_STATIC / "swagger"
    if not (swagger / "swagger-ui-bundle.js").is_file():
        log.warning("API docs unavailable: Swagger UI is not built (run `make assets`)")

        @app.get("/docs", include_in_schema=False)
        async def docs_missing():
            message = "The API docs' Swagger UI is not built: run `make assets`."
            return error("DOCS_NOT_BUILT", message, 503)

        return

    files = StaticFiles(directory=DOCS_STATIC)
    app.router.routes.append(_RouteMount(DOCS_STATIC_URL, app=files, name="docs-static"))

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        static = f"{root}{DOCS_STATIC_URL}/swagger"
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} — API docs",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
            oauth2_redirect_url=None,
            # No badge fetched from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )


def create_app_from_env() -> FastAPI:
    """The app factory ``phoenyra exchange --reload`` hands uvicorn: its reloader imports the
    app afresh in a new process, which must set up logging itself."""
    from ..logs import setup_logging

    setup_logging("exchange")
    return create_app(Settings())
