"""Market indicators (pure, no I/O): Mark, EMA over successive marks, VWAP of the exchange's trades.

- **Mark**: the day-ahead price of the delivery period containing *now* (the finest resolution
  that covers it), or, for markets configured so, the latest trade price.
- **EMA** (α = 0.2): ``ema = α·mark + (1 − α)·ema`` over successive marks — the prices of
  successive delivery periods up to the current one (or successive trade prices). It is computed
  from the stored series, so it is the same after a restart and needs no state of its own.
- **VWAP**: Σ(price·quantity) / Σquantity over the trades of the last 96 quarter-hours (one day),
  and per quarter-hour for the chart.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from dataclasses import dataclass

from .markets import QUARTER_HOUR

EMA_ALPHA = 0.2
VWAP_WINDOW_QH = 96
# Terms older than this weigh (1 − α)^n ≈ 2e-10 in the EMA: beyond double precision of interest.
EMA_LOOKBACK = 100


def ema(values, alpha: float = EMA_ALPHA) -> float | None:
    """The EMA of ``values`` (oldest first), seeded with the first value."""
    out = None
    for v in values:
        out = v if out is None else alpha * v + (1.0 - alpha) * out
    return out


def ema_series(values, alpha: float = EMA_ALPHA) -> list[float]:
    """The running EMA after each of ``values`` (oldest first): what ``ema`` gives for every
    prefix, in one pass (the market chart's EMA line)."""
    out: list[float] = []
    acc = None
    for v in values:
        acc = v if acc is None else alpha * v + (1.0 - alpha) * acc
        out.append(acc)
    return out


def quarter_hour_of(ts: float) -> int:
    return int(ts // QUARTER_HOUR) * QUARTER_HOUR


@dataclass(frozen=True, slots=True)
class Snapshot:
    mark: float | None
    mark_start: int | None  # start of the period the mark is the price of (or the trade time)
    mark_end: int | None
    ema: float | None
    vwap: float | None
    vwap_volume: float  # MWh traded in the VWAP window


class PriceCurve:
    """Day-ahead prices of one market, per resolution, sorted by start (epoch seconds)."""

    def __init__(self) -> None:
        # resolution seconds → (sorted starts, {start: (end, price)})
        self._by_res: dict[int, tuple[list[int], dict[int, tuple[int, float]]]] = {}

    def put(self, start: int, end: int, price: float) -> bool:
        """Add or replace one period's price; True when something changed."""
        starts, values = self._by_res.setdefault(end - start, ([], {}))
        old = values.get(start)
        if old == (end, price):
            return False
        if old is None:
            bisect.insort(starts, start)
        values[start] = (end, price)
        return True

    def drop_before(self, ts: int) -> None:
        for starts, values in self._by_res.values():
            cut = bisect.bisect_left(starts, ts)
            for s in starts[:cut]:
                del values[s]
            del starts[:cut]

    def __len__(self) -> int:
        return sum(len(starts) for starts, _ in self._by_res.values())

    def at(self, now: float) -> tuple[int, int, float, int] | None:
        """(start, end, price, resolution seconds) of the finest period containing ``now``."""
        for res in sorted(self._by_res):
            starts, values = self._by_res[res]
            i = bisect.bisect_right(starts, now) - 1
            if i >= 0:
                end, price = values[starts[i]]
                if now < end:
                    return starts[i], end, price, res
        return None

    def marks_until(self, now: float, n: int) -> list[float]:
        """Prices of the last ``n`` periods up to and including the one containing ``now``,
        at the resolution of the current mark, oldest first."""
        hit = self.at(now)
        if hit is None:
            return []
        starts, values = self._by_res[hit[3]]
        i = bisect.bisect_right(starts, now)
        return [values[s][1] for s in starts[max(0, i - n) : i]]


class VwapWindow:
    """Per-quarter-hour Σ(p·q) and Σq of trades; the window is the last 96 quarter-hours."""

    def __init__(self, window_qh: int = VWAP_WINDOW_QH) -> None:
        self.window_qh = window_qh
        self._buckets: OrderedDict[int, list[float]] = OrderedDict()  # qh start → [Σpq, Σq]

    def add(self, executed_at: float, price: float, quantity: float) -> None:
        qh = quarter_hour_of(executed_at)
        bucket = self._buckets.get(qh)
        if bucket is None:
            bucket = self._buckets[qh] = [0.0, 0.0]
            if len(self._buckets) > 1 and next(reversed(self._buckets)) != qh:
                # A late trade (restored out of order): keep buckets sorted by time.
                self._buckets = OrderedDict(sorted(self._buckets.items()))
        bucket[0] += price * quantity
        bucket[1] += quantity

    def _first_qh(self, now: float) -> int:
        return quarter_hour_of(now) - (self.window_qh - 1) * QUARTER_HOUR

    def trim(self, now: float) -> None:
        first = self._first_qh(now)
        while self._buckets:
            qh = next(iter(self._buckets))
            if qh >= first:
                break
            del self._buckets[qh]

    def value(self, now: float) -> tuple[float | None, float]:
        """(VWAP, volume) over the window ending at ``now``; VWAP is None without trades."""
        first = self._first_qh(now)
        pq = q = 0.0
        for qh, (bpq, bq) in self._buckets.items():
            if first <= qh <= now:
                pq += bpq
                q += bq
        return (pq / q if q > 0 else None), q

    def series(self, now: float) -> list[tuple[int, float, float]]:
        """(quarter-hour start, VWAP, volume) for every quarter-hour with trades in the window."""
        first = self._first_qh(now)
        return [
            (qh, bpq / bq, bq)
            for qh, (bpq, bq) in self._buckets.items()
            if first <= qh <= now and bq > 0
        ]


class MarketIndicators:
    """Mark, EMA and VWAP of one market."""

    def __init__(self, mark_source: str = "dayahead", alpha: float = EMA_ALPHA) -> None:
        if mark_source not in ("dayahead", "last_trade"):
            raise ValueError("mark_source must be 'dayahead' or 'last_trade'")
        self.mark_source = mark_source
        self.alpha = alpha
        self.curve = PriceCurve()
        self.vwap = VwapWindow()
        self.trade_prices: deque[tuple[float, float]] = deque(maxlen=EMA_LOOKBACK)

    def add_trade(self, executed_at: float, price: float, quantity: float) -> None:
        self.vwap.add(executed_at, price, quantity)
        self.trade_prices.append((executed_at, price))

    def snapshot(self, now: float) -> Snapshot:
        vwap, volume = self.vwap.value(now)
        if self.mark_source == "last_trade":
            if self.trade_prices:
                at, mark = self.trade_prices[-1]
                marks = [p for _, p in self.trade_prices]
                return Snapshot(mark, int(at), None, ema(marks, self.alpha), vwap, volume)
            return Snapshot(None, None, None, None, vwap, volume)
        hit = self.curve.at(now)
        if hit is None:
            return Snapshot(None, None, None, None, vwap, volume)
        start, end, mark, _ = hit
        marks = self.curve.marks_until(now, EMA_LOOKBACK)
        return Snapshot(mark, start, end, ema(marks, self.alpha), vwap, volume)
