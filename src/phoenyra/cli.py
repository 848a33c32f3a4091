"""The ``phoenyra`` command."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import click

from .config import ConfigError, Settings


def _settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.markets  # validate market overrides early
        return settings
    except (ConfigError, ValueError) as exc:
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
def exchange(host: str | None, port: int | None, log_level: str) -> None:
    """Run the exchange (FastAPI) on port 9000; database from DATABASE_URL or data/exchange.db."""
    import uvicorn

    from .exchange.app import create_app
    from .logs import setup_logging

    settings = _settings()
    setup_logging("exchange", log_level)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    uvicorn.run(
        app,
        host=host or settings.exchange_host,
        port=port or settings.exchange_port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
def up(host: str) -> None:
    """Run the whole system on this machine (development mode, SQLite under ./data)."""
    import subprocess

    env = dict(os.environ)
    env.setdefault("PHOENYRA_ENV", "development")
    settings = Settings(**{"PHOENYRA_ENV": env["PHOENYRA_ENV"]})
    port = settings.exchange_port
    click.echo(
        "Phoenyra BESS Trade\n"
        f"  exchange   http://{host}:{port}   (API docs: http://{host}:{port}/docs)\n"
        f"  API key    {settings.effective_api_key if settings.is_dev else '(from API_KEY)'}"
        "   (header X-API-Key)\n"
        f"  data       {settings.data_dir.resolve()}\n"
        "Ctrl-C stops everything."
    )
    cmd = [sys.executable, "-m", "phoenyra.cli", "exchange", "--host", host, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env)
    try:
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait(timeout=10)


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
    service._load_state()
    return service


@accounts.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "trader", "viewer", "telemetry"]),
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
def accounts_rotate(account_id: int) -> None:
    """Issue a new key; the old ones keep working for the overlap period."""
    from .core.errors import Reject

    service = _service()
    try:
        out = asyncio.run(service.rotate_key(account_id))
    except Reject as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"new api key: {out['api_key']}")
    click.echo(f"previous keys valid until {out['previous_keys_valid_until']}")
    click.echo(f"(a running exchange picks this up within 30 s; now {time.strftime('%H:%M:%S')})")


if __name__ == "__main__":
    main()
