"""The ``phoenyra`` command."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time

import click
from pydantic import ValidationError

from .config import ConfigError, Settings, describe_invalid


def _settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.markets  # validate market overrides early
        return settings
    except ValidationError as exc:
        raise click.ClickException(
            f"configuration error: invalid setting: {describe_invalid(exc)}"
        ) from exc
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def _exchange_verify(settings: Settings):
    """How the feed and the telemetry service verify an https exchange (EXCHANGE_CA_FILE)."""
    from .tls import client_context

    try:
        return client_context(settings.exchange_ca_file)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


def _setup_logging(service: str, level: str = "INFO") -> None:
    from .logs import setup_logging

    try:
        setup_logging(service, level)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


@click.group()
@click.version_option(package_name="phoenyra-bess-trade")
def main() -> None:
    """Phoenyra BESS Trade: trade and operate battery energy storage."""


@main.command()
@click.option(
    "--host", default=None, help="Address to listen on (default EXCHANGE_HOST or 127.0.0.1)"
)
@click.option("--port", default=None, type=int, help="Port (default EXCHANGE_PORT or 9000)")
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--reload", is_flag=True, help="Development: restart when the source changes (uvicorn)"
)
@click.option(
    "--gateways",
    default=None,
    type=click.IntRange(0, 32),
    help="HTTP in N gateway processes in front of the matching core "
    "(default EXCHANGE_GATEWAYS or 0: one process)",
)
def exchange(
    host: str | None, port: int | None, log_level: str, reload: bool, gateways: int | None
) -> None:
    """Run the exchange (FastAPI) on port 9000; database from DATABASE_URL or data/exchange.db;
    HTTPS with TLS_CERT_FILE and TLS_KEY_FILE."""
    import uvicorn

    from .exchange.app import create_app
    from .tls import check_server_pair

    settings = _settings()
    _setup_logging("exchange", log_level)
    try:
        tls = check_server_pair(settings.tls_cert_file, settings.tls_key_file)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    options = {
        "host": host or settings.exchange_host,
        "port": port or settings.exchange_port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
        # uvicorn parses forwarded headers on every request by default; only a proxy in front
        # (compose: Caddy, whose address is not known in advance) makes them worth trusting.
        "proxy_headers": settings.exchange_trust_proxy,
        "forwarded_allow_ips": "*" if settings.exchange_trust_proxy else None,
    }
    if tls:
        options |= {
            "ssl_certfile": str(settings.tls_cert_file),
            "ssl_keyfile": str(settings.tls_key_file),
        }
    gateways = settings.exchange_gateways if gateways is None else gateways
    if reload and gateways:
        raise click.ClickException(
            "--reload runs one process: set EXCHANGE_GATEWAYS=0 (or --gateways 0) with it"
        )
    if reload:
        # uvicorn's reloader needs an import string; the worker process builds the app itself.
        import phoenyra

        src = os.path.dirname(phoenyra.__file__)
        uvicorn.run(
            "phoenyra.exchange.app:create_app_from_env",
            factory=True,
            reload=True,
            reload_dirs=[src],
            **options,
        )
        return
    try:
        app = create_app(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if not gateways:
        from .httpwrite import CoalescingHttpTools

        uvicorn.run(app, loop="uvloop", http=CoalescingHttpTools, **options)
        return
    # The core binds the socket and accepts nothing itself; its gateways share the socket.
    config = uvicorn.Config(app, loop="uvloop", **options)
    try:
        listen = config.bind_socket()
    except SystemExit as exc:  # uvicorn logged why (address in use, ...)
        raise click.ClickException(f"cannot listen on {options['host']}:{options['port']}") from exc
    listen.listen(2048)
    listen.set_inheritable(True)
    app.state.gateway_plan = (
        listen,
        gateways,
        {k: v for k, v in options.items() if k != "log_config"} | {"log_level": log_level},
    )
    uvicorn.Server(config).run(sockets=[])


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--tls",
    is_flag=True,
    help="HTTPS and WSS for the exchange and the web app with a self-signed certificate "
    "(made under DATA_DIR/tls, kept across starts) unless TLS_CERT_FILE/TLS_KEY_FILE are set",
)
def up(host: str, tls: bool) -> None:
    """Run the whole system on this machine (development mode, SQLite under ./data)."""
    from .supervisor import Child, Supervisor
    from .tls import check_server_pair, generate_self_signed

    env = dict(os.environ)
    env.setdefault("PHOENYRA_ENV", "development")
    # A person reads these logs (also when they are piped into a file or `tee`).
    env.setdefault("LOG_FORMAT", "console")
    try:
        settings = Settings(**{"PHOENYRA_ENV": env["PHOENYRA_ENV"]})
        tls = check_server_pair(settings.tls_cert_file, settings.tls_key_file) or tls
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    if tls and not settings.tls_cert_file:
        hosts = list(dict.fromkeys([host, "localhost", "127.0.0.1"]))
        cert, key, ca = generate_self_signed(settings.data_dir / "tls", hosts)
        env |= {"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key)}
        env.setdefault("EXCHANGE_CA_FILE", str(ca))
    scheme = "https" if tls else "http"
    port = settings.exchange_port
    env.setdefault("EXCHANGE_URL", f"{scheme}://{host}:{port}")
    source = settings.market_source or (
        "entsoe" if settings.entso_e_token else "awattar (synthetic when offline)"
    )
    real_battery = any(
        env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}
        for name in ("BESS_MODBUS_ENABLED", "BESS_MQTT_ENABLED")
    )
    web_port = env.get("WEBAPP_PORT", "5000")
    if not real_battery:
        # The simulated battery reports every 5 s so the dashboard is lively (the spec asks
        # for at least every 10 s); a real one keeps BESS_UPDATE_INTERVAL.
        env.setdefault("BESS_UPDATE_INTERVAL", "5")
    telemetry_s = float(env.get("BESS_UPDATE_INTERVAL", settings.bess_update_interval))
    counterparty = settings.is_dev and env.get("PHOENYRA_DEMO_COUNTERPARTY", "true").lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
    if env.get("WEBAPP_ADMIN_PASSWORD"):
        sign_in = f"sign in as {env.get('WEBAPP_ADMIN_USER', 'admin')} with WEBAPP_ADMIN_PASSWORD"
    elif settings.is_dev:
        sign_in = "development: no sign-in; set WEBAPP_ADMIN_PASSWORD to require it"
    else:
        sign_in = "set WEBAPP_ADMIN_PASSWORD for the first admin"
    ca_note = (
        f"\n  TLS          certificate {env['TLS_CERT_FILE']}"
        + (f", trust {env['EXCHANGE_CA_FILE']}" if env.get("EXCHANGE_CA_FILE") else "")
        if tls
        else ""
    )
    click.echo(
        "Phoenyra BESS Trade\n"
        f"  web app      {scheme}://{host}:{web_port}   ({sign_in})\n"
        f"  exchange     {scheme}://{host}:{port}   (API docs: {scheme}://{host}:{port}/docs)\n"
        f"  API key      {settings.effective_api_key if settings.is_dev else '(from API_KEY)'}"
        "   (header X-API-Key)\n"
        f"  market feed  {settings.market} from {source}, every {settings.update_interval:g} s"
        f"   (health: http://{host}:{settings.feed_port}/readyz)\n"
        f"  battery      {'configured (BESS_*)' if real_battery else 'simulated (Modbus TCP)'}"
        f", telemetry every {telemetry_s:g} s"
        f"   (health: http://{host}:{settings.telemetry_port}/readyz)\n"
        + (
            "  counterparty simulated market maker quoting around the day-ahead price"
            " (PHOENYRA_DEMO_COUNTERPARTY=false turns it off)\n"
            if counterparty
            else ""
        )
        + f"  metrics      {scheme}://{host}:{port}/metrics, http://{host}:{settings.feed_port}/metrics,"
        f" http://{host}:{settings.telemetry_port}/metrics, {scheme}://{host}:{web_port}/metrics\n"
        f"  data         {settings.data_dir.resolve()}"
        f"{ca_note}\n"
        "Ctrl-C stops everything; a service that dies is restarted."
    )
    py = [sys.executable, "-m", "phoenyra.cli"]
    service_env = {**env, "EXCHANGE_HOST": host}
    ready_ssl = None
    if tls:
        import ssl

        ready_ssl = ssl.create_default_context(cafile=env.get("EXCHANGE_CA_FILE"))
        if not env.get("EXCHANGE_CA_FILE"):
            # Only asks our own child whether it is up; the services themselves verify.
            ready_ssl.check_hostname = False
            ready_ssl.verify_mode = ssl.CERT_NONE
    children = [
        Child(
            "exchange",
            [*py, "exchange", "--host", host, "--port", str(port)],
            env,
            ready_url=f"{scheme}://{host}:{port}/readyz",
            ready_ssl=ready_ssl,
        ),
        Child("market-feed", [*py, "market-feed"], service_env),
    ]
    if not real_battery:
        # No battery configured: a simulated one over real Modbus TCP, polled by the service.
        sim_port = env.get("BESS_SIMULATOR_PORT", "5020")
        children.append(
            Child(
                "simulate-bess",
                [*py, "simulate-bess", "--host", host, "--port", sim_port],
                service_env,
            )
        )
        service_env = {
            **service_env,
            "BESS_MODBUS_ENABLED": "true",
            "BESS_MODBUS_HOST": host,
            "BESS_MODBUS_PORT": sim_port,
            # The simulated battery runs the power its trades ask for (GET /api/bess/dispatch).
            "BESS_MODBUS_DISPATCH": env.get("BESS_MODBUS_DISPATCH", "true"),
        }
    children.append(Child("bess-telemetry", [*py, "bess-telemetry"], service_env))
    children.append(
        Child(
            "webapp",
            [*py, "webapp", "--host", host, "--port", web_port],
            {**env, "EXCHANGE_BASE_URL": env["EXCHANGE_URL"]},
        )
    )
    if counterparty:
        children.append(Child("simulate-market", [*py, "simulate-market"], service_env))
    sys.exit(Supervisor(children).run())


@main.command()
@click.option(
    "--host", default=None, help="Address to listen on (default WEBAPP_HOST or 127.0.0.1)"
)
@click.option("--port", default=None, type=int, help="Port (default WEBAPP_PORT or 5000)")
@click.option("--log-level", default="INFO", show_default=True)
def webapp(host: str | None, port: int | None, log_level: str) -> None:
    """Run the web app (Flask + Socket.IO) on port 5000; it talks to the exchange at
    EXCHANGE_BASE_URL."""
    from .webapp import run

    _setup_logging("webapp", log_level)
    try:
        run(host, port)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


# -- market feed ----------------------------------------------------------------------------
def _zone_of(settings: Settings, market: str) -> str:
    spec = settings.markets.get(market)
    if spec is None:
        raise click.ClickException(
            f"unknown market {market!r}; choose one of {', '.join(sorted(settings.markets))}"
        )
    return spec.zone


def _feed_key(settings: Settings) -> str:
    key = settings.effective_feed_api_key
    if not key:
        raise click.ClickException(
            "FEED_API_KEY is not set: create a key with `phoenyra accounts create market-feed "
            "--role feed` and export it (development mode uses the demo key)"
        )
    return key


async def _dev_fallback(source, settings: Settings, zone: str):
    """In development without a token or network, run on synthetic prices (and say so)."""
    from .feed.model import BadRequestError, NetworkError
    from .feed.runner import local_days
    from .feed.sources import make_source

    if settings.market_source or not settings.is_dev:
        return source
    try:
        await source.fetch(zone, *local_days(time.time()))
        return source
    except (NetworkError, BadRequestError) as exc:
        import logging

        logging.getLogger("phoenyra.feed").warning(
            "%s; using SIMULATED prices (synthetic source) for the demo. Set ENTSO_E_TOKEN or "
            "MARKET_SOURCE for real prices.",
            exc.message,
        )
        await source.aclose()
        return make_source("synthetic", settings)


@main.command("market-feed")
@click.option(
    "--once", is_flag=True, help="Run one fetch-and-push cycle and exit (status 1 on failure)"
)
@click.option("--log-level", default="INFO", show_default=True)
def market_feed(once: bool, log_level: str) -> None:
    """Fetch day-ahead prices (today and tomorrow) every UPDATE_INTERVAL s and push them to the
    exchange. Source: MARKET_SOURCE (entsoe with ENTSO_E_TOKEN, else awattar; synthetic,
    csv:PATH)."""
    import logging

    import httpx

    from .feed.runner import FeedRunner
    from .feed.sources import make_source

    settings = _settings()
    _setup_logging("market-feed", log_level)
    zone = _zone_of(settings, settings.market)
    key = _feed_key(settings)
    verify = _exchange_verify(settings)
    try:
        source = make_source(settings.effective_market_source, settings)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc

    async def run() -> int:
        nonlocal source
        source = await _dev_fallback(source, settings, zone)
        runner = FeedRunner(
            source,
            market=settings.market,
            zone=zone,
            exchange_url=settings.exchange_url,
            api_key=key,
            interval=settings.update_interval,
            client=httpx.AsyncClient(timeout=15.0, verify=verify),
        )
        logging.getLogger("phoenyra.feed").info(
            "market feed started",
            extra={
                "market": settings.market,
                "zone": zone,
                "source": source.name,
                "simulated": source.simulated,
                "interval_s": settings.update_interval,
                "exchange": settings.exchange_url,
            },
        )
        try:
            if once:
                return 0 if await runner.run_once() else 1
            import uvicorn

            from .feed.app import create_app

            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(runner),
                    host=settings.exchange_host,
                    port=settings.feed_port,
                    log_config=None,
                    access_log=False,
                )
            )
            loop_task = asyncio.create_task(runner.run_forever())
            await server.serve()
            loop_task.cancel()
            return 0
        finally:
            await runner.aclose()

    sys.exit(asyncio.run(run()))


@main.group()
def prices() -> None:
    """Fetch day-ahead prices from a source, or import a CSV file into the exchange."""


def _print_series(intervals, fmt: str) -> None:
    import orjson

    if fmt == "json":
        click.echo(orjson.dumps([iv.to_wire() for iv in intervals], option=orjson.OPT_INDENT_2))
    else:
        click.echo("start,end,resolution,price,source")
        for iv in intervals:
            w = iv.to_wire()
            click.echo(f"{w['start']},{w['end']},{w['resolution']},{w['price']},{w['source']}")


def _load_into_exchange(settings: Settings, market: str, source, intervals) -> None:
    import httpx

    from .feed.runner import push_prices

    key = _feed_key(settings)
    verify = _exchange_verify(settings)

    async def go() -> dict:
        async with httpx.AsyncClient(timeout=30.0, verify=verify) as client:
            with click.progressbar(
                length=len(intervals), label=f"loading into {market}", file=sys.stderr
            ) as bar:
                return await push_prices(
                    client,
                    settings.exchange_url,
                    key,
                    market,
                    source.name,
                    source.simulated,
                    intervals,
                    progress=bar.update,
                )

    totals = asyncio.run(go())
    click.echo(
        f"{market}: {totals['received']} periods: {totals['inserted']} new, "
        f"{totals['updated']} corrected, {totals['unchanged']} unchanged",
        err=True,
    )


@prices.command("fetch")
@click.option("--source", "source_name", default=None, help="entsoe, awattar, synthetic, csv:PATH")
@click.option("--zone", default=None, help="AT, DE-LU, CH or IT-North (default: the market's)")
@click.option("--market", default=None, help="Market whose zone to fetch (default MARKET)")
@click.option("--start", default=None, help="ISO 8601 date or UTC time (default: today, local)")
@click.option("--end", default=None, help="ISO 8601 date or UTC time, exclusive (default: +2 days)")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option(
    "--sequence", type=int, default=None, help="ENTSO-E classificationSequence (1 = SDAC)"
)
@click.option("--load", is_flag=True, help="Load the series into the exchange instead of printing")
def prices_fetch(source_name, zone, market, start, end, fmt, sequence, load) -> None:
    """Print a price series (JSON: an array of {start, end, resolution, price, source})."""
    from .feed.model import FeedError, parse_utc
    from .feed.runner import local_days
    from .feed.sources import source_class

    settings = _settings()
    market = market or settings.market
    zone = zone or _zone_of(settings, market)
    spec = source_name or settings.effective_market_source
    name, _, arg = spec.partition(":")
    options = {"path": arg} if arg else {}
    if sequence is not None:
        options["sequence"] = sequence
    try:
        lo, hi = local_days(time.time())
        lo = parse_utc(start) if start else lo
        hi = parse_utc(end) if end else hi
        source = source_class(name).from_settings(settings, **options)
    except (ValueError, TypeError, OSError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)

    async def go():
        try:
            return await source.fetch(zone, lo, hi)
        finally:
            await source.aclose()

    try:
        intervals = asyncio.run(go())
    except FeedError as exc:
        click.echo(f"error: {exc.reason}: {exc.message}", err=True)
        sys.exit(1)
    except ConfigError as exc:  # e.g. ENTSO-E without ENTSO_E_TOKEN
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    if load:
        _load_into_exchange(settings, market, source, intervals)
    else:
        _print_series(intervals, fmt)


@prices.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--market", default=None, help="Market to load into (default MARKET)")
def prices_import(path: str, market: str | None) -> None:
    """Load a CSV file (timestamp_utc,price_eur_mwh) into the exchange's price store."""
    from .feed.model import FeedError
    from .feed.sources import source_class

    settings = _settings()
    market = market or settings.market
    _zone_of(settings, market)
    source = source_class("csv").from_settings(settings, path=path)
    try:
        from .feed.sources.csv_file import load_csv

        intervals = load_csv(path)
    except FeedError as exc:
        click.echo(f"error: {exc.reason}: {exc.message}", err=True)
        sys.exit(1)
    _load_into_exchange(settings, market, source, intervals)


