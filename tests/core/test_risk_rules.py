"""The pure risk rules: SoC and energy limits, status freshness, positions, throttling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from phoenyra.core.errors import Reject
from phoenyra.core.orders import BUY, SELL, Order, Side, Trade
from phoenyra.core.risk import BatteryLimits, BatteryState, Position, RiskManager

NOW = 1_800_000_000.0
QH = 1_800_000_000 // 900 * 900 + 3600  # a quarter-hour an hour ahead


def manager(soc: float, capacity: float = 2.0, at: float = NOW) -> RiskManager:
    risk = RiskManager(throttle_rate=2.0, throttle_burst=2.0, status_max_age_s=90.0)
    risk.register_account(1, "b1")
    risk.register_account(2, None)  # a counterparty: no battery
    risk.set_limits("b1", BatteryLimits(capacity_mwh=capacity, power_mw=1.0))
    risk.set_state("b1", BatteryState(soc, at))
    return risk


def code_of(fn) -> str | None:
    try:
        fn()
    except Reject as r:
        return r.code
    return None


def test_buy_is_refused_above_max_soc_but_allowed_exactly_at_it():
    assert code_of(lambda: manager(90.01).check_order(1, BUY, 0.0, NOW)) == "SOC_LIMIT"
    assert code_of(lambda: manager(90.0).check_order(1, BUY, 0.0, NOW)) is None


def test_sell_is_refused_below_min_soc_but_allowed_exactly_at_it():
    assert code_of(lambda: manager(14.99).check_order(1, SELL, 0.1, NOW)) == "SOC_LIMIT"
    assert code_of(lambda: manager(15.0).check_order(1, SELL, 0.0, NOW)) is None


def test_energy_room_is_measured_from_soc_and_capacity():
    risk = manager(50.0, capacity=10.0)  # 5 MWh stored, max 9, min 1.5
    assert code_of(lambda: risk.check_order(1, BUY, 4.0, NOW)) is None
    assert code_of(lambda: risk.check_order(1, BUY, 4.1, NOW)) == "ENERGY_LIMIT"
    assert code_of(lambda: risk.check_order(1, SELL, 3.5, NOW)) is None
    assert code_of(lambda: risk.check_order(1, SELL, 3.6, NOW)) == "ENERGY_LIMIT"


def test_open_orders_use_up_room_until_they_close():
    risk = manager(50.0, capacity=10.0)
    order = Order(7, 1, "epex_at", Side.BUY, 100, 30, created_at=NOW)  # 3.0 MWh at lot 0.1
    risk.track_order(order, 0.1)
    assert code_of(lambda: risk.check_order(1, BUY, 1.1, NOW)) == "ENERGY_LIMIT"
    order.status = order.status.CANCELLED
    risk.track_order(order, 0.1)
    assert code_of(lambda: risk.check_order(1, BUY, 4.0, NOW)) is None


def test_fills_count_until_delivered_products_at_their_end_continuous_at_rated_power():
    """A fill counts as far as the latest status cannot show it: a product's is delivered over
    its quarter-hour, a continuous one at rated power from the fill's start (after the fills
    before it), so a status taken halfway through shows half of it."""
    risk = manager(50.0, capacity=10.0, at=NOW - 60)  # rated 1 MW; the status is older
    product = Trade(1, "epex_at", QH, 2000, 30, 10, 11, 1, 2, BUY, NOW)
    risk.apply_trade(product, 3.0, 100.0)
    # Two continuous fills: 0.5 MWh takes 30 min at 1 MW, the next 0.5 MWh the 30 min after.
    for k in (2, 3):
        risk.apply_trade(Trade(k, "epex_at", None, 2000, 5, 12, 13, 1, 2, BUY, NOW), 0.5, 100.0)
    assert risk.committed_mwh("b1") == pytest.approx(4.0)
    # The status, not the clock, says what is delivered: with no new one, all still counts.
    assert risk.committed_mwh("b1") == pytest.approx(4.0)
    risk.set_state("b1", BatteryState(50.0, NOW + 5))  # seconds after: almost none of it
    assert risk.committed_mwh("b1") == pytest.approx(3.0 + 0.5 * 1795 / 1800 + 0.5)
    risk.set_state("b1", BatteryState(52.5, NOW + 900))  # half of the first fill delivered
    assert risk.committed_mwh("b1") == pytest.approx(3.75)
    risk.set_state("b1", BatteryState(57.5, NOW + 2700))  # the first, and half of the second
    assert risk.committed_mwh("b1") == pytest.approx(3.25)
    assert len(risk.battery("b1").continuous_fills) == 1  # the first one is wholly shown
    risk.set_state("b1", BatteryState(60.0, NOW + 3600))
    assert risk.committed_mwh("b1") == pytest.approx(3.0)
    risk.set_state("b1", BatteryState(75.0, QH + 450))  # half of the quarter-hour's 3 MWh
    assert risk.committed_mwh("b1") == pytest.approx(1.5)
    risk.set_state("b1", BatteryState(90.0, QH + 900))  # the product delivered
    assert risk.committed_mwh("b1") == pytest.approx(0.0)
    assert not risk.battery("b1").product_fills


def test_a_battery_cannot_be_sold_twice_on_the_continuous_book():
    """50 % of 2 MWh with a 15 % floor: 0.7 MWh to sell. Sold once, the next reading (taken
    before the 42 minutes the battery needs to deliver it) does not free the room again."""
    risk = manager(50.0, capacity=2.0)
    assert code_of(lambda: risk.check_order(1, SELL, 0.7, NOW)) is None
    sold = Trade(1, "epex_at", None, 2000, 7, 10, 11, 2, 1, Side.SELL, NOW)
    risk.apply_trade(sold, 0.7, 100.0)
    risk.set_state("b1", BatteryState(50.0, NOW + 7))
    assert code_of(lambda: risk.check_order(1, SELL, 0.1, NOW + 7)) == "ENERGY_LIMIT"
    risk.set_state("b1", BatteryState(15.0, NOW + 0.7 * 3600))  # delivered: the reading shows it
    assert risk.committed_mwh("b1") == pytest.approx(0.0)
    assert code_of(lambda: risk.check_order(1, SELL, 0.1, NOW + 0.7 * 3600)) == "ENERGY_LIMIT"


def test_a_reading_taken_during_delivery_is_not_counted_twice():
    """Sold 0.7 MWh; 21 minutes later the status shows half of it gone (32.5 %). The other
    half still counts, not all of it: 1.85 MWh more to buy would overfill the battery."""
    risk = manager(50.0, capacity=2.0)  # 1 MW, max 90 %
    risk.apply_trade(Trade(1, "epex_at", None, 2000, 7, 10, 11, 2, 1, Side.SELL, NOW), 0.7, 1.0)
    at = NOW + 0.35 * 3600
    risk.set_state("b1", BatteryState(32.5, at))
    assert risk.committed_mwh("b1") == pytest.approx(-0.35)
    # Room to buy: 1.8 − (0.65 − 0.35) = 1.5 MWh.
    assert code_of(lambda: risk.check_order(1, BUY, 1.85, at)) == "ENERGY_LIMIT"
    assert code_of(lambda: risk.check_order(1, BUY, 1.5, at)) is None


def test_accounts_of_one_battery_share_its_room():
    """Two traders of one battery: the open orders and fills of one use up the other's room,
    for energy (SoC) and power (per quarter-hour) alike; another battery's accounts do not."""
    risk = manager(55.0)  # 2 MWh: 1.1 stored, room to buy 0.7, to sell 0.8
    risk.register_account(3, "b1")
    risk.register_account(4, "b2")
    risk.set_limits("b2", BatteryLimits(capacity_mwh=2.0, power_mw=1.0))
    risk.set_state("b2", BatteryState(55.0, NOW))
    bid = Order(7, 1, "epex_de", Side.BUY, 100, 6, created_at=NOW)  # 0.6 MWh
    risk.track_order(bid, 0.1)
    assert code_of(lambda: risk.check_order(3, BUY, 0.2, NOW)) == "ENERGY_LIMIT"
    assert code_of(lambda: risk.check_order(3, BUY, 0.1, NOW)) is None
    assert code_of(lambda: risk.check_order(4, BUY, 0.7, NOW)) is None  # another battery
    # Filled: account 1 bought 0.6 MWh on the continuous book; account 3 still sees it.
    bid.filled, bid.status = 6, bid.status.FILLED
    risk.track_order(bid, 0.1)
    risk.apply_trade(Trade(1, "epex_de", None, 100, 6, 7, 8, 1, 2, BUY, NOW), 0.6, 1.0)
    assert risk.committed_mwh("b1") == pytest.approx(0.6)
    assert code_of(lambda: risk.check_order(3, BUY, 0.2, NOW)) == "ENERGY_LIMIT"
    # Power: one quarter-hour moves at most 0.25 MWh at 1 MW, whoever holds the orders.
    offer = Order(9, 1, "epex_de", Side.SELL, 100, 2, delivery_start=QH, created_at=NOW)
    risk.track_order(offer, 0.1)
    assert code_of(lambda: risk.check_order(3, SELL, 0.1, NOW, QH)) == "POWER_LIMIT"
    assert code_of(lambda: risk.check_order(3, SELL, 0.05, NOW, QH)) is None


