"""Prometheus metrics of the exchange (prometheus_client, one registry per app instance).

Counters move when a change is committed. Exposure, PnL and open orders are read from the live
state at scrape time by a collector, so they are exact and cost nothing on the order path.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .. import core

if TYPE_CHECKING:
    from .service import ExchangeService

# The *_created series double the output and nothing here reads them.
disable_created_metrics()

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Tally(Collector):
    """A labelled counter for the order path: a dict increment there (≈0.1 µs; a
    prometheus_client child's ``inc`` takes a lock and costs ≈20 times that), exposed at scrape
    time as a counter family with the same name and ``_total`` samples. Incremented on the
    event loop only; a scrape in another thread reads a copy made in one C call."""

    def __init__(self, name: str, documentation: str, labels: list[str], registry) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self.values: dict[tuple[str, ...], float] = {}
        registry.register(self)

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def describe(self):
        yield CounterMetricFamily(self.name, self.documentation, labels=self.labels)

    def collect(self):
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, value in sorted(list(self.values.items())):
            family.add_metric(key, value)
        yield family


class StateCollector(Collector):
    def __init__(self, service: ExchangeService) -> None:
        self.service = service

    def collect(self):
        svc = self.service
        names = {a.id: a.name for a in svc.keyring.accounts.values()}
        energy = GaugeMetricFamily(
            "phoenyra_exposure_energy_mwh",
            "Net energy position per account and market (MWh, + bought / - sold)",
            labels=["account", "market"],
        )
        notional = GaugeMetricFamily(
            "phoenyra_exposure_notional_eur",
            "Notional value of the open position at its average price (EUR)",
            labels=["account", "market"],
        )
        realized = GaugeMetricFamily(
            "phoenyra_realized_pnl_eur",
            "Realised PnL per account and market, average-cost method (EUR)",
            labels=["account", "market"],
        )
        for (account_id, market), pos in svc.risk.positions.items():
            labels = [names.get(account_id, str(account_id)), market]
            energy.add_metric(labels, pos.net_mwh)
            notional.add_metric(labels, pos.notional_eur)
            realized.add_metric(labels, pos.realized_pnl)
        open_orders = GaugeMetricFamily(
            "phoenyra_open_orders", "Open orders in the books", labels=["market", "side"]
        )
        counts: dict[tuple[str, str], int] = {}
        for o in svc.engine.open_orders.values():
            key = (o.market, o.side.value)
            counts[key] = counts.get(key, 0) + 1
        for (market, side), n in sorted(counts.items()):
            open_orders.add_metric([market, side], n)
        books = GaugeMetricFamily("phoenyra_order_books", "Order books (products) open")
        books.add_metric([], len(svc.engine.books))
        yield from (energy, notional, realized, open_orders, books)
        yield from self._market(svc)
        yield from self._batteries(svc)

    @staticmethod
    def _batteries(svc: ExchangeService):
        families = {
            "soc_percent": GaugeMetricFamily(
                "phoenyra_bess_soc_percent", "State of charge (percent)", labels=["battery"]
            ),
            "power_mw": GaugeMetricFamily(
                "phoenyra_bess_power_mw",
                "Active power (MW, + discharging / - charging)",
                labels=["battery"],
            ),
            "temperature_c": GaugeMetricFamily(
                "phoenyra_bess_temperature_celsius", "Battery temperature (°C)", labels=["battery"]
            ),
        }
        online = GaugeMetricFamily(
            "phoenyra_bess_online",
            "1 when a valid reading arrived within 3 update intervals",
            labels=["battery"],
        )
        # The configured limits, so an alert compares SoC with each battery's own limits.
        limits = GaugeMetricFamily(
            "phoenyra_bess_soc_limit_percent",
            "SoC limits of the battery's risk checks (percent), bound min or max",
            labels=["battery", "bound"],
        )
        for battery_id in sorted(svc.batteries):
            status = svc.battery_status(battery_id)
            online.add_metric([battery_id], 1.0 if status["online"] else 0.0)
            limits.add_metric([battery_id, "min"], status["soc_min_percent"])
            limits.add_metric([battery_id, "max"], status["soc_max_percent"])
            if not status["online"]:
                continue  # a stale value is never shown as live
            for key, family in families.items():
                if status[key] is not None:
                    family.add_metric([battery_id], status[key])
        yield from (*families.values(), online, limits)

    @staticmethod
    def _market(svc: ExchangeService):
        now = time.time()
        price = GaugeMetricFamily(
            "phoenyra_market_price_eur_mwh",
            "Market indicators: mark (day-ahead price now), ema (alpha 0.2), vwap (96 QH), EUR/MWh",
            labels=["market", "kind"],
        )
        updated = GaugeMetricFamily(
            "phoenyra_market_data_updated_timestamp_seconds",
            "When the market feed last delivered prices (epoch seconds)",
            labels=["market", "source"],
        )
        stale = GaugeMetricFamily(
            "phoenyra_market_data_stale",
            "1 when the market data cannot be trusted as current",
            labels=["market"],
        )
        for market in sorted(svc.markets):
            snap = svc.market.snapshot(market, now)
            for kind, value in (("mark", snap.mark), ("ema", snap.ema), ("vwap", snap.vwap)):
                if value is not None:
                    price.add_metric([market, kind], value)
            feed = svc.market.feeds.get(market)
            if feed is not None:
                updated.add_metric([market, feed["source"]], feed["updated_at"])
            stale.add_metric([market], 1.0 if svc.market.data(market, now)["stale"] else 0.0)
        yield from (price, updated, stale)


class ExchangeMetrics:
    def __init__(self, service: ExchangeService) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.orders = Tally(
            "phoenyra_orders",
            "Orders entered, by market, side and status after entry",
            ["market", "side", "status"],
            r,
        )
        self.order_events = Tally(
            "phoenyra_order_status_changes",
            "Order status changes after entry (fills of resting orders, cancels, expiries)",
            ["market", "status"],
            r,
        )
        self.trades = Tally("phoenyra_trades", "Trades executed", ["market"], r)
        self.volume = Tally("phoenyra_traded_volume_mwh", "Energy traded (MWh)", ["market"], r)
        self.errors = Counter(
            "phoenyra_errors", "Requests refused or failed, by error code", ["code"], registry=r
        )
        self.http = Histogram(
            "phoenyra_http_request_duration_seconds",
            "HTTP request duration (seconds)",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commit = Histogram(
            "phoenyra_db_commit_duration_seconds",
            "Group-commit transaction duration (seconds)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ws_clients = Gauge("phoenyra_ws_clients", "Connected WebSocket clients", registry=r)
        self.up_since = Gauge(
            "phoenyra_start_time_seconds", "Start time of the service (epoch seconds)", registry=r
        )
        self.up_since.set(time.time())
        Info(
            "phoenyra_exchange_core",
            "The matching core in use: compiled (mypyc) or pure Python, and why",
            registry=r,
        ).info({"compiled": str(core.COMPILED).lower(), "detail": core.describe()})
        r.register(StateCollector(service))