# -- telemetry --------------------------------------------------------------------------------
def _modbus_from_env(settings: Settings):
    """The BESS_MODBUS_* configuration (None when disabled); BESS_MODBUS_PRESET picks a device
    preset instead of the spec's simple register numbers."""
    from .telemetry.sources.modbus import load_config, modbus_config_from_env

    config = modbus_config_from_env(os.environ)
    preset = os.environ.get("BESS_MODBUS_PRESET")
    if config is not None and preset:
        config = load_config(
            {
                **config.model_dump(exclude={"map"}),
                "preset": preset,
                "unit_id": int(os.environ["BESS_MODBUS_UNIT_ID"])
                if os.environ.get("BESS_MODBUS_UNIT_ID")
                else None,
            }
        )
    if config is not None:
        config = config.model_copy(update={"rated_power_mw": settings.bess_power_mw})
        config.check()
    return config


def _telemetry_config_from_env(settings: Settings, battery_id: str, modbus, mqtt, log):
    """The sources this service starts with, as the configuration API's JSON (secrets included;
    the exchange masks them), or None when they do not fit that form (logged)."""
    from pydantic import ValidationError

    from .telemetry.config import from_sources

    try:
        config = from_sources(
            battery_id,
            rated_power_mw=settings.bess_power_mw,
            interval_s=settings.bess_update_interval,
            modbus=modbus,
            mqtt=mqtt,
            rest=settings.bess_rest_enabled,
        )
    except ValidationError as exc:
        log.warning(
            "the configuration page cannot show the one from the environment: %s",
            describe_invalid(exc, "config", values=False),
        )
        return None
    return config.secret_json()