def test_two_accounts_of_one_battery_trading_with_each_other_move_no_energy():
    """Neither while it would be delivered nor after: the two halves never stand alone (they
    did, 43–84 minutes after, and let a 1.5 MWh buy through)."""
    risk = manager(50.0)
    risk.register_account(3, "b1")
    risk.apply_trade(Trade(1, "epex_at", None, 100, 7, 7, 8, 1, 3, BUY, NOW), 0.7, 1.0)
    for minutes in (0, 30, 43, 60, 84, 90):
        at = NOW + minutes * 60
        risk.set_state("b1", BatteryState(50.0, at))
        assert risk.committed_mwh("b1") == pytest.approx(0.0), minutes
    assert not risk.battery("b1").continuous_fills
    assert code_of(lambda: risk.check_order(1, BUY, 0.9, NOW + 43 * 60)) == "ENERGY_LIMIT"
    assert risk.positions[(1, "epex_at")].net_mwh == pytest.approx(0.7)
    assert risk.positions[(3, "epex_at")].net_mwh == pytest.approx(-0.7)


def test_unknown_or_stale_status_refuses_battery_orders_but_not_counterparties():
    risk = RiskManager(status_max_age_s=90.0)
    risk.register_account(1, "b1")
    risk.register_account(2, None)
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, NOW)) == "BATTERY_STATUS_UNKNOWN"
    risk.set_state("b1", BatteryState(50.0, NOW - 91))
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, NOW)) == "BATTERY_STATUS_STALE"
    assert code_of(lambda: risk.check_order(2, BUY, 1000.0, NOW)) is None


