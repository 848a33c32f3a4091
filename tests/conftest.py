"""Shared fixtures: real exchange processes, the PostgreSQL started by scripts/services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import PG_URL, ExchangeProcess, service_missing


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def ensure_database(url: str) -> None:
    """Create the database of ``url`` when missing (a parallel worker's own test database),
    connected to the ``postgres`` maintenance database as the same role (it may create
    databases: scripts/services gives it CREATEDB)."""
    from sqlalchemy import create_engine, make_url, text

    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                text("select 1 from pg_database where datname = :n"), {"n": target.database}
            ).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        engine.dispose()


@pytest.fixture
def pg_url() -> str:
    from sqlalchemy.exc import OperationalError

    try:
        ensure_database(PG_URL)
    except OperationalError:  # no server to connect to (a refused CREATE DATABASE raises)
        service_missing(f"PostgreSQL at {PG_URL}")
    reset_postgres(PG_URL)
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exchange.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module")
def exchange(tmp_path_factory) -> Iterator[ExchangeProcess]:
    """One running exchange (SQLite) per test module."""
    proc = ExchangeProcess(tmp_path_factory.mktemp("exchange")).start()
    yield proc
    proc.stop()