@main.command("bess-telemetry")
@click.option("--log-level", default="INFO", show_default=True)
def bess_telemetry(log_level: str) -> None:
    """Read the battery over Modbus TCP (BESS_MODBUS_*) and/or MQTT (BESS_MQTT_*) and push its
    readings to the exchange every BESS_UPDATE_INTERVAL s (REST push goes to the exchange)."""
    import logging

    from .health import create_health_app, serve_until_stopped
    from .telemetry.model import TelemetryError
    from .telemetry.runner import TelemetryRunner
    from .telemetry.sources.modbus import ModbusSource
    from .telemetry.sources.mqtt import MqttSource, mqtt_config_from_env

    settings = _settings()
    _setup_logging("bess-telemetry", log_level)
    log = logging.getLogger("phoenyra.telemetry")
    key = settings.effective_bess_api_key
    if not key:
        raise click.ClickException("BESS_API_KEY is not set: the exchange needs it for telemetry")
    try:
        modbus = _modbus_from_env(settings)
        mqtt = mqtt_config_from_env(os.environ)
    except TelemetryError as exc:
        raise click.ClickException(f"configuration error: {exc.message}") from exc
    dispatch_over = [
        name
        for name, on in (
            ("modbus", modbus is not None and modbus.dispatch),
            ("mqtt", mqtt.enabled and mqtt.dispatch),
        )
        if on
    ]
    if len(dispatch_over) > 1:
        raise click.ClickException(
            "configuration error: BESS_MODBUS_DISPATCH and BESS_MQTT_DISPATCH are both on: two "
            "writers would fight over one battery's power; switch one off"
        )
    import httpx

    runner = TelemetryRunner(
        settings.exchange_url,
        key,
        interval=settings.bess_update_interval,
        client=httpx.AsyncClient(timeout=10.0, verify=_exchange_verify(settings)),
    )
    battery_id = os.environ.get("BESS_ID", "default")

    def dispatching(source: ModbusSource | MqttSource, battery: str) -> list:
        """The dispatch loop of a source that has dispatch on (none otherwise)."""
        if not source.config.dispatch:
            return []
        from .telemetry.dispatch import Dispatcher

        return [Dispatcher(runner.client, settings.exchange_url, key, battery, source).run]

    pollers = [ModbusSource(modbus)] if modbus is not None else []
    subscribers = [run for p in pollers for run in dispatching(p, battery_id)]
    # The MQTT sources in use, for the broker check of /readyz (a saved configuration may
    # replace them).
    brokers: list[MqttSource] = []
    if mqtt.enabled:
        if mqtt.battery_id != battery_id:
            log.warning(
                "BESS_MQTT_BATTERY_ID=%s differs from BESS_ID=%s: the MQTT readings (and "
                "dispatch) are for %s, while the configuration page shows %s; set both to the "
                "same battery",
                mqtt.battery_id,
                battery_id,
                mqtt.battery_id,
                battery_id,
            )
        brokers.append(MqttSource(mqtt, on_reading=runner.submit))
        subscribers.append(brokers[0].run)
        # The battery the MQTT readings report for (BESS_MQTT_BATTERY_ID) is the one steered.
        subscribers.extend(dispatching(brokers[0], mqtt.battery_id))
    if not pollers and not subscribers:
        log.warning(
            "no telemetry source enabled (BESS_MODBUS_ENABLED, BESS_MQTT_ENABLED); readings can "
            "still be pushed to the exchange's POST /api/bess/telemetry"
        )
    log.info(
        "telemetry service started",
        extra={
            "modbus": pollers[0].name if pollers else None,
            "dispatch": dispatch_over[0] if dispatch_over else None,
            "mqtt": f"{mqtt.broker}:{mqtt.port}" if mqtt.enabled else None,
            "interval_s": settings.bess_update_interval,
            "exchange": settings.exchange_url,
        },
    )

    def status() -> dict:
        current = runner.status()
        checks = {"exchange": "exchange" not in current["failing"]}
        if brokers:
            checks["mqtt_broker"] = all(source.connected.is_set() for source in brokers)
        return {"checks": checks, **current}

    app = create_health_app(
        "bess-telemetry",
        status,
        lambda s: not s["failing"] and all(s["checks"].values()),
        runner.registry,
    )

    environment = _telemetry_config_from_env(settings, battery_id, modbus, mqtt, log)
    # The exchange counts the configuration reported from here while this service keeps asking
    # for a saved one (a minute without a request and it lapses): ask well within that.
    raw_poll = os.environ.get("BESS_CONFIG_POLL_S", "5")
    try:
        config_poll_s = float(raw_poll)
    except ValueError:
        config_poll_s = math.nan
    if not 0.5 <= config_poll_s <= 20:
        raise click.ClickException(
            f"configuration error: BESS_CONFIG_POLL_S={raw_poll!r}: seconds between asking the "
            "exchange for a saved configuration, from 0.5 to 20"
        )

    def build(config):
        """A configuration saved through the API replaces the one from the environment."""
        modbus_cfg, mqtt_cfg = config.modbus_source(), config.mqtt_source()
        new_pollers = [ModbusSource(modbus_cfg)] if modbus_cfg is not None else []
        new_subscribers = [run for p in new_pollers for run in dispatching(p, config.battery_id)]
        if config.https is not None:
            from .telemetry.sources.tesla import TeslaSource

            new_pollers.append(TeslaSource(config.https))
        brokers.clear()
        if mqtt_cfg is not None:
            brokers.append(MqttSource(mqtt_cfg, on_reading=runner.submit))
            new_subscribers.append(brokers[0].run)
            new_subscribers.extend(dispatching(brokers[0], config.battery_id))
        return new_pollers, new_subscribers, config.interval_s

    async def run() -> None:
        from .runtime import tune_gc

        tune_gc()
        try:
            # SIGTERM (the supervisor, docker stop) ends the service as Ctrl-C does: the
            # sources stop in order, and a dispatching battery is set idle on the way out.
            await serve_until_stopped(
                app,
                settings.exchange_host,
                settings.telemetry_port,
                runner.run(pollers, subscribers),
                runner.watch_config(battery_id, build, config_poll_s, environment),
            )
        finally:
            await runner.aclose()

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(run())