def test_average_cost_position_realises_pnl_on_reduction_and_flips():
    p = Position()
    p.apply(BUY, 1.0, 40.0)
    p.apply(BUY, 1.0, 60.0)
    assert (p.net_mwh, p.avg_price) == (2.0, 50.0)
    p.apply(SELL, 3.0, 70.0)  # closes 2 at +20, opens a 1 MWh short at 70
    assert p.realized_pnl == pytest.approx(40.0)
    assert (p.net_mwh, p.avg_price) == (-1.0, 70.0)
    assert p.unrealized_pnl(65.0) == pytest.approx(5.0)  # short gains when the price falls
    assert p.unrealized_pnl(None) is None
    p.apply(BUY, 1.0, 80.0)
    assert p.realized_pnl == pytest.approx(30.0)
    assert (p.net_mwh, p.avg_price) == (0.0, 0.0)


def test_throttle_refills_with_time():
    risk = manager(50.0)
    risk.throttle(2, "epex_at", NOW)
    risk.throttle(2, "epex_at", NOW)
    with pytest.raises(Reject) as exc:
        risk.throttle(2, "epex_at", NOW)
    assert exc.value.code == "THROTTLED" and exc.value.status == 429
    assert exc.value.details["retry_after"] == pytest.approx(0.5)
    risk.throttle(2, "epex_de", NOW)  # per market
    risk.throttle(2, "epex_at", NOW + 0.5)  # one token back after 1/rate seconds


def test_refusals_name_the_soc_and_energy_without_rounding_or_float_noise():
    risk = manager(90.01)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.1, NOW)
    assert "90.01 %" in refused.value.message
    with pytest.raises(Reject) as refused:
        manager(90.004).check_order(1, BUY, 0.1, NOW)
    assert "90.004 %" in refused.value.message
    risk = manager(55.0)  # 2 MWh: 0.7 to buy
    for k, lots in enumerate((1, 2, 3)):  # 0.1 + 0.2 + 0.3 open: a float sum of 0.6000000000000001
        risk.track_order(Order(k, 1, "epex_at", Side.BUY, 100, lots, created_at=NOW), 0.1)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.3, NOW)
    assert refused.value.details["open_mwh"] == 0.6
    assert refused.value.details["max_quantity"] == 0.1


