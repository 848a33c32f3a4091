"""Durable storage of accounts, keys, orders, trades and batteries (SQLAlchemy Core).

SQLite (WAL) by default, PostgreSQL through ``DATABASE_URL``. The schema is created and
upgraded by Alembic (``migrations/``); ``metadata`` here is what the migrations must produce.
Times are stored as epoch seconds (double precision) so the hot write path converts nothing;
the API renders them as ISO 8601 UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine

from ..core.wire import ORDER_COLUMNS, TRADE_COLUMNS

metadata = MetaData()
# On SQLite only INTEGER PRIMARY KEY is the rowid itself; BIGINT would add a second index.
Id = BigInteger().with_variant(Integer, "sqlite")
OPEN = "status IN ('ACCEPTED', 'PARTIALLY_FILLED')"
CLIENT_ID_TAKEN = "client_order_id IS NOT NULL AND status <> 'REJECTED'"

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("battery_id", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("account_id", Integer, nullable=False),
    Column("market", String(16), nullable=False),
    Column("delivery_start", BigInteger, nullable=True),
    Column("side", String(4), nullable=False),
    Column("price", Float, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("filled", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("time_in_force", String(3), nullable=False),
    Column("client_order_id", String(64), nullable=True),
    Column("reject_code", String(32), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # One order per account and client id; orders without one (most) are not indexed, nor are
    # refused ones (a refusal does not use up the id: a retry is judged afresh).
    Index(
        "uq_orders_account_client_id",
        "account_id",
        "client_order_id",
        unique=True,
        sqlite_where=text(CLIENT_ID_TAKEN),
        postgresql_where=text(CLIENT_ID_TAKEN),
    ),
    # Only open orders are looked up by status (to rebuild the books); keep the index small.
    Index("ix_orders_open", "status", sqlite_where=text(OPEN), postgresql_where=text(OPEN)),
    Index("ix_orders_account_id", "account_id", "id"),
)

trades = Table(
    "trades",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("market", String(16), nullable=False),
    Column("delivery_start", BigInteger, nullable=True),
    Column("price", Float, nullable=False),
    Column("quantity", Float, nullable=False),
    Column("buy_order_id", BigInteger, nullable=False),
    Column("sell_order_id", BigInteger, nullable=False),
    Column("buy_account_id", Integer, nullable=False),
    Column("sell_account_id", Integer, nullable=False),
    Column("aggressor_side", String(4), nullable=False),
    Column("executed_at", Float, nullable=False),
    Index("ix_trades_market_id", "market", "id"),
    Index("ix_trades_buy_order_id", "buy_order_id"),
    Index("ix_trades_sell_order_id", "sell_order_id"),
)

batteries = Table(
    "batteries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("capacity_mwh", Float, nullable=False),
    Column("power_mw", Float, nullable=False),
    Column("soc_min_percent", Float, nullable=False),
    Column("soc_max_percent", Float, nullable=False),
    Column("charge_efficiency", Float, nullable=False, server_default=text("0.95")),
    Column("discharge_efficiency", Float, nullable=False, server_default=text("0.95")),
    Column("soc_percent", Float, nullable=True),
    Column("power_mw_now", Float, nullable=True),
    Column("temperature_c", Float, nullable=True),
    Column("status_at", Float, nullable=True),
    Column("source", String(32), nullable=True),
)

# Accepted battery readings, for charts (the latest one is also kept in ``batteries``).
battery_readings = Table(
    "battery_readings",
    metadata,
    Column("battery_id", String(64), primary_key=True),
    Column("at", Float, primary_key=True),  # epoch seconds of the reading
    Column("soc_percent", Float, nullable=False),
    Column("power_mw", Float, nullable=False),
    Column("temperature_c", Float, nullable=True),  # null: the device reports none
    Column("source", String(32), nullable=False),
)

# The telemetry configuration per battery (JSON), versioned so the service sees changes.
telemetry_configs = Table(
    "telemetry_configs",
    metadata,
    Column("battery_id", String(64), primary_key=True),
    Column("config", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Day-ahead prices: one row per market, period start and resolution; a re-fetch replaces in place.
market_prices = Table(
    "market_prices",
    metadata,
    Column("market", String(16), primary_key=True),
    Column("start", BigInteger, primary_key=True),  # epoch seconds, UTC
    Column("resolution", Integer, primary_key=True),  # seconds: 900 or 3600
    Column("price", Float, nullable=False),  # EUR/MWh
    Column("source", String(32), nullable=False),
    Column("updated_at", Float, nullable=False),
)

# What the feed last delivered per market (source, simulated or not, when).
market_feeds = Table(
    "market_feeds",
    metadata,
    Column("market", String(16), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("simulated", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


def _upsert(dialect: str, table: Table, key: str, update_cols: Iterable[str]):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={c: getattr(stmt.excluded, c) for c in update_cols}
    )


def _sqlite_insert_sql(table: Table, columns: tuple[str, ...], suffix: str = "") -> str:
    """A positional INSERT of one row in ``columns`` order, which must be the table's."""
    if tuple(c.name for c in table.columns) != columns:
        raise RuntimeError(f"{table.name}: the row tuples' columns differ from the table's")
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) {suffix}"
    ).rstrip()