@main.command("simulate-bess")
@click.option("--preset", default="generic", show_default=True, help="Register map to serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5020, show_default=True, type=int)
@click.option("--step", "step_s", default=1.0, show_default=True, type=float, help="Model step, s")
@click.option("--initial-soc", default=50.0, show_default=True, type=float)
@click.option(
    "--mqtt",
    "mqtt_broker",
    default=None,
    metavar="HOST[:PORT]",
    help="Also publish the state to this MQTT broker (topics bess/soc, bess/power, "
    "bess/temperature) and follow a setpoint published to bess/setpoint (MW, + discharging)",
)
@click.option(
    "--mqtt-prefix", default="bess", show_default=True, help="Topic prefix: PREFIX/soc, ..."
)
def simulate_bess(
    preset: str,
    host: str,
    port: int,
    step_s: float,
    initial_soc: float,
    mqtt_broker: str | None,
    mqtt_prefix: str,
) -> None:
    """A simulated battery (BESS_CAPACITY_MWH, BESS_POWER_MW) served over real Modbus TCP with a
    preset's register map; it follows a power setpoint written over Modbus (or, with --mqtt,
    published to PREFIX/setpoint)."""
    from .core.battery import BatteryParams
    from .simulator import serve
    from .telemetry.model import TelemetryError

    settings = _settings()
    _setup_logging("simulate-bess")
    params = BatteryParams(
        capacity_mwh=settings.bess_capacity_mwh,
        max_charge_mw=settings.bess_power_mw,
        max_discharge_mw=settings.bess_power_mw,
        charge_efficiency=settings.bess_charge_efficiency,
        discharge_efficiency=settings.bess_discharge_efficiency,
    )
    click.echo(f"simulated battery ({preset}) on modbus://{host}:{port}", err=True)
    try:
        mqtt = None
        if mqtt_broker:
            broker, _, mqtt_port = mqtt_broker.partition(":")
            mqtt = (broker, int(mqtt_port or 1883))
        asyncio.run(
            serve(
                preset,
                host,
                port,
                params=params,
                step_s=step_s,
                initial_soc=initial_soc,
                mqtt=mqtt,
                mqtt_topics={
                    "soc_percent": f"{mqtt_prefix}/soc",
                    "power_mw": f"{mqtt_prefix}/power",
                    "temperature_c": f"{mqtt_prefix}/temperature",
                },
                mqtt_setpoint_topic=f"{mqtt_prefix}/setpoint",
            )
        )
    except TelemetryError as exc:
        raise click.ClickException(exc.message) from exc
    except KeyboardInterrupt:
        pass


@main.command("simulate-market")
@click.option("--market", default=None, help="Market to quote (default MARKET)")
@click.option("--spread", default=4.0, show_default=True, type=float, help="Bid–offer, EUR/MWh")
@click.option("--levels", default=2, show_default=True, type=int, help="Price levels per side")
@click.option("--size", default=2.0, show_default=True, type=float, help="MWh per level")
@click.option(
    "--products", default=12, show_default=True, type=int, help="Quarter-hours ahead quoted"
)
@click.option("--interval", default=15.0, show_default=True, type=float, help="Refresh, s")
def simulate_market(
    market: str | None, spread: float, levels: int, size: float, products: int, interval: float
) -> None:
    """A simulated counterparty for demos: quotes bids and offers around the day-ahead price on
    the continuous book and the next quarter-hours (EXCHANGE_URL, COUNTERPARTY_API_KEY)."""
    from .simulator.counterparty import QuoteParams, run

    settings = _settings()
    _setup_logging("simulate-market")
    key = settings.effective_counterparty_api_key
    if not key:
        raise click.ClickException(
            "COUNTERPARTY_API_KEY is not set (a trader key not linked to a battery; create one "
            "with `phoenyra accounts create NAME --role trader`)"
        )
    market = market or settings.market
    spec = settings.markets.get(market)
    if spec is None:
        raise click.ClickException(f"unknown market {market!r}")
    try:
        params = QuoteParams(
            market=market,
            spread=spread,
            levels=levels,
            size_mwh=size,
            products=products,
            gate_closure_s=spec.gate_closure_s,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"simulated counterparty quoting {market} (±{spread / 2:g} EUR/MWh, {levels}×{size:g} MWh"
        f" per side) on {settings.exchange_url}",
        err=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run(settings.exchange_url, key, params, interval, verify=_exchange_verify(settings))
        )


@main.command()
@click.argument("url", default="http://127.0.0.1:9000/readyz")
@click.option("--timeout", default=3.0, show_default=True, type=float)
def healthcheck(url: str, timeout: float) -> None:
    """Exit 0 when URL answers 200 (a container's HEALTHCHECK; the images have no curl)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        click.echo(f"{url}: {exc}", err=True)
        sys.exit(1)
    if status != 200:
        click.echo(f"{url}: HTTP {status}", err=True)
        sys.exit(1)


@main.group()
def accounts() -> None:
    """Manage accounts and API keys directly in the exchange's database."""


def _service():
    from .exchange.service import ExchangeService
    from .exchange.store import Store

    settings = _settings()
    store = Store(settings.effective_database_url, settings.sqlite_synchronous)
    service = ExchangeService(settings, store)
    store.migrate()
    # As the exchange starts: the accounts of the keys set in the environment exist and are
    # known as such (their keys cannot be cut off here, as over the API).
    service._bootstrap_accounts()
    service._load_state()
    return service


@accounts.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "trader", "viewer", "telemetry", "feed"]),
    default="trader",
    show_default=True,
)
@click.option("--battery", "battery_id", default=None, help="Battery id the account trades for")
def accounts_create(name: str, role: str, battery_id: str | None) -> None:
    """Create an account and print its API key (shown once)."""
    from .core.errors import Reject

    service = _service()
    try:
        out = asyncio.run(service.create_account(name, role, battery_id))
    except Reject as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"account {out['id']} {out['name']} ({out['role']})")
    click.echo(f"api key: {out['api_key']}")
    click.echo("Store the key now: it is not shown again. A running exchange accepts it at once.")