def _product_fill(risk: RiskManager, trade_id: int, start: int, side: Side, mwh: float) -> None:
    """Account 1 (battery b1) trades ``mwh`` of the quarter-hour ``start`` with account 2."""
    buyer, seller = (1, 2) if side is BUY else (2, 1)
    trade = Trade(trade_id, "epex_at", start, 100, 1, 10, 11, buyer, seller, side, NOW)
    risk.apply_trade(trade, mwh, 50.0)


def product_manager(soc: float) -> RiskManager:
    """2 MWh, 2 MW (0.5 MWh per quarter-hour), SoC limits 15–90 %."""
    risk = manager(soc)
    risk.set_limits("b1", BatteryLimits(capacity_mwh=2.0, power_mw=2.0))
    return risk


MORNING, EVENING = QH + 4 * 3600, QH + 12 * 3600


def test_energy_sold_for_the_evening_makes_no_room_to_buy_in_the_morning():
    """85 % of 2 MWh (1.7 stored, 0.1 to its 90 % limit). 1 MWh sold for the evening leaves
    the battery full until then: a morning buy would overfill it (the previous check netted the
    evening's sale against it and let 0.5 MWh through). After the evening there is room."""
    risk = product_manager(85.0)
    _product_fill(risk, 1, EVENING, SELL, 0.5)
    _product_fill(risk, 2, EVENING + 900, SELL, 0.5)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.5, NOW, MORNING)
    error = refused.value
    assert error.code == "ENERGY_LIMIT"
    assert error.details["max_quantity"] == pytest.approx(0.1)
    assert error.details["traded_mwh"] == 0.0  # nothing sold is delivered by the morning
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, NOW, MORNING)) is None
    # The continuous book delivers at once: the same holds there.
    assert code_of(lambda: risk.check_order(1, BUY, 0.5, NOW)) == "ENERGY_LIMIT"
    # Bought after the evening's sale, the energy fits: 1.7 − 1.0 + 0.5 ≤ 1.8.
    assert code_of(lambda: risk.check_order(1, BUY, 0.5, NOW, EVENING + 3600)) is None


def test_energy_bought_for_the_evening_makes_no_room_to_sell_in_the_morning():
    """20 % of 2 MWh (0.4 stored, 0.1 above its 15 % floor): a charge bought for 02:00 lets
    the battery sell at 08:00, not at 01:00, before the energy is there."""
    risk = product_manager(20.0)
    night = QH + 3600
    _product_fill(risk, 1, night, BUY, 0.5)
    assert code_of(lambda: risk.check_order(1, SELL, 0.5, NOW, night - 3600)) == "ENERGY_LIMIT"
    assert code_of(lambda: risk.check_order(1, SELL, 0.5, NOW, night + 6 * 3600)) is None
    # In its own quarter-hour the sale and the charge run together: 0.4 + 0.5 t − 0.5 t.
    assert code_of(lambda: risk.check_order(1, SELL, 0.5, NOW, night)) is None


def test_a_plans_second_charge_passes_once_the_sale_before_it_has_filled():
    """A charge-discharge-charge plan on a 50 % battery (1.0 of 2 MWh; 0.8 to buy, 0.7 to
    sell). Open buys may all fill and open sells may not, so the second charge waits until
    the sale it needs has filled; then it passes, as it does physically."""
    risk = product_manager(50.0)
    charge1, sell, charge2 = QH, QH + 4 * 900, QH + 8 * 900
    for k, start in enumerate((charge1, charge1 + 900)):
        risk.track_order(
            Order(k, 1, "epex_at", Side.BUY, 100, 4, delivery_start=start, created_at=NOW), 0.1
        )  # 0.8 MWh of open buys: the battery's whole room
    assert code_of(lambda: risk.check_order(1, SELL, 0.5, NOW, sell)) is None
    assert code_of(lambda: risk.check_order(1, BUY, 0.5, NOW, charge2)) == "ENERGY_LIMIT"
    _product_fill(risk, 5, sell, SELL, 0.5)  # the sale has filled
    _product_fill(risk, 6, sell + 900, SELL, 0.5)
    assert code_of(lambda: risk.check_order(1, BUY, 0.5, NOW, charge2)) is None
    assert code_of(lambda: risk.check_order(1, BUY, 0.5, NOW, charge1 + 1800)) == "ENERGY_LIMIT"


