"""Risk: battery SoC and energy limits, throttling, exposure and PnL. Pure; time is passed in.

Signs: a BUY charges the battery (energy in), a SELL discharges it (energy out). Positions are
signed MWh: positive = bought (long energy, to be charged).

Energy accounting per battery, over every account linked to it (two traders of one battery
share its room), in MWh, along the battery's delivery timeline:
- ``stored`` = SoC × capacity from the latest battery status;
- what the battery has traded and that status does not show yet is delivered at a steady rate:
  a quarter-hour product's fill over its quarter-hour, a continuous-book fill at the battery's
  rated power from the trade (after the continuous fills before it: 0.7 MWh at 1 MW takes 42
  minutes, so a reading taken seconds after the trade shows none of it, one taken 21 minutes
  after shows half). A status taken during a delivery shows the part delivered by then;
- open orders may all fill, so the check is against the worst case on the order's side: every
  open order of that side fills (a product's in its quarter-hour, a continuous one at once) and
  none of the other side. A BUY must keep the stored energy at or under max SoC × capacity, a
  SELL at or over min SoC × capacity, at every moment from now on:
  BUY:  stored + traded(t) + open buys(t)  + q(t)  ≤ max SoC × capacity   for every t ≥ now
  SELL: stored + traded(t) − open sells(t) − q(t)  ≥ min SoC × capacity   for every t ≥ now
  where x(t) is what is delivered of x by t. Energy sold for the evening does not make room to
  buy in the morning, and a product's energy counts from its quarter-hour on, not before.
- traded MWh are energy at the grid connection: a MWh bought stores ``charge_efficiency`` MWh,
  a MWh sold takes 1 / ``discharge_efficiency`` MWh from the battery (both 1 unless the
  battery's limits say otherwise). A buy and a sale delivered at once net out at the grid, so
  the losses apply to the net: a BUY's check counts every MWh, bought or sold, at
  ``charge_efficiency`` (a bound from above however deliveries overlap), a SELL's counts bought
  MWh at ``charge_efficiency`` and sold ones at 1 / ``discharge_efficiency`` (a bound from below).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .errors import Reject
from .markets import QUARTER_HOUR, iso_utc
from .orders import BUY, Order, Side, Trade

EPS = 1e-9


def _mwh(value: float) -> float:
    """An energy figure for a refusal, without the binary noise of its sums (0.6000000000000001
    MWh is 0.6 MWh)."""
    return round(value, 9)


def _percent(soc: float) -> str:
    """A SoC for a sentence: 90.01 stays 90.01, 90.004 stays 90.004 (one decimal would say
    90.0, at the limit it is refused for passing)."""
    return f"{soc:.6g}"


def _clock(epoch_s: float) -> str:
    """A moment for a sentence: minutes, seconds too when it is not on the minute."""
    at = datetime.fromtimestamp(epoch_s, UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC" if at.second else "%Y-%m-%d %H:%M UTC")


def _delivered(begin: float, end: float, mwh: float, t: float) -> float:
    """What a delivery of ``mwh`` at a steady rate from ``begin`` to ``end`` (at once when they
    are equal) has delivered by ``t``."""
    if t >= end:
        return mwh
    if t <= begin:
        return 0.0
    return mwh * (t - begin) / (end - begin)


def _delivered_sum(deliveries: list[tuple[float, float, float]], t: float) -> float:
    total = 0.0
    for begin, end, mwh in deliveries:
        total += _delivered(begin, end, mwh, t)
    return total


def fill_deliveries(book: BatteryRisk) -> list[tuple[float, float, float]]:
    """The battery's fills as deliveries (from, to, signed MWh, + bought): a product over its
    quarter-hour, a continuous fill at rated power after the continuous fills before it. The
    risk check counts on them; the dispatch plan asks the battery for them."""
    out = [(float(s), float(s + QUARTER_HOUR), mwh) for s, mwh in book.product_fills.items()]
    out.extend(book.continuous_fills)
    return out


def _open_deliveries(
    book: BatteryRisk, buy: bool, continuous_at: float
) -> list[tuple[float, float, float]]:
    """The open orders of one side as deliveries if they all fill: a product's in its
    quarter-hour, a continuous order's at once at ``continuous_at``."""
    per_product: dict[int, float] = {}
    at_once = 0.0
    for mwh, start, is_buy in book.open_by_order.values():
        if is_buy != buy:
            continue
        if start is None:
            at_once += mwh
        else:
            per_product[start] = per_product.get(start, 0.0) + mwh
    out: list[tuple[float, float, float]] = []
    if at_once:
        out.append((continuous_at, continuous_at, at_once))
    for start, mwh in per_product.items():
        out.append((float(start), float(start + QUARTER_HOUR), mwh))
    return out