@accounts.command("list")
def accounts_list() -> None:
    """List accounts."""
    service = _service()
    click.echo(f"{'id':>4}  {'name':<24} {'role':<10} battery")
    for a in service.keyring.accounts.values():
        click.echo(f"{a.id:>4}  {a.name:<24} {a.role:<10} {a.battery_id or '-'}")


@accounts.command("rotate-key")
@click.argument("account_id", type=int)
@click.option(
    "--overlap-s",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds the old keys keep working (default PHOENYRA_KEY_ROTATION_OVERLAP_S); "
    "0 cuts a leaked key off",
)
def accounts_rotate(account_id: int, overlap_s: float | None) -> None:
    """Issue a new key; the old ones keep working for the overlap period."""
    from .core.errors import Reject

    service = _service()
    try:
        out = asyncio.run(service.rotate_key(account_id, overlap_s))
    except Reject as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"new api key: {out['api_key']}")
    click.echo(f"previous keys valid until {out['previous_keys_valid_until']}")
    click.echo(f"(a running exchange picks this up within 30 s; now {time.strftime('%H:%M:%S')})")


def _optimizer_commands() -> None:
    from .cli_optimizer import backtest, optimize

    main.add_command(backtest)
    main.add_command(optimize)


_optimizer_commands()

if __name__ == "__main__":
    main()