def test_a_refusal_says_when_the_battery_would_pass_its_limit():
    risk = product_manager(85.0)
    _product_fill(risk, 1, EVENING, SELL, 0.5)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.5, NOW, MORNING)
    at = datetime.fromtimestamp(MORNING + 900, UTC)
    assert refused.value.details["limit_at"] == at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert f"by {at:%Y-%m-%d %H:%M} UTC" in refused.value.message
    assert "in open buy orders delivered by then, at most 0.10 MWh" in refused.value.message
    with pytest.raises(Reject) as refused:  # at once: no moment to name
        manager(85.0).check_order(1, BUY, 0.5, NOW)
    assert "limit_at" not in refused.value.details and " by " not in refused.value.message


def test_continuous_deliveries_and_products_share_the_rated_power():
    """2 MWh, 2 MW (0.5 MWh a quarter-hour). A continuous sale of 1 MWh runs at full power for
    30 minutes; a product sold into those minutes could not be delivered as well (dispatch cut
    it, and buys later counted on the energy as gone: 2.3 MWh in a 2 MWh battery), nor can a
    continuous buy run at full power through a quarter-hour sold at full power."""
    risk = product_manager(90.0)
    first = int(NOW)  # NOW is on a quarter-hour: the sale fills it and the next one
    risk.apply_trade(Trade(1, "epex_at", None, 100, 10, 10, 11, 2, 1, SELL, NOW), 1.0, 50.0)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, SELL, 0.5, NOW, first + 900)
    assert refused.value.code == "POWER_LIMIT"
    assert refused.value.details["delivery_start"].startswith(
        datetime.fromtimestamp(first + 900, UTC).strftime("%Y-%m-%dT%H:%M")
    )
    assert code_of(lambda: risk.check_order(1, SELL, 0.5, NOW, first + 1800)) is None
    # A product bought at full power for the quarter-hour after the sale, then a continuous
    # buy: it would run (at 2 MW after the sale ends) into that quarter-hour.
    _product_fill(risk, 2, first + 1800, BUY, 0.5)
    assert code_of(lambda: risk.check_order(1, BUY, 0.3, NOW)) == "POWER_LIMIT"
    risk.set_state("b1", BatteryState(40.0, NOW + 1800))  # the sale delivered
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, NOW + 1800)) == "POWER_LIMIT"
    risk.set_state("b1", BatteryState(65.0, NOW + 2700))  # the product delivered too
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, NOW + 2700)) is None


def test_open_continuous_orders_count_against_the_rated_power_as_if_they_filled_now():
    """2 MWh, 1 MW (0.25 MWh a quarter-hour), 10 minutes before a quarter-hour Q. A resting
    continuous buy of 0.3 MWh, filled now, charges at full power until 8 minutes into Q: a buy
    of Q at full power could not be delivered beside it. A further continuous buy queues behind
    the open one (it used to be placed beside it, at now)."""
    q = QH
    now = q - 600.0
    risk = manager(50.0, at=now)
    resting = Order(7, 1, "epex_at", Side.BUY, 100, 3, created_at=now)  # 0.3 MWh, continuous
    assert code_of(lambda: risk.check_order(1, BUY, 0.25, now, q)) is None  # alone: fits
    risk.track_order(resting, 0.1)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.25, now, q)
    assert refused.value.code == "POWER_LIMIT"
    # A product is delivered evenly over its quarter-hour: even 0.1 MWh (0.4 MW) is too much
    # beside the open buy's 1 MW in Q's first 8 minutes. The quarter-hour after is free.
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, now, q)) == "POWER_LIMIT"
    assert code_of(lambda: risk.check_order(1, BUY, 0.25, now, q + 900)) is None
    # A sale is the other direction: the open buy takes none of its power.
    assert code_of(lambda: risk.check_order(1, SELL, 0.25, now, q)) is None
    # With Q bought at full power, a second continuous buy would run (after the open one,
    # from 8 minutes into Q) into it; before the open order it would not have.
    _product_fill(risk, 2, q, BUY, 0.25)
    assert code_of(lambda: risk.check_order(1, BUY, 0.05, now)) == "POWER_LIMIT"
    resting.status = resting.status.CANCELLED
    risk.track_order(resting, 0.1)
    assert code_of(lambda: risk.check_order(1, BUY, 0.05, now)) is None