def net_power(
    deliveries: list[tuple[float, float, float]], begin: float, end: float
) -> list[tuple[float, float, float]]:
    """The power ``deliveries`` (from, to, MWh at a steady rate in between) add up to over
    ``begin``..``end``, as consecutive (from, to, MW) between their starts and ends: the
    battery runs at the sum of what it delivers at the same time. The power check holds it to
    the rated power; the dispatch plan asks the battery for it."""
    rates: list[tuple[float, float, float]] = []
    moments = {begin, end}
    for a, b, mwh in deliveries:
        if b > a and b > begin and a < end and mwh:
            rates.append((a, b, mwh * 3600.0 / (b - a)))
            if begin < a < end:
                moments.add(a)
            if begin < b < end:
                moments.add(b)
    times = sorted(moments)
    out: list[tuple[float, float, float]] = []
    for i in range(len(times) - 1):
        t0, t1 = times[i], times[i + 1]
        mw = 0.0
        for a, b, rate in rates:
            if a <= t0 and b >= t1:
                mw += rate
        out.append((t0, t1, mw))
    return out


@dataclass(slots=True)
class BatteryLimits:
    capacity_mwh: float = 2.0
    power_mw: float = 1.0
    soc_min_percent: float = 15.0
    soc_max_percent: float = 90.0
    charge_efficiency: float = 1.0  # MWh stored per MWh bought
    discharge_efficiency: float = 1.0  # MWh sold per MWh taken from the battery


@dataclass(slots=True)
class BatteryState:
    soc_percent: float
    updated_at: float  # epoch seconds of the reading


@dataclass(slots=True)
class Position:
    """Average-cost position of one account in one market (all delivery products)."""

    net_mwh: float = 0.0
    avg_price: float = 0.0  # EUR/MWh of the open position
    realized_pnl: float = 0.0  # EUR
    bought_mwh: float = 0.0
    sold_mwh: float = 0.0

    def apply(self, side: Side, qty: float, price: float) -> None:
        signed = qty if side is BUY else -qty
        if side is BUY:
            self.bought_mwh += qty
        else:
            self.sold_mwh += qty
        pos = self.net_mwh
        if pos == 0 or (pos > 0) == (signed > 0):
            new = pos + signed
            self.avg_price = (self.avg_price * abs(pos) + price * qty) / abs(new)
            self.net_mwh = new
            return
        closing = min(abs(pos), qty)
        direction = 1.0 if pos > 0 else -1.0
        self.realized_pnl += closing * (price - self.avg_price) * direction
        new = pos + signed
        if abs(new) < EPS:
            self.net_mwh, self.avg_price = 0.0, 0.0
        elif (new > 0) != (pos > 0):
            self.net_mwh, self.avg_price = new, price  # flipped: the rest opens at this price
        else:
            self.net_mwh = new

    @property
    def notional_eur(self) -> float:
        return self.net_mwh * self.avg_price

    def unrealized_pnl(self, mark: float | None) -> float | None:
        if mark is None:
            return None
        return (mark - self.avg_price) * self.net_mwh


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(slots=True)
class AccountRisk:
    battery_id: str | None  # the battery the account trades for; None: a market participant


