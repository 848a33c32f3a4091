"""The exchange service: the pure core (engine, risk) wired to storage, events and metrics.

All state changes run on the event loop (one writer, as a book must have), are committed by the
group-commit writer, and only then answered and published.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..core.engine import MatchingEngine, Result
from ..core.errors import Reject
from ..core.markets import MarketSpec
from ..core.orders import Order, Side, TimeInForce, Trade
from ..core.risk import BatteryLimits, BatteryState, RiskManager
from ..core.wire import (
    O_ACCOUNT,
    O_MARKET,
    O_PRICE,
    O_QUANTITY,
    O_SIDE,
    O_STATUS,
    T_AGGRESSOR,
    T_BUY_ACCOUNT,
    T_BUY_ORDER,
    T_DELIVERY,
    T_EXECUTED,
    T_ID,
    T_MARKET,
    T_PRICE,
    T_QUANTITY,
    T_SELL_ACCOUNT,
    T_SELL_ORDER,
    iso,
    order_from_row,
    order_row,
    order_wire,
    result_rows,
    trade_wire,
    trade_wires,
)
from .auth import (
    ACCOUNT_NAME_MAX,
    ACCOUNT_NAME_PATTERN,
    KEY_REFRESH_S,
    Account,
    KeyRing,
    NonceCache,
    StoredKey,
    hash_key,
    key_id_of,
    new_key,
)
from .events import EventBus
from .market import MarketData
from .metrics import ExchangeMetrics
from .store import Store
from .writer import GroupCommitWriter, WriteFailed

log = logging.getLogger("phoenyra.exchange")

DEFAULT_BATTERY = "default"
# Battery readings are kept this long for charts (one reading every 30 s is ≈86k rows a month).
HISTORY_S = 30 * 86_400
# A configuration reported from a telemetry service's environment counts while a telemetry
# service keeps asking for the battery's configuration (every 5 s by default).
ENVIRONMENT_REPORT_TTL_S = 60.0
# Risk refusals are recorded as REJECTED orders (an audit trail); input errors are not.
RECORDED_REFUSALS = frozenset(
    {"SOC_LIMIT", "ENERGY_LIMIT", "BATTERY_STATUS_UNKNOWN", "BATTERY_STATUS_STALE"}
)


def _resends(req: OrderRequest, original: Order, spec: MarketSpec | None) -> bool:
    """Whether ``req`` repeats ``original`` (a retry), field for field; prices and quantities
    compared as ticks and lots, the way the order was accepted (0.1 * 3 is 0.3 MWh)."""
    if spec is None or req.market != original.market:
        return False
    try:
        price, quantity = spec.price_to_ticks(req.price), spec.quantity_to_lots(req.quantity)
    except Reject:
        return False
    return (
        price == original.price
        and quantity == original.quantity
        and req.side is original.side
        and req.time_in_force is original.tif
        and req.delivery_start == original.delivery_start
    )


@dataclass(slots=True)
class OrderRequest:
    market: str
    side: Side
    quantity: float
    price: float
    time_in_force: TimeInForce = TimeInForce.GTC
    delivery_start: int | None = None
    client_order_id: str | None = None


class ExchangeService:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.markets: dict[str, MarketSpec] = settings.markets
        self.keyring = KeyRing()
        self._names_in_creation: set[str] = set()
        self.nonces = NonceCache(settings.ws_window_s)
        self.bus = EventBus()
        self.metrics = ExchangeMetrics(self)
        self.writer = GroupCommitWriter(
            store, observe=self.metrics.commit.observe, mode=settings.db_writer
        )
        self.recent_trades: deque[tuple] = deque(maxlen=1000)  # stored trade rows
        self.batteries: dict[str, dict] = {}
        # Per battery, the configuration its telemetry service runs from its environment (BESS_*)
        # while none is saved, as that service reported it (JSON with secrets), when, and when
        # a telemetry service last asked for the battery's configuration (it does every few
        # seconds). Kept in memory: the service reports it again when the exchange has not got
        # it, and it counts only while the service keeps asking (ENVIRONMENT_REPORT_TTL_S).
        self.environment_telemetry: dict[str, list] = {}
        # Per battery with a saved telemetry configuration: whether it takes REST pushes.
        self.rest_push_saved: dict[str, bool] = {}
        self.market = MarketData(self.markets, store, self.bus, settings.market_stale_s)
        self.ready = False
        self._reset_core()
        self._expiry_task: asyncio.Task | None = None

    def _reset_core(self) -> None:
        self.engine = MatchingEngine(self.markets)
        self.risk = RiskManager(
            throttle_rate=self.settings.throttle_rate,
            throttle_burst=self.settings.throttle_burst,
            status_max_age_s=self.settings.bess_status_max_age_s,
        )
        self.market.reset()

    # -- start-up -------------------------------------------------------------------------
    def load(self) -> None:
        """Migrate the schema, set up configured accounts, rebuild books and positions."""
        started = time.perf_counter()
        self.store.migrate()
        self.store.prune_battery_history(time.time() - HISTORY_S)
        self._bootstrap_accounts()
        self._load_state()
        log.info(
            "exchange state loaded",
            extra={
                "open_orders": len(self.engine.open_orders),
                "books": len(self.engine.books),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    def _bootstrap_accounts(self) -> None:
        s = self.settings
        now = time.time()
        self.store.ensure_battery(self._battery_row(DEFAULT_BATTERY, {}))
        existing = {a["name"]: a for a in self.store.load_accounts()}
        configured = (
            ("operator", "admin", DEFAULT_BATTERY, s.effective_api_key, "api"),
            # The telemetry service reports every battery it is configured for: not linked to
            # one (a telemetry account linked to a battery may report that battery only).
            ("bess-telemetry", "telemetry", None, s.effective_bess_api_key, "bess"),
            ("market-feed", "feed", None, s.effective_feed_api_key, "feed"),
            # Not linked to a battery: it stands for the other participants of the market.
            (
                "simulated-counterparty",
                "trader",
                None,
                s.effective_counterparty_api_key,
                "counterparty",
            ),
        )
        for name, role, battery, key, key_id in configured:
            if key is None:
                continue
            row = existing.get(name) or self.store.create_account(name, role, battery, now)
            if role == "telemetry" and row["battery_id"] != battery:
                # Databases from before telemetry keys were bound to their battery linked the
                # service's account to the default battery, which would now confine it there.
                self.store.set_account_battery(row["id"], battery)
            self.keyring.configure(key, key_id, row["id"])

    def _load_state(self) -> None:
        self._reset_core()
        self.keyring.accounts.clear()
        self.keyring.keys.clear()
        for row in self.store.load_accounts():
            self._register_account(Account(row["id"], row["name"], row["role"], row["battery_id"]))
        now = time.time()
        for row in self.store.load_keys():
            self.keyring.add_key(
                StoredKey(row["key_id"], row["account_id"], row["key_hash"], row["expires_at"], now)
            )
        self.rest_push_saved = self.store.load_rest_push_flags()
        for row in self.store.load_batteries():
            self.batteries[row["id"]] = row
            self.risk.set_limits(row["id"], self._limits(row))
        max_order, max_trade = self.store.max_ids()
        self.engine.set_next_ids(max_order + 1, max_trade + 1)
        for row in self.store.iter_orders_for_restore():
            order = order_from_row(row, self.markets[row[O_MARKET]])
            if order.is_open:
                self.engine.restore(order)
                self.risk.track_order(order, self.markets[order.market].lot)
            else:
                self.engine.remember_client_id(order)
        self.market.load(time.time())
        for row in self.store.iter_trades():
            self._apply_trade_row(row)
        self.risk.marks.update(self.market.tick(time.time()))
        # Battery readings last: continuous fills made before a reading are in that reading.
        for battery_id, row in self.batteries.items():
            if row["soc_percent"] is not None and row["status_at"] is not None:
                self.risk.set_state(battery_id, BatteryState(row["soc_percent"], row["status_at"]))
        now = time.time()
        expired = self.engine.expire(now)
        beyond = self.engine.expire_beyond_horizon(now)
        if beyond:
            log.warning(
                "expired open orders for products beyond the trading horizon",
                extra={"orders": [o.id for o in beyond][:20], "count": len(beyond)},
            )
            expired += beyond
        if expired:
            self.store.write_batch([self._row(o) for o in expired], [])
            for o in expired:
                self.risk.track_order(o, self.markets[o.market].lot)

    def _register_account(self, account: Account) -> None:
        self.keyring.add_account(account)
        self.risk.register_account(account.id, account.battery_id)

    def _battery_row(self, battery_id: str, values: dict) -> dict:
        """A new battery's stored row: ``values`` given, the BESS_* settings for the rest."""
        s = self.settings
        return {
            "id": battery_id,
            "capacity_mwh": values.get("capacity_mwh") or s.bess_capacity_mwh,
            "power_mw": values.get("power_mw") or s.bess_power_mw,
            "soc_min_percent": values.get("soc_min_percent", s.bess_soc_min),
            "soc_max_percent": values.get("soc_max_percent", s.bess_soc_max),
            "charge_efficiency": values.get("charge_efficiency", s.bess_charge_efficiency),
            "discharge_efficiency": values.get("discharge_efficiency", s.bess_discharge_efficiency),
        }

    @staticmethod
    def _limits(row: dict) -> BatteryLimits:
        return BatteryLimits(
            row["capacity_mwh"],
            row["power_mw"],
            row["soc_min_percent"],
            row["soc_max_percent"],
            row["charge_efficiency"],
            row["discharge_efficiency"],
        )

    def _apply_trade_row(self, row: tuple) -> None:
        self.recent_trades.append(row)
        # Risk reads the core's trade object; rebuild the fields it needs from the row.
        trade = Trade(
            row[T_ID],
            row[T_MARKET],
            row[T_DELIVERY],
            0,
            0,
            row[T_BUY_ORDER],
            row[T_SELL_ORDER],
            row[T_BUY_ACCOUNT],
            row[T_SELL_ACCOUNT],
            Side(row[T_AGGRESSOR]),
            row[T_EXECUTED],
        )
        self.risk.apply_trade(trade, row[T_QUANTITY], row[T_PRICE])
        self.market.add_trade(row[T_MARKET], row[T_EXECUTED], row[T_PRICE], row[T_QUANTITY])

    async def start(self) -> None:
        self.writer.start()
        self._expiry_task = asyncio.get_running_loop().create_task(self._expire_loop())
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self._expiry_task is not None:
            self._expiry_task.cancel()
        await self.writer.stop()
        self.store.close()

    # -- helpers --------------------------------------------------------------------------
    def _row(self, order: Order) -> tuple:
        return order_row(order, self.markets[order.market])

    async def _commit(self, order_rows: list[tuple], trade_rows: list[tuple]) -> None:
        try:
            await self.writer.submit(order_rows, trade_rows)
        except WriteFailed as exc:
            self._storage_failed(exc)

    def _storage_failed(self, exc: WriteFailed) -> NoReturn:
        """A commit this request waited for failed: memory ran ahead of storage. The first
        refused request of a failure rebuilds the state from what is durable; all answer 503."""
        if self.writer.failed:
            log.error("commit failed; rebuilding state from storage", extra={"error": str(exc)})
            self.ready = False
            try:
                # On the loop itself, blocking it: nothing may read the core meanwhile.
                self._load_state()
                self.writer.recovered()
                self.ready = True
            except Exception:
                log.exception("rebuilding state from storage failed; service not ready")
        raise Reject(
            "STORAGE_UNAVAILABLE",
            "The database failed while this change was being stored, so it could not be "
            "confirmed. If the database took it before failing it is in effect now: check "
            "GET /api/orders, or resend with the same client_order_id, which never makes a "
            "second order.",
            503,
        ) from exc

    def _require_ready(self) -> None:
        """Orders and cancels change the books: refused while state is loading, rebuilding
        after a failed commit, or the service is stopping."""
        if not self.ready:
            raise Reject("NOT_READY", "The exchange is starting, stopping or recovering.", 503)

    def _publish_orders(self, orders: list[tuple]) -> None:
        if not self.bus.subscribers:
            return
        for row in orders:
            self.bus.publish({"type": "order", "data": order_wire(row)})

    # -- orders ---------------------------------------------------------------------------
    async def place_order(self, account: Account, req: OrderRequest) -> tuple[int, dict]:
        """Returns (HTTP status, order with the trades it caused). Raises Reject on refusal."""
        self._require_ready()
        now = time.time()
        if req.client_order_id is not None:
            original = self.engine.find_client_order(account.id, req.client_order_id)
            if original is not None:
                await self._commit([], [])  # the original may still be in flight
                row = self._row(original)
                if not _resends(req, original, self.markets.get(req.market)):
                    raise Reject(
                        "CLIENT_ORDER_ID_REUSED",
                        f"client_order_id {req.client_order_id!r} already names order "
                        f"{original.id} ({row[O_SIDE]} {row[O_QUANTITY]} MWh at {row[O_PRICE]} "
                        f"EUR/MWh on {row[O_MARKET]}); a resend must repeat that order exactly, "
                        "a different order needs a new client_order_id.",
                        409,
                        order_id=original.id,
                    )
                body = order_wire(row)
                body["trades"] = [
                    trade_wire(t)
                    for t in await asyncio.to_thread(self.store.trades_for_order, original.id)
                ]
                return 200, body
        spec = self.engine.spec(req.market)
        ticks = spec.price_to_ticks(req.price)
        lots = spec.quantity_to_lots(req.quantity)
        if req.delivery_start is not None:
            spec.check_delivery_start(req.delivery_start, now)
        self.risk.throttle(account.id, req.market, now)
        try:
            self.risk.check_order(account.id, req.side, lots * spec.lot, now, req.delivery_start)
        except Reject as refusal:
            if refusal.code in RECORDED_REFUSALS:
                order = self.engine.reject(
                    account.id,
                    req.market,
                    req.side,
                    ticks,
                    lots,
                    now,
                    refusal.code,
                    req.time_in_force,
                    req.delivery_start,
                    req.client_order_id,
                )
                row = self._row(order)
                await self._commit([row], [])
                self.metrics.orders.inc((req.market, req.side._value_, "REJECTED"))
                self._publish_orders([row])
                refusal.details["order_id"] = order.id
            raise
        result = self.engine.place(
            account.id,
            req.market,
            req.side,
            ticks,
            lots,
            now,
            req.time_in_force,
            req.delivery_start,
            req.client_order_id,
        )
        # Risk and the market's indicators follow the result; the rows to store come back.
        order_rows, trade_rows = result_rows(
            result, spec, self.risk, self.market.indicators[req.market]
        )
        try:  # the writer's future itself: no coroutine between it and this one
            await self.writer.submit(order_rows, trade_rows)
        except WriteFailed as exc:
            self._storage_failed(exc)
        # Each wire form is built once: for the answer and, when someone listens, the events.
        order = order_wire(order_rows[0])
        trades = trade_wires(trade_rows)
        self._after_commit(result, order_rows, trade_rows, order, trades)
        order["trades"] = trades  # the answer; the order event got a copy without them
        return 201, order

    def _after_commit(
        self,
        result: Result,
        order_rows: list[tuple],
        trade_rows: list[tuple],
        order: dict,
        trades: list[dict],
    ) -> None:
        m = self.metrics
        o = result.order
        m.orders.inc((o.market, o.side._value_, o.status._value_))
        if len(order_rows) > 1:
            events = m.order_events.inc
            for row in order_rows[1:]:
                events((row[O_MARKET], row[O_STATUS]))
        if trade_rows:
            key = (o.market,)
            m.trades.inc(key, len(trade_rows))
            m.volume.inc(key, sum(t[T_QUANTITY] for t in trade_rows))
            self.recent_trades.extend(trade_rows)
        bus = self.bus
        if not bus.subscribers:
            return  # nobody listens: build no events
        bus.publish({"type": "order", "data": dict(order)})  # the answer adds its trades
        self._publish_orders(order_rows[1:])
        for t in trades:
            bus.publish({"type": "trade", "data": t})

    async def cancel_order(self, account: Account, order_id: int) -> dict:
        self._require_ready()
        order = self.engine.open_orders.get(order_id)
        if order is None or not (account.role == "admin" or order.account_id == account.id):
            row = await asyncio.to_thread(self.store.get_order, order_id)
            if row is None or not (account.sees_all or row[O_ACCOUNT] == account.id):
                raise Reject("NOT_FOUND", f"Order {order_id} does not exist.", 404)
            if order is None:
                raise Reject(
                    "ORDER_NOT_OPEN",
                    f"Order {order_id} is {row[O_STATUS]} and cannot be cancelled.",
                    409,
                    order_id=order_id,
                    order_status=row[O_STATUS],
                )
            raise Reject("FORBIDDEN", "Only the order's account or an admin can cancel it.", 403)
        self.engine.cancel(order_id, time.time())
        self.risk.track_order(order, self.markets[order.market].lot)
        row = self._row(order)
        await self._commit([row], [])
        self.metrics.order_events.inc((order.market, row[O_STATUS]))
        self._publish_orders([row])
        return order_wire(row)

    async def _expire_loop(self) -> None:
        next_prune = time.monotonic() + 3600
        while True:
            await asyncio.sleep(1.0)
            if time.monotonic() > next_prune:
                next_prune += 3600
                try:
                    await asyncio.to_thread(
                        self.store.prune_battery_history, time.time() - HISTORY_S
                    )
                except Exception:
                    log.exception("pruning the battery history failed")
            try:
                self.risk.marks.update(self.market.tick(time.time()))
            except Exception:  # market data must never stop gate closure
                log.exception("market data update failed")
            expired = self.engine.expire(time.time())
            if not expired:
                continue
            rows = []
            for o in expired:
                self.risk.track_order(o, self.markets[o.market].lot)
                rows.append(self._row(o))
                self.metrics.order_events.inc((o.market, "EXPIRED"))
            try:
                await self._commit(rows, [])
            except Reject:
                continue
            self._publish_orders(rows)

    def open_orders(
        self,
        account: Account,
        market: str | None,
        side: str | None,
        status: str | None,
        account_filter: int | None = None,
    ) -> list[dict]:
        out = []
        for o in self.engine.open_orders.values():
            if not account.sees_all and o.account_id != account.id:
                continue
            if account_filter is not None and o.account_id != account_filter:
                continue
            if market and o.market != market:
                continue
            if side and o.side != side:
                continue
            if status and o.status != status:
                continue
            out.append(order_wire(self._row(o)))
        return out

    def book_depth(self, market: str, delivery_start: int | None, levels: int) -> dict:
        spec = self.engine.spec(market)
        book = self.engine.books.get((market, delivery_start))

        def side(bs) -> list[dict]:
            rows = []
            if bs is None:
                return rows
            for price, lots, count in bs.depth():
                rows.append(
                    {
                        "price": spec.ticks_to_price(price),
                        "quantity": spec.lots_to_quantity(lots),
                        "orders": count,
                    }
                )
                if len(rows) >= levels:
                    break
            return rows

        return {
            "market": market,
            "delivery_start": iso(delivery_start),
            "bids": side(book.bids if book else None),
            "asks": side(book.asks if book else None),
        }

    def positions(self, account: Account) -> list[dict]:
        names = {a.id: a.name for a in self.keyring.accounts.values()}
        out = []
        for (account_id, market), pos in sorted(self.risk.positions.items()):
            if not account.sees_all and account_id != account.id:
                continue
            mark = self.risk.marks.get(market)
            unrealized = pos.unrealized_pnl(mark)
            out.append(
                {
                    "account_id": account_id,
                    "account": names.get(account_id),
                    "market": market,
                    "net_energy_mwh": round(pos.net_mwh, 10),
                    "average_price": round(pos.avg_price, 6),
                    "notional_eur": round(pos.notional_eur, 6),
                    "bought_mwh": round(pos.bought_mwh, 10),
                    "sold_mwh": round(pos.sold_mwh, 10),
                    "realized_pnl_eur": round(pos.realized_pnl, 6),
                    "mark_price": mark,
                    "unrealized_pnl_eur": None if unrealized is None else round(unrealized, 6),
                }
            )
        return out

    # -- batteries ------------------------------------------------------------------------
    def battery_status(self, battery_id: str) -> dict:
        row = self.batteries.get(battery_id)
        if row is None:
            raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
        status_at = row["status_at"]
        max_age = self.settings.bess_status_max_age_s
        age = None if status_at is None else max(0.0, time.time() - status_at)
        return {
            "battery_id": battery_id,
            "soc_percent": row["soc_percent"],
            "power_mw": row["power_mw_now"],
            "temperature_c": row["temperature_c"],
            "online": age is not None and age <= max_age,
            "updated_at": iso(status_at),
            "age_s": None if age is None else round(age, 1),
            "max_age_s": max_age,
            "source": row["source"],
            "capacity_mwh": row["capacity_mwh"],
            "rated_power_mw": row["power_mw"],
            "soc_min_percent": row["soc_min_percent"],
            "soc_max_percent": row["soc_max_percent"],
            "charge_efficiency": row["charge_efficiency"],
            "discharge_efficiency": row["discharge_efficiency"],
        }

    def report_environment(self, battery_id: str, config_json: dict) -> None:
        now = time.time()
        self.environment_telemetry[battery_id] = [config_json, now, now]

    def telemetry_asked(self, battery_id: str) -> None:
        """A telemetry service asked for the battery's configuration: it is still running."""
        reported = self.environment_telemetry.get(battery_id)
        now = time.time()
        # A lapsed report stays lapsed: a service asking without reporting (configured
        # otherwise, or with an environment it could not describe) does not revive it.
        if reported is not None and now - reported[2] <= ENVIRONMENT_REPORT_TTL_S:
            reported[2] = now

    def environment_report(self, battery_id: str) -> tuple[dict, float] | None:
        """The configuration reported from a telemetry service's environment and when, unless
        no telemetry service has asked for the battery's configuration for a while (stopped,
        or now configured otherwise)."""
        reported = self.environment_telemetry.get(battery_id)
        if reported is None or time.time() - reported[2] > ENVIRONMENT_REPORT_TTL_S:
            return None
        return reported[0], reported[1]

    def rest_push_enabled(self, battery_id: str) -> bool:
        """Whether the battery's telemetry configuration (saved, else the one its telemetry
        service reported from its environment, else BESS_REST_ENABLED) accepts readings pushed
        over REST."""
        saved = self.rest_push_saved.get(battery_id)
        if saved is not None:
            return saved
        reported = self.environment_report(battery_id)
        if reported is not None:
            return reported[0].get("rest", {}).get("enabled", True) is not False
        return self.settings.bess_rest_enabled

    async def record_battery_status(
        self,
        battery_id: str,
        soc: float,
        power: float,
        temperature: float | None,
        at: float,
        source: str,
    ) -> dict:
        row = self.batteries.get(battery_id)
        if row is None:
            raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
        limit = 1.2 * row["power_mw"]
        if abs(power) > limit:
            raise Reject(
                "INVALID_TELEMETRY",
                f"power_mw {power} is outside ±{limit:g} MW "
                f"(1.2 × the rated {row['power_mw']:g} MW).",
            )
        if row["status_at"] is not None and at <= row["status_at"]:
            raise Reject(
                "STALE_TELEMETRY",
                "This reading is not newer than the status already held; it was not applied.",
                409,
            )
        update = {
            "id": battery_id,
            "soc_percent": soc,
            "power_mw_now": power,
            "temperature_c": temperature,
            "status_at": at,
            "source": source,
        }
        await asyncio.to_thread(self.store.save_battery_status, update)
        row.update(update)
        self.risk.set_state(battery_id, BatteryState(soc, at))
        status = self.battery_status(battery_id)
        self.bus.publish({"type": "telemetry", "data": status})
        return status

    def battery_statuses(self) -> list[dict]:
        return [self.battery_status(b) for b in sorted(self.batteries)]

    async def create_battery(self, battery_id: str, values: dict) -> dict:
        if battery_id in self.batteries:
            raise Reject("CONFLICT", f"Battery {battery_id!r} exists already.", 409)
        row = self._battery_row(battery_id, values)
        if not 0 <= row["soc_min_percent"] < row["soc_max_percent"] <= 100:
            raise Reject("INVALID_LIMITS", "Need 0 ≤ soc_min_percent < soc_max_percent ≤ 100.")
        await asyncio.to_thread(self.store.ensure_battery, row)
        full = {
            **row,
            "soc_percent": None,
            "power_mw_now": None,
            "temperature_c": None,
            "status_at": None,
            "source": None,
        }
        self.batteries[battery_id] = full
        self.risk.set_limits(battery_id, self._limits(full))
        return self.battery_status(battery_id)

    async def battery_history(
        self, battery_id: str, since: float | None, until: float | None, limit: int
    ) -> list[dict]:
        if battery_id not in self.batteries:
            raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
        rows = await asyncio.to_thread(self.store.battery_history, battery_id, since, until, limit)
        return [
            {
                "at": iso(r["at"]),
                "soc_percent": r["soc_percent"],
                "power_mw": r["power_mw"],
                "temperature_c": r["temperature_c"],
                "source": r["source"],
            }
            for r in rows
        ]

    async def update_battery_limits(self, battery_id: str, values: dict) -> dict:
        row = self.batteries.get(battery_id)
        if row is None:
            raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
        merged = {**row, **values}
        if not 0 <= merged["soc_min_percent"] < merged["soc_max_percent"] <= 100:
            raise Reject("INVALID_LIMITS", "Need 0 ≤ soc_min_percent < soc_max_percent ≤ 100.")
        await asyncio.to_thread(self.store.update_battery_limits, battery_id, values)
        row.update(values)
        self.risk.set_limits(battery_id, self._limits(row))
        return self.battery_status(battery_id)

    # -- accounts -------------------------------------------------------------------------
    async def authenticate(self, presented: str | None) -> Account:
        now = time.time()
        key_id = key_id_of(presented)
        if key_id is not None:
            stored = self.keyring.keys.get(key_id)
            if stored is None or now - stored.loaded_at > KEY_REFRESH_S:
                found = await asyncio.to_thread(self._read_key, key_id)
                self._refresh_key(key_id, found, now)
        account, _ = self.keyring.authenticate(presented, now)
        return account

    async def key_still_live(self, key_id: str) -> bool:
        """Whether a stream's key works, re-read from storage as often as a presented REST key
        (another process, the CLI, may have made it or cut it off)."""
        now = time.time()
        stored = self.keyring.keys.get(key_id)
        known = stored is not None or self.keyring.key_is_live(key_id, now) is not None
        if not known or (stored is not None and now - stored.loaded_at > KEY_REFRESH_S):
            self._refresh_key(key_id, await asyncio.to_thread(self._read_key, key_id), now)
        return self.keyring.key_is_live(key_id, now) is not None

    def _read_key(self, key_id: str) -> tuple[dict | None, dict | None]:
        """A key's row and, when this process does not know its account, the account's row
        (another process may have made or changed them: the CLI)."""
        row = self.store.get_key(key_id)
        if row is None or row["account_id"] in self.keyring.accounts:
            return row, None
        return row, self.store.get_account(row["account_id"])

    def _refresh_key(self, key_id: str, found: tuple[dict | None, dict | None], now: float) -> None:
        """Apply a re-read key, on the loop. A rotation may have ended the key while the row
        was being read: the earlier end wins, or a cut-off key would work until the next read."""
        row, acct = found
        if row is None:
            self.keyring.keys.pop(key_id, None)
            return
        if acct is not None and acct["id"] not in self.keyring.accounts:
            self._register_account(
                Account(acct["id"], acct["name"], acct["role"], acct["battery_id"])
            )
        expires = row["expires_at"]
        known = self.keyring.keys.get(key_id)
        if known is not None and known.expires_at is not None:
            expires = known.expires_at if expires is None else min(expires, known.expires_at)
        self.keyring.add_key(
            StoredKey(row["key_id"], row["account_id"], row["key_hash"], expires, now)
        )

    async def sync_accounts(self) -> None:
        """Register the accounts another process (the CLI) stored since this one loaded; their
        keys are read when first presented."""
        rows = await asyncio.to_thread(self.store.load_accounts)
        for row in rows:
            if row["id"] not in self.keyring.accounts:
                self._register_account(
                    Account(row["id"], row["name"], row["role"], row["battery_id"])
                )

    async def create_account(self, name: str, role: str, battery_id: str | None) -> dict:
        if not re.fullmatch(ACCOUNT_NAME_PATTERN, name) or len(name) > ACCOUNT_NAME_MAX:
            raise Reject(
                "INVALID_NAME",
                f"Account name {name!r}: use 1-{ACCOUNT_NAME_MAX} letters, digits, '.', '_', "
                "'@', '-' and inner spaces.",
            )
        await self.sync_accounts()  # the CLI may have made some since this process loaded
        folded = name.casefold()
        taken = [a.name for a in self.keyring.accounts.values()]
        clash = next(
            (n for n in (*taken, *self._names_in_creation) if n.casefold() == folded), None
        )
        if clash is not None:
            raise Reject(
                "CONFLICT",
                f"An account named {clash!r} exists already (names are compared without case).",
                409,
            )
        if battery_id is not None and battery_id not in self.batteries:
            raise Reject("NOT_FOUND", f"Battery {battery_id!r} is not known.", 404)
        now = time.time()
        # Reserved until stored: two requests for "Dana" and "dana" must not both pass the
        # check above while the first waits for the database (whose index has case).
        self._names_in_creation.add(name)
        try:
            row = await asyncio.to_thread(self.store.create_account, name, role, battery_id, now)
        except IntegrityError:  # stored by another process between the check and the insert
            raise Reject(
                "CONFLICT",
                f"An account named {name!r} exists already (names are compared without case).",
                409,
            ) from None
        finally:
            self._names_in_creation.discard(name)
        account = Account(row["id"], name, role, battery_id)
        self._register_account(account)
        key = await self._issue_key(account.id, now, expire_others_at=None)
        return {**account.to_wire(), "api_key": key}

    async def rotate_key(self, account_id: int, overlap_s: float | None = None) -> dict:
        """A new key; the account's other keys work ``overlap_s`` longer (default: the
        configured overlap; 0: they stop now)."""
        if account_id not in self.keyring.accounts:
            await self.sync_accounts()
        if account_id not in self.keyring.accounts:
            raise Reject("NOT_FOUND", f"Account {account_id} does not exist.", 404)
        now = time.time()
        if overlap_s is None:
            overlap_s = self.settings.key_rotation_overlap_s
        elif overlap_s == 0 and self.keyring.configured_for(account_id):
            raise Reject(
                "KEY_FROM_ENVIRONMENT",
                f"Account {account_id}'s key is set in the exchange's environment (API_KEY, "
                "BESS_API_KEY or FEED_API_KEY) and works as long as it is set there: change the "
                "setting and restart the exchange to cut it off.",
                409,
            )
        until = now + overlap_s
        key = await self._issue_key(account_id, now, expire_others_at=until)
        return {"id": account_id, "api_key": key, "previous_keys_valid_until": iso(until)}

    async def _issue_key(self, account_id: int, now: float, expire_others_at: float | None) -> str:
        key_id, key = new_key()
        digest = hash_key(key)
        await asyncio.to_thread(
            self.store.add_key, account_id, key_id, digest, now, expire_others_at
        )
        if expire_others_at is not None:
            self.keyring.expire_keys(account_id, expire_others_at, except_key=key_id)
        self.keyring.add_key(StoredKey(key_id, account_id, digest, None, now))
        return key