def _lossy(soc: float, charge: float, discharge: float) -> RiskManager:
    risk = manager(soc)
    limits = BatteryLimits(2.0, 1.0, 15.0, 90.0, charge, discharge)
    risk.set_limits("b1", limits)
    return risk


def test_the_room_to_sell_is_what_the_battery_can_deliver_with_its_losses():
    """2 MWh at 50 % with a 15 % floor, 90 % discharge efficiency: 0.7 MWh above the floor
    delivers 0.63 MWh to the grid. The risk check's room and the battery model agree: selling
    the room takes the simulated battery to its floor, not below (one to one, 0.7 MWh sold would
    take it to 11.5 %)."""
    from phoenyra.core.battery import BatteryParams, step
    from phoenyra.core.battery import BatteryState as CellState

    risk = _lossy(50.0, 1.0, 0.9)
    assert code_of(lambda: risk.check_order(1, SELL, 0.63, NOW)) is None
    with pytest.raises(Reject) as refused:
        risk.check_order(1, SELL, 0.64, NOW)
    assert refused.value.details["max_quantity"] == pytest.approx(0.63)
    assert refused.value.details["discharge_efficiency"] == 0.9
    assert "discharge efficiency of 90 %: 1.11 MWh leaves the battery per MWh sold" in str(
        refused.value.message
    )
    params = BatteryParams(2.0, 1.0, 1.0, discharge_efficiency=0.9)
    state = CellState(50.0)
    for _ in range(63 * 36):  # 0.63 MWh at 1 MW: 37.8 minutes in 1 s steps
        state = step(params, state, 1.0, 1.0)
    assert state.soc_percent == pytest.approx(15.0)


def test_the_room_to_buy_counts_what_the_battery_stores_of_it():
    """0.8 MWh below the 90 % limit at 90 % charge efficiency: 0.8 / 0.9 = 0.89 MWh can be
    bought (one to one, 0.8)."""
    risk = _lossy(50.0, 0.9, 1.0)
    assert code_of(lambda: risk.check_order(1, BUY, 0.88, NOW)) is None
    assert code_of(lambda: risk.check_order(1, BUY, 0.9, NOW)) == "ENERGY_LIMIT"
    assert code_of(lambda: manager(50.0).check_order(1, BUY, 0.88, NOW)) == "ENERGY_LIMIT"
    # Filled, a buy fills the battery by what it stores: 0.45 MWh bought stores 0.405.
    risk.apply_trade(Trade(1, "epex_at", None, 2000, 4, 10, 11, 1, 2, BUY, NOW), 0.45, 50.0)
    assert code_of(lambda: risk.check_order(1, BUY, 0.43, NOW)) is None
    assert code_of(lambda: risk.check_order(1, BUY, 0.45, NOW)) == "ENERGY_LIMIT"


def test_a_limit_reached_inside_the_orders_quarter_hour_says_how_much_of_it_is_delivered():
    """82.5 % of 2 MWh (0.15 MWh to 90 %), 5 minutes into a quarter-hour: a continuous buy of
    0.1 MWh runs 6 minutes at 1 MW, then a continuous sale of 0.05 MWh. A buy for this
    quarter-hour is tightest when the charge ends, with 73 % of the quarter delivered: the
    figures (0.15 − 0.10 = 0.05 MWh) are 73 % of the room (0.07 MWh), and the sentence says so."""
    q = QH
    now = q + 300.0
    risk = manager(82.5, at=now)
    risk.apply_trade(Trade(1, "epex_at", None, 2000, 1, 10, 11, 1, 2, BUY, now), 0.1, 50.0)
    risk.apply_trade(Trade(2, "epex_at", None, 2000, 1, 12, 13, 2, 1, SELL, now), 0.05, 50.0)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.1, now, delivery_start=q)
    details = refused.value.details
    assert details["delivered_share"] == pytest.approx(660 / 900, abs=1e-4)
    assert details["max_quantity"] == pytest.approx(0.05 / (660 / 900), abs=1e-6)
    assert details["traded_mwh"] == pytest.approx(0.1)
    assert "By then 73 % of the order's quarter-hour is delivered." in str(refused.value.message)
    # Lossless: no word of efficiency.
    assert "efficiency" not in str(refused.value.message)