@dataclass(slots=True)
class BatteryRisk:
    """The energy a battery is committed to by the orders and trades of all its accounts."""

    # Open MWh, delivery product and side (True = BUY) of each open order.
    open_by_order: dict[int, tuple[float, int | None, bool]] = field(default_factory=dict)
    # Net filled MWh per delivery product start (quarter-hour) not yet delivered.
    product_fills: dict[int, float] = field(default_factory=dict)
    # Continuous-book fills not yet delivered: (start, end of delivery at rated power, signed
    # MWh), in the order they are delivered.
    continuous_fills: deque[tuple[float, float, float]] = field(default_factory=deque)
    continuous_until: float = 0.0  # when the last of them is delivered


class RiskManager:
    def __init__(
        self,
        throttle_rate: float = 50.0,
        throttle_burst: float = 100.0,
        status_max_age_s: float = 90.0,
    ) -> None:
        self.throttle_rate = throttle_rate
        self.throttle_burst = throttle_burst
        self.status_max_age_s = status_max_age_s
        self.accounts: dict[int, AccountRisk] = {}
        self.batteries: dict[str, BatteryRisk] = {}
        self.limits: dict[str, BatteryLimits] = {}
        self.states: dict[str, BatteryState] = {}
        self.positions: dict[tuple[int, str], Position] = {}
        self.marks: dict[str, float] = {}
        self._buckets: dict[tuple[int, str], TokenBucket] = {}

    # -- registry -------------------------------------------------------------------------
    def register_account(self, account_id: int, battery_id: str | None) -> None:
        acct = self.accounts.get(account_id)
        if acct is None:
            self.accounts[account_id] = AccountRisk(battery_id)
        else:
            acct.battery_id = battery_id

    def set_limits(self, battery_id: str, limits: BatteryLimits) -> None:
        self.limits[battery_id] = limits

    def battery(self, battery_id: str) -> BatteryRisk:
        """The battery's energy bookkeeping (empty until its accounts trade)."""
        book = self.batteries.get(battery_id)
        if book is None:
            book = self.batteries[battery_id] = BatteryRisk()
        return book

    def set_state(self, battery_id: str, state: BatteryState) -> None:
        self.states[battery_id] = state

    # -- checks ---------------------------------------------------------------------------
    def throttle(self, account_id: int, market: str, now: float) -> None:
        key = (account_id, market)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(
                self.throttle_rate, self.throttle_burst, self.throttle_burst, now
            )
        wait = bucket.take(now)
        if wait:
            raise Reject(
                "THROTTLED",
                f"Too many orders on {market}: at most {self.throttle_rate:g} per second "
                f"(bursts of {self.throttle_burst:g}). Retry in {wait:.2f} s.",
                status=429,
                retry_after=wait,
                market=market,
                rate_per_s=self.throttle_rate,
                burst=self.throttle_burst,
            )

    def check_order(
        self,
        account_id: int,
        side: Side,
        quantity_mwh: float,
        now: float,
        delivery_start: int | None = None,
    ) -> None:
        """Battery checks for an account linked to a battery; others pass."""
        acct = self.accounts.get(account_id)
        if acct is None or acct.battery_id is None:
            return
        battery_id = acct.battery_id
        limits = self.limits.get(battery_id) or BatteryLimits()
        state = self.states.get(battery_id)
        if state is None:
            raise Reject(
                "BATTERY_STATUS_UNKNOWN",
                f"No status is known for battery {battery_id!r}: orders for it are refused until "
                "its telemetry (or POST /api/bess/telemetry) reports its state of charge.",
                status=409,
                battery_id=battery_id,
            )
        age = now - state.updated_at
        if age > self.status_max_age_s:
            raise Reject(
                "BATTERY_STATUS_STALE",
                f"The last status of battery {battery_id!r} is {age:.0f} s old (limit "
                f"{self.status_max_age_s:g} s): orders are refused until fresh telemetry arrives.",
                status=409,
                battery_id=battery_id,
                age_s=age,
                max_age_s=self.status_max_age_s,
            )
        soc = state.soc_percent
        if side is BUY and soc > limits.soc_max_percent:
            raise Reject(
                "SOC_LIMIT",
                f"Buying charges the battery, and battery {battery_id!r} is at {_percent(soc)} % "
                f"SoC, above its maximum of {limits.soc_max_percent:g} %.",
                battery_id=battery_id,
                side="BUY",
                soc_percent=soc,
                soc_max_percent=limits.soc_max_percent,
            )
        if side is not BUY and soc < limits.soc_min_percent:
            raise Reject(
                "SOC_LIMIT",
                f"Selling discharges the battery, and battery {battery_id!r} is at "
                f"{_percent(soc)} % SoC, below its minimum of {limits.soc_min_percent:g} %.",
                battery_id=battery_id,
                side="SELL",
                soc_percent=soc,
                soc_min_percent=limits.soc_min_percent,
            )
        cap = limits.capacity_mwh
        stored = soc / 100.0 * cap
        book = self.battery(battery_id)
        is_buy = side is BUY
        fills = self._unseen_fills(book, state.updated_at)
        # Continuous orders are delivered after what the battery still has to deliver from
        # the continuous book; counted there at once (the earliest they can be).
        after = max(now, book.continuous_until)
        opens = _open_deliveries(book, is_buy, after)
        # Traded MWh are energy at the grid; the battery stores less than it buys and gives
        # more than it sells, on the net power it runs at: a buy and a sale delivered at the
        # same time net out at the grid (dispatch adds them up). Bounds that hold however the
        # deliveries overlap: for a BUY (the stored energy must stay under the max) every MWh,
        # bought or sold, moves the stored energy by eta_in (a sale netted against a buy frees
        # only that much); for a SELL (it must stay over the min) a bought MWh stores eta_in
        # and a sold one takes per_sold (netting only ever leaves more stored).
        eta_in = limits.charge_efficiency
        per_sold = 1.0 / limits.discharge_efficiency
        bought_any = False
        stored_fills: list[tuple[float, float, float]] = []
        for a, b, m in fills:
            if m > 0.0:
                bought_any = True
            stored_fills.append((a, b, m * eta_in if m > 0.0 or is_buy else m * per_sold))
        per_own = eta_in if is_buy else per_sold  # the order's and its side's open orders'
        # The order itself: a product in its quarter-hour, a continuous order as above.
        if delivery_start is None:
            begin, end = after, after
        else:
            begin, end = float(delivery_start), float(delivery_start + QUARTER_HOUR)
        moments = {now, begin, end}
        for a, b, _ in fills:
            moments.add(a)
            moments.add(b)
        for a, b, _ in opens:
            moments.add(a)
            moments.add(b)
        # Every quantity is delivered at a steady rate between moments, so the tightest moment
        # is one of them (at, traded then, open then, room then).
        limit = limits.soc_max_percent if is_buy else limits.soc_min_percent
        target = limit / 100.0 * cap
        tight_at, tight_traded, tight_open, tight_share = now, 0.0, 0.0, 1.0
        room = float("inf")
        for t in sorted(moments):
            share = _delivered(begin, end, 1.0, t)
            if t < now or share <= 0.0:
                continue
            moved = _delivered_sum(stored_fills, t)  # what the fills moved the stored energy by
            opened = _delivered_sum(opens, t)
            if is_buy:
                free = (target - (stored + moved + opened * per_own)) / (share * per_own)
            else:
                free = ((stored + moved - opened * per_own) - target) / (share * per_own)
            if free < room:
                tight_at, tight_open, tight_share, room = t, opened, share, free
                tight_traded = _delivered_sum(fills, t)
        if quantity_mwh > room + EPS:
            if is_buy:
                limit_key, verb, past = (
                    "soc_max_percent",
                    "Buying",
                    f"charge battery {battery_id!r} past",
                )
                sides, can = "buy", "bought"
            else:
                limit_key, verb = "soc_min_percent", "Selling"
                past = f"discharge battery {battery_id!r} below"
                sides, can = "sell", "sold"
            later = tight_at > now + 1.0
            by = f" by {_clock(tight_at)}" if later else ""
            then = " delivered by then" if later else ""
            notes = ""
            partial = tight_share < 1.0 - 1e-6  # the limit is reached inside the order's quarter
            if partial:
                notes += (
                    f" By then {tight_share * 100.0:.0f} % of the order's quarter-hour is "
                    "delivered."
                )
            # The efficiencies the figures were counted with (a SELL's bought fills too).
            charge_note = eta_in < 1.0 and (is_buy or bought_any)
            if not is_buy and per_sold > 1.0:
                notes += (
                    f" Counted with a discharge efficiency of "
                    f"{limits.discharge_efficiency * 100.0:g} %: {per_sold:.2f} MWh leaves the "
                    "battery per MWh sold."
                )
            if charge_note:
                notes += (
                    f" Counted with a charge efficiency of {eta_in * 100.0:g} %: "
                    f"{eta_in:.2f} MWh is stored per MWh bought."
                )
            refusal = Reject(
                "ENERGY_LIMIT",
                f"{verb} {quantity_mwh:g} MWh would {past} {limit:g} % of its {cap:g} MWh{by}: "
                f"with {stored:.2f} MWh stored, {tight_traded:+.2f} MWh already traded and "
                f"{tight_open:.2f} MWh in open {sides} orders{then}, at most "
                f"{max(room, 0.0):.2f} MWh can be {can}.{notes}",
                battery_id=battery_id,
                side="BUY" if is_buy else "SELL",
                quantity=_mwh(quantity_mwh),
                capacity_mwh=cap,
                stored_mwh=_mwh(stored),
                traded_mwh=_mwh(tight_traded),
                open_mwh=_mwh(tight_open),
                max_quantity=_mwh(max(room, 0.0)),
            )
            refusal.details[limit_key] = limit  # soc_max_percent or soc_min_percent
            if later:  # the moment the battery would pass its limit
                refusal.details["limit_at"] = iso_utc(int(tight_at))
            if partial:
                refusal.details["delivered_share"] = round(tight_share, 4)
            if is_buy or charge_note:
                refusal.details["charge_efficiency"] = eta_in
            if not is_buy:
                refusal.details["discharge_efficiency"] = limits.discharge_efficiency
            raise refusal
        # For the power check the side's open continuous orders (``opens``' one delivery at
        # once), if they all fill now, run at rated power from ``after`` one after another. A
        # continuous order may fill at once, ahead of them (a better price), or after them: its
        # power is checked in both places.
        hours_per_mwh = 3600.0 / limits.power_mw
        queued = 0.0
        for a, b, mwh in opens:
            if a == b:
                queued += mwh
        wait = queued * hours_per_mwh
        if delivery_start is None:
            run = quantity_mwh * hours_per_mwh
            first = (after + run, after + run + wait, queued)
            self._check_power(
                book, battery_id, limits, side, (after, after + run, quantity_mwh), opens, first
            )
            behind = (after, after + wait, queued)
            own = (after + wait, after + wait + run, quantity_mwh)
            self._check_power(book, battery_id, limits, side, own, opens, behind)
        else:
            queue = (after, after + wait, queued)
            own = (begin, end, quantity_mwh)
            self._check_power(book, battery_id, limits, side, own, opens, queue)

    def _check_power(
        self,
        book: BatteryRisk,
        battery_id: str,
        limits: BatteryLimits,
        side: Side,
        own: tuple[float, float, float],
        opens: list[tuple[float, float, float]],
        queue: tuple[float, float, float],
    ) -> None:
        """The battery runs at the net power of what it delivers at the same time (dispatch adds
        the deliveries up), at most its rated power: wherever the order (``own``: from, to,
        MWh) is delivered, the order, the fills (the other direction's net against it), the
        side's open product orders (in ``opens``) and its open continuous orders (``queue``:
        from, to, MWh, as if they filled) must stay within the rated power at every moment."""
        rated = limits.power_mw
        is_buy = side is BUY
        sign = 1.0 if is_buy else -1.0
        # Deliveries in the order's direction (MWh; negative: the other direction).
        parts = [(a, b, m * sign) for a, b, m in fill_deliveries(book)]
        parts.extend(opens)  # the continuous ones (at once, no duration) are the queue's
        parts.append(queue)
        parts.append(own)
        begin, end, quantity_mwh = own
        for t0, _, mw in net_power(parts, begin, end):
            if mw > rated + 1e-6:
                per_quarter = rated * QUARTER_HOUR / 3600.0
                quarter = int(t0) - int(t0) % QUARTER_HOUR
                start = datetime.fromtimestamp(quarter, UTC).strftime("%Y-%m-%d %H:%M UTC")
                raise Reject(
                    "POWER_LIMIT",
                    f"Battery {battery_id!r} is rated {rated:g} MW, so it can "
                    f"{'charge' if is_buy else 'discharge'} at most {per_quarter:.2f} MWh in "
                    f"the quarter-hour starting {start}; with the energy already traded and open "
                    f"for that quarter-hour, {quantity_mwh:g} MWh more is too much.",
                    battery_id=battery_id,
                    side="BUY" if is_buy else "SELL",
                    quantity=_mwh(quantity_mwh),
                    power_mw=rated,
                    max_quarter_hour_mwh=per_quarter,
                    delivery_start=iso_utc(quarter),
                )

    def _unseen_fills(self, book: BatteryRisk, seen: float) -> list[tuple[float, float, float]]:
        """The battery's fills as deliveries (from, to, signed MWh), without what a status taken
        at ``seen`` shows of them; those it shows wholly are dropped."""
        fills = book.product_fills
        for start in [s for s in fills if s + QUARTER_HOUR <= seen]:
            del fills[start]  # delivered: the battery status reflects it from now on
        continuous = book.continuous_fills
        while continuous and continuous[0][1] <= seen:
            continuous.popleft()  # wholly in the status (they end in the order they were traded)
        out: list[tuple[float, float, float]] = []
        for begin, end, mwh in fill_deliveries(book):
            if end <= seen:
                continue
            if seen <= begin:
                out.append((begin, end, mwh))
            else:  # the part after the status
                out.append((seen, end, mwh * (end - seen) / (end - begin)))
        return out

    def committed_mwh(self, battery_id: str) -> float:
        """Net MWh the battery's accounts have bought (+) or sold (−) that its latest status
        does not show yet. Without a status nothing is shown."""
        state = self.states.get(battery_id)
        seen = state.updated_at if state is not None else -1.0
        # Float starts: an empty sum is 0.0, never the int 0 (the compiled core checks).
        return sum((mwh for _, _, mwh in self._unseen_fills(self.battery(battery_id), seen)), 0.0)

    # -- updates from the engine ----------------------------------------------------------
    def track_order(self, order: Order, lot: float) -> None:
        """Keep open-order energy of battery-linked accounts in step with ``order``'s state."""
        acct = self.accounts.get(order.account_id)
        if acct is None or acct.battery_id is None:
            return
        book = self.battery(acct.battery_id)
        book.open_by_order.pop(order.id, None)
        if order.is_open:
            book.open_by_order[order.id] = (
                (order.quantity - order.filled) * lot,
                order.delivery_start,
                order.side is BUY,
            )

    def _battery_of(self, account_id: int) -> str | None:
        acct = self.accounts.get(account_id)
        return None if acct is None else acct.battery_id

    def apply_trade(self, trade: Trade, quantity_mwh: float, price: float) -> None:
        buyer = self._battery_of(trade.buy_account_id)
        seller = self._battery_of(trade.sell_account_id)
        # Two accounts of one battery trading with each other move no energy: only positions.
        same = buyer is not None and buyer == seller
        for account_id, side, battery_id in (
            (trade.buy_account_id, BUY, buyer),
            (trade.sell_account_id, Side.SELL, seller),
        ):
            key = (account_id, trade.market)
            pos = self.positions.get(key)
            if pos is None:
                pos = self.positions[key] = Position()
            pos.apply(side, quantity_mwh, price)
            if battery_id is None or same:
                continue
            book = self.battery(battery_id)
            signed = quantity_mwh if side is BUY else -quantity_mwh
            if trade.delivery_start is None:
                # Delivered at rated power after whatever the battery still has to deliver.
                power = (self.limits.get(battery_id) or BatteryLimits()).power_mw
                begin = max(trade.executed_at, book.continuous_until)
                book.continuous_until = begin + quantity_mwh / power * 3600.0
                book.continuous_fills.append((begin, book.continuous_until, signed))
            else:
                fills = book.product_fills
                fills[trade.delivery_start] = fills.get(trade.delivery_start, 0.0) + signed