class Store:
    def __init__(self, url: str, sqlite_synchronous: str = "FULL") -> None:
        self.url = url
        self.sqlite_synchronous = sqlite_synchronous
        self.engine = make_engine(url, sqlite_synchronous)
        self.dialect = self.engine.dialect.name
        self._order_upsert = _upsert(
            self.dialect, orders, "id", ("filled", "status", "updated_at", "reject_code")
        )
        # The hot path on SQLite goes straight to the driver (see ``write_batch``).
        self._sqlite_order_upsert = _sqlite_insert_sql(
            orders,
            ORDER_COLUMNS,
            "ON CONFLICT (id) DO UPDATE SET filled = excluded.filled, "
            "status = excluded.status, updated_at = excluded.updated_at, "
            "reject_code = excluded.reject_code",
        )
        self._sqlite_trade_insert = _sqlite_insert_sql(trades, TRADE_COLUMNS)

    @property
    def sqlite_file(self) -> str | None:
        """The database file on SQLite (None for PostgreSQL and in-memory databases)."""
        if self.dialect != "sqlite":
            return None
        path = self.engine.url.database
        return None if not path or path == ":memory:" else path

    def sqlite_statements(self) -> dict[str, str]:
        """The hot path's positional INSERT texts, for the SQLite writer process."""
        return {"orders": self._sqlite_order_upsert, "trades": self._sqlite_trade_insert}

    # -- schema ---------------------------------------------------------------------------
    def migrate(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    # -- hot path: one transaction per batch ----------------------------------------------
    def write_batch(self, order_rows: list[tuple], trade_rows: list[tuple]) -> None:
        """Store order rows (insert, or update the changing columns of a known id) and new trade
        rows, tuples in ``ORDER_COLUMNS`` / ``TRADE_COLUMNS`` order, in one transaction."""
        if self.dialect == "sqlite":
            # The driver binds the tuples positionally itself: SQLAlchemy's per-row parameter
            # processing, and named binding from dicts, are most of the CPU of a batch.
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                if order_rows:
                    cur.executemany(self._sqlite_order_upsert, order_rows)
                if trade_rows:
                    cur.executemany(self._sqlite_trade_insert, trade_rows)
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                raw.close()
            return
        with self.engine.begin() as conn:
            if order_rows:
                conn.execute(
                    self._order_upsert,
                    [dict(zip(ORDER_COLUMNS, r, strict=True)) for r in order_rows],
                )
            if trade_rows:
                conn.execute(
                    trades.insert(), [dict(zip(TRADE_COLUMNS, r, strict=True)) for r in trade_rows]
                )

    # -- loading at start -----------------------------------------------------------------
    def max_ids(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            max_order = conn.execute(select(func.max(orders.c.id))).scalar() or 0
            max_trade = conn.execute(select(func.max(trades.c.id))).scalar() or 0
        return max_order, max_trade

    def iter_orders_for_restore(self) -> Iterator[tuple]:
        """Open orders, and closed ones whose client id is taken (for idempotency), in id
        order."""
        q = (
            select(orders)
            .where(
                orders.c.status.in_(("ACCEPTED", "PARTIALLY_FILLED"))
                | (orders.c.client_order_id.is_not(None) & (orders.c.status != "REJECTED"))
            )
            .order_by(orders.c.id)
        )
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=10_000).execute(q):
                yield tuple(row)

    def iter_trades(self) -> Iterator[tuple]:
        with self.engine.connect() as conn:
            q = select(trades).order_by(trades.c.id)
            for row in conn.execution_options(yield_per=10_000).execute(q):
                yield tuple(row)

    # -- accounts and keys ----------------------------------------------------------------
    def load_accounts(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(select(accounts).order_by(accounts.c.id))]

    def load_keys(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(select(api_keys))]

    def get_key(self, key_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return row._asdict() if row else None

    def get_account(self, account_id: int) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        return row._asdict() if row else None

    def create_account(self, name: str, role: str, battery_id: str | None, now: float) -> dict:
        with self.engine.begin() as conn:
            res = conn.execute(
                accounts.insert().values(
                    name=name, role=role, battery_id=battery_id, created_at=now
                )
            )
            account_id = res.inserted_primary_key[0]
        return {
            "id": account_id,
            "name": name,
            "role": role,
            "battery_id": battery_id,
            "created_at": now,
        }

    def set_account_battery(self, account_id: int, battery_id: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                accounts.update().where(accounts.c.id == account_id).values(battery_id=battery_id)
            )

    def add_key(
        self,
        account_id: int,
        key_id: str,
        key_hash: str,
        now: float,
        expire_others_at: float | None,
    ) -> None:
        """Add a key; with ``expire_others_at``, the account's other live keys end then."""
        with self.engine.begin() as conn:
            if expire_others_at is not None:
                conn.execute(
                    update(api_keys)
                    .where(api_keys.c.account_id == account_id)
                    .where(
                        api_keys.c.expires_at.is_(None) | (api_keys.c.expires_at > expire_others_at)
                    )
                    .values(expires_at=expire_others_at)
                )
            conn.execute(
                api_keys.insert().values(
                    key_id=key_id,
                    account_id=account_id,
                    key_hash=key_hash,
                    created_at=now,
                    expires_at=None,
                )
            )

    # -- batteries ------------------------------------------------------------------------
    def load_batteries(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(select(batteries))]

    def ensure_battery(self, row: dict) -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(select(batteries.c.id).where(batteries.c.id == row["id"])).first()
            if exists is None:
                conn.execute(batteries.insert().values(**row))

    def update_battery_limits(self, battery_id: str, values: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(batteries).where(batteries.c.id == battery_id).values(**values))

    def save_battery_status(self, row: dict) -> None:
        """The latest status and one history row, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(
                update(batteries)
                .where(batteries.c.id == row["id"])
                .values({k: v for k, v in row.items() if k != "id"})
            )
            conn.execute(
                battery_readings.insert().values(
                    battery_id=row["id"],
                    at=row["status_at"],
                    soc_percent=row["soc_percent"],
                    power_mw=row["power_mw_now"],
                    temperature_c=row["temperature_c"],
                    source=row["source"],
                )
            )

    def battery_history(
        self, battery_id: str, since: float | None, until: float | None, limit: int
    ) -> list[dict]:
        """Readings in [since, until), the newest ``limit`` of them, oldest first."""
        t = battery_readings.c
        q = select(battery_readings).where(t.battery_id == battery_id)
        if since is not None:
            q = q.where(t.at >= since)
        if until is not None:
            q = q.where(t.at < until)
        with self.engine.connect() as conn:
            rows = [r._asdict() for r in conn.execute(q.order_by(t.at.desc()).limit(limit))]
        rows.reverse()
        return rows

    def prune_battery_history(self, before: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                battery_readings.delete().where(battery_readings.c.at < before)
            ).rowcount

    # -- reads for the API ----------------------------------------------------------------
    def get_order(self, order_id: int) -> tuple | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(orders).where(orders.c.id == order_id)).first()
        return tuple(row) if row else None

    def trades_for_order(self, order_id: int) -> list[tuple]:
        q = (
            select(trades)
            .where((trades.c.buy_order_id == order_id) | (trades.c.sell_order_id == order_id))
            .order_by(trades.c.id)
        )
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    def page_orders(self, after: int | None, limit: int, filters: dict[str, Any]) -> list[tuple]:
        q = select(orders).order_by(orders.c.id.desc()).limit(limit)
        if after is not None:
            q = q.where(orders.c.id < after)
        for col, value in filters.items():
            if value is not None:
                q = q.where(orders.c[col] == value)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    def page_trades(
        self,
        after: int | None,
        limit: int,
        market: str | None = None,
        account_id: int | None = None,
        since: float | None = None,
        until: float | None = None,
        side: str | None = None,
    ) -> list[tuple]:
        """Trades newest first; ``side`` (with ``account_id``) keeps that account's BUY or SELL
        trades only."""
        q = select(trades).order_by(trades.c.id.desc()).limit(limit)
        if after is not None:
            q = q.where(trades.c.id < after)
        if market is not None:
            q = q.where(trades.c.market == market)
        if account_id is not None and side == "BUY":
            q = q.where(trades.c.buy_account_id == account_id)
        elif account_id is not None and side == "SELL":
            q = q.where(trades.c.sell_account_id == account_id)
        elif account_id is not None:
            q = q.where(
                (trades.c.buy_account_id == account_id) | (trades.c.sell_account_id == account_id)
            )
        if since is not None:
            q = q.where(trades.c.executed_at >= since)
        if until is not None:
            q = q.where(trades.c.executed_at < until)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q)]

    # -- market prices --------------------------------------------------------------------
    def upsert_prices(
        self,
        market: str,
        source: str,
        simulated: bool,
        rows: list[tuple[int, int, float]],
        now: float,
    ) -> tuple[int, int]:
        """Store (start, resolution s, price) rows of one market in one transaction; a period
        already stored is replaced when its price or source differs. Returns (inserted, updated).
        """
        inserted = updated = 0
        with self.engine.begin() as conn:
            if rows:
                lo = min(r[0] for r in rows)
                hi = max(r[0] for r in rows)
                t = market_prices.c
                existing = {
                    (r.start, r.resolution): (r.price, r.source)
                    for r in conn.execute(
                        select(t.start, t.resolution, t.price, t.source).where(
                            t.market == market, t.start >= lo, t.start <= hi
                        )
                    )
                }
                new, changed = [], []
                for start, res, price in rows:
                    old = existing.get((start, res))
                    values = {
                        "market": market,
                        "start": start,
                        "resolution": res,
                        "price": price,
                        "source": source,
                        "updated_at": now,
                    }
                    if old is None:
                        new.append(values)
                    elif old != (price, source):
                        changed.append(values)
                if new:
                    conn.execute(market_prices.insert(), new)
                if changed:
                    conn.execute(
                        update(market_prices)
                        .where(
                            t.market == bindparam("b_market"),
                            t.start == bindparam("b_start"),
                            t.resolution == bindparam("b_resolution"),
                        )
                        .values(
                            price=bindparam("price"),
                            source=bindparam("source"),
                            updated_at=bindparam("updated_at"),
                        ),
                        [
                            {
                                "b_market": v["market"],
                                "b_start": v["start"],
                                "b_resolution": v["resolution"],
                                "price": v["price"],
                                "source": v["source"],
                                "updated_at": now,
                            }
                            for v in changed
                        ],
                    )
                inserted, updated = len(new), len(changed)
            feed = {"source": source, "simulated": int(simulated), "updated_at": now}
            done = conn.execute(
                update(market_feeds).where(market_feeds.c.market == market).values(**feed)
            )
            if done.rowcount == 0:
                conn.execute(market_feeds.insert().values(market=market, **feed))
        return inserted, updated

    def prices(
        self,
        market: str,
        start: float | None,
        end: float | None,
        resolution: int | None,
        limit: int,
    ) -> list[dict]:
        t = market_prices.c
        q = select(market_prices).where(t.market == market).order_by(t.start, t.resolution)
        if start is not None:
            q = q.where(t.start + t.resolution > start)  # periods overlapping the range
        if end is not None:
            q = q.where(t.start < end)
        if resolution is not None:
            q = q.where(t.resolution == resolution)
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(q.limit(limit))]

    def prices_since(self, since: float) -> list[dict]:
        t = market_prices.c
        q = select(market_prices).where(t.start >= since).order_by(t.market, t.start)
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(q)]

    def load_market_feeds(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [r._asdict() for r in conn.execute(select(market_feeds))]

    # -- telemetry configuration ------------------------------------------------------------
    def load_telemetry_config(self, battery_id: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(telemetry_configs).where(telemetry_configs.c.battery_id == battery_id)
            ).first()
        return row._asdict() if row else None

    def load_rest_push_flags(self) -> dict[str, bool]:
        """Per battery with a saved telemetry configuration: whether it accepts REST pushes."""
        t = telemetry_configs.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.battery_id, t.config)).all()
        return {
            b: orjson.loads(c).get("rest", {}).get("enabled", True) is not False for b, c in rows
        }

    def save_telemetry_config(self, battery_id: str, config_json: str, now: float) -> int:
        """Store and return the new version (1 for the first save)."""
        t = telemetry_configs.c
        with self.engine.begin() as conn:
            version = conn.execute(select(t.version).where(t.battery_id == battery_id)).scalar()
            if version is None:
                conn.execute(
                    telemetry_configs.insert().values(
                        battery_id=battery_id, config=config_json, version=1, updated_at=now
                    )
                )
                return 1
            conn.execute(
                update(telemetry_configs)
                .where(t.battery_id == battery_id)
                .values(config=config_json, version=version + 1, updated_at=now)
            )
            return version + 1