def _run_plan(risk: RiskManager, soc: float, now: float, seconds: int) -> float:
    """The SoC the battery model reaches following the dispatch plan of b1's trades (95 %
    each way), one-second steps from ``now``."""
    from phoenyra.core.battery import BatteryParams, step
    from phoenyra.core.battery import BatteryState as CellState
    from phoenyra.exchange.dispatch import plan, power_at

    intervals, limited = plan(risk.battery("b1"), 1.0, now)
    assert not limited
    params = BatteryParams(2.0, 1.0, 1.0)  # charge and discharge efficiency 0.95
    state = CellState(soc)
    for k in range(seconds):
        state = step(params, state, 1.0, power_at(intervals, now + k + 0.5))
    return state.soc_percent


def test_a_buy_and_a_sale_delivered_at_once_net_out_before_the_losses():
    """80 % of 2 MWh, 90 % max, 95 % each way. A quarter-hour bought (0.25 MWh) while a
    continuous sale of 0.25 MWh runs through it: the battery stays idle, losing nothing. Counting
    the losses per trade (the bought 0.24 stored, the sold 0.26 taken) made 0.24 MWh to buy for
    the next quarter-hour look safe, and the battery model ends at 91.3 %. Counted on the net,
    0.21 MWh may be bought and the battery ends at its 90 %."""
    q = QH
    risk = manager(80.0, at=q)
    risk.set_limits("b1", BatteryLimits(2.0, 1.0, 15.0, 90.0, 0.95, 0.95))
    _product_fill(risk, 1, q, BUY, 0.25)
    risk.apply_trade(Trade(2, "epex_at", None, 100, 1, 12, 13, 2, 1, SELL, q), 0.25, 50.0)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.22, q, q + 900)
    room = refused.value.details["max_quantity"]
    assert room == pytest.approx(0.2 / 0.95, abs=1e-6)
    assert "Counted with a charge efficiency of 95 %" in str(refused.value.message)
    risk.check_order(1, BUY, room, q, q + 900)  # the room itself passes
    _product_fill(risk, 3, q + 900, BUY, room)
    assert _run_plan(risk, 80.0, q, 1800) == pytest.approx(90.0, abs=1e-6)


def test_a_continuous_order_that_fills_at_once_runs_ahead_of_the_open_ones():
    """A resting continuous buy of 0.5 MWh, and quarter-hour Q bought at full power. A new
    continuous buy a minute before Q that fills at once runs from now, into Q, not behind the
    resting one: refused (checked only behind it, it passed and dispatch cut Q to 1 MW)."""
    q = QH
    risk = manager(20.0, at=q - 3000)
    risk.track_order(Order(7, 1, "epex_at", Side.BUY, 100, 5, created_at=q - 3600), 0.1)
    assert code_of(lambda: risk.check_order(1, BUY, 0.25, q - 3000, q)) is None
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, q - 3000)) is None  # ends before Q
    _product_fill(risk, 2, q, BUY, 0.25)
    risk.set_state("b1", BatteryState(20.0, q - 60))
    assert code_of(lambda: risk.check_order(1, BUY, 0.1, q - 60)) == "POWER_LIMIT"


def test_power_is_checked_moment_by_moment_not_per_quarter_hour():
    """A continuous sale of 0.5 MWh runs at 1 MW until 10 minutes into Q. A buy of Q for
    0.4 MWh (1.6 MW) nets to 0.6 MW beside the sale but needs 1.6 MW once the sale has ended:
    refused (over the whole quarter-hour the energy fitted, and dispatch cut it to 1 MW, the
    battery then short of what the sales after counted on). 0.25 MWh (1 MW) fits."""
    q = QH
    now = q - 1200.0
    risk = manager(50.0, at=now)
    risk.apply_trade(Trade(1, "epex_at", None, 100, 5, 12, 13, 2, 1, SELL, now), 0.5, 50.0)
    with pytest.raises(Reject) as refused:
        risk.check_order(1, BUY, 0.4, now, q)
    assert refused.value.code == "POWER_LIMIT"
    assert code_of(lambda: risk.check_order(1, BUY, 0.25, now, q)) is None
