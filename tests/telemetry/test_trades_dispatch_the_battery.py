"""Dispatch: what the battery's accounts trade becomes the power its telemetry service writes
to the device's setpoint, so the battery delivers what the risk check counts on."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
import pytest

from phoenyra.core.orders import BUY, SELL, Trade
from phoenyra.core.risk import BatteryLimits, BatteryState, RiskManager
from phoenyra.exchange import dispatch
from phoenyra.simulator.modbus_server import BatterySimulator
from phoenyra.telemetry.config import load as load_telemetry_config
from phoenyra.telemetry.dispatch import Dispatcher
from phoenyra.telemetry.model import TelemetryError
from phoenyra.telemetry.presets import load_preset
from phoenyra.telemetry.sources.modbus import ModbusSource
from recorded_http import RecordedServer, Reply
from support import (
    ExchangeProcess,
    bess_status,
    end_processes,
    free_port,
    modbus_telemetry_env,
    new_trader,
    read_setpoint_mw,
    spawn_cli,
    stop_telemetry,
    wait_charging,
    wait_for,
)

NOW = 1_800_000_000.0
QH = int(NOW) + 3600  # a quarter-hour an hour ahead


def _risk() -> RiskManager:
    risk = RiskManager()
    risk.register_account(1, "b1")
    risk.register_account(2, None)
    risk.set_limits("b1", BatteryLimits(capacity_mwh=2.0, power_mw=1.0))
    risk.set_state("b1", BatteryState(50.0, NOW))
    return risk


def _trade(risk, k, start, side, mwh, at=NOW):
    buyer, seller = (1, 2) if side is BUY else (2, 1)
    risk.apply_trade(Trade(k, "epex_at", start, 100, 1, 10, 11, buyer, seller, side, at), mwh, 50.0)


def test_the_plan_is_the_deliveries_the_risk_check_counts_on():
    risk = _risk()
    _trade(risk, 1, QH, BUY, 0.25)  # a quarter-hour bought: −1 MW through it
    _trade(risk, 2, QH + 1800, SELL, 0.1)  # sold: +0.4 MW
    _trade(risk, 3, None, SELL, 0.05)  # continuous: at the rated 1 MW from now, 3 minutes
    plan, limited = dispatch.plan(risk.battery("b1"), 1.0, NOW)
    assert not limited
    assert plan == [
        (NOW, NOW + 180, 1.0),
        (NOW + 180, QH, 0.0),
        (QH, QH + 900, -1.0),
        (QH + 900, QH + 1800, 0.0),
        (QH + 1800, QH + 2700, pytest.approx(0.4)),
    ]
    assert dispatch.power_at(plan, NOW + 60) == 1.0
    assert dispatch.power_at(plan, QH + 450) == -1.0 and dispatch.power_at(plan, QH + 9000) == 0.0
    # Later, only what is still to come.
    later, _ = dispatch.plan(risk.battery("b1"), 1.0, QH + 300)
    assert later[0] == (QH + 300, QH + 900, -1.0)


def test_overlapping_deliveries_are_cut_to_the_rated_power():
    risk = _risk()
    _trade(risk, 1, None, BUY, 0.5, at=QH - 600)  # continuous, runs 10 minutes into QH
    _trade(risk, 2, QH, BUY, 0.25)
    plan, limited = dispatch.plan(risk.battery("b1"), 1.0, NOW)
    assert limited and min(mw for _, _, mw in plan) == -1.0


def test_dispatch_needs_a_setpoint_register():
    base = {"battery_id": "default", "modbus": {"enabled": True, "dispatch": True}}
    load_telemetry_config({**base, "modbus": {**base["modbus"], "preset": "generic"}})
    custom = load_preset("generic").map.model_dump(mode="json")
    custom["setpoint_mw"] = None
    with pytest.raises(TelemetryError) as refused:
        load_telemetry_config({**base, "modbus": {**base["modbus"], "preset": None, "map": custom}})
    assert "no power setpoint register" in refused.value.message


def test_a_trade_drives_the_simulated_battery_and_stopping_sets_it_idle(tmp_path):
    """The operator's account buys 0.1 MWh on the continuous book: the telemetry service
    writes −1 MW to the simulator's setpoint (6 minutes at the rated 1 MW), the battery charges
    and its readings show it. Stopped, the service leaves the battery idle."""
    sim_port = free_port()
    # A small battery (0.2 MWh at 1 MW) so that charging moves the SoC visibly in seconds.
    battery = {"BESS_CAPACITY_MWH": "0.2", "BESS_POWER_MW": "1.0"}
    exchange = ExchangeProcess(tmp_path / "ex", **battery).start()
    env = modbus_telemetry_env(exchange.base_url, sim_port, **battery, BESS_MODBUS_DISPATCH="true")
    logs = [tmp_path / "sim.log", tmp_path / "telemetry.log"]
    sim = spawn_cli(
        ["simulate-bess", "--port", str(sim_port), "--step", "0.2", "--initial-soc", "30"],
        env,
        logs[0],
    )
    telemetry = None
    try:
        time.sleep(1.0)
        telemetry = spawn_cli(["bess-telemetry"], env, logs[1])
        first = wait_for(
            lambda: (s := bess_status(exchange))["source"] == "modbus" and s, 20, "a reading", logs
        )
        assert first["power_mw"] == 0.0 and read_setpoint_mw(sim_port) == 0.0
        with new_trader(exchange, battery_id="default") as me, new_trader(exchange) as other:
            offer = {"market": "epex_at", "side": "SELL", "quantity": 0.1, "price": 10.0}
            assert other.post("/api/orders", json=offer).status_code == 201
            bid = {**offer, "side": "BUY"}
            assert me.post("/api/orders", json=bid).json()["status"] == "FILLED"
            plan = me.get("/api/bess/dispatch").json()
            # A market participant does not see the battery's trades.
            refused = other.get("/api/bess/dispatch")
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
        assert plan["power_mw"] == -1.0 and plan["rated_power_mw"] == 1.0
        [charge] = plan["intervals"]
        assert charge["power_mw"] == -1.0
        wait_for(lambda: read_setpoint_mw(sim_port) == -1.0, 10, "−1 MW written", logs)
        wait_charging(exchange, first["soc_percent"], logs)
        log = stop_telemetry(telemetry, logs[1])
        assert read_setpoint_mw(sim_port) == 0.0, log
    finally:
        end_processes(telemetry, sim)
        exchange.stop()


def _plan(*intervals: tuple[float, float, float]) -> str:
    from datetime import UTC, datetime

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")

    return json.dumps(
        {"intervals": [{"start": iso(a), "end": iso(b), "power_mw": mw} for a, b, mw in intervals]}
    )


def _follow(caplog, replies: list[Reply], seconds: float, slow_idle_s: float = 0.0):
    """A Dispatcher against a simulated battery on real Modbus TCP and a local server playing
    ``replies`` as the exchange's plan; returns the setpoints the battery saw written (MW) and
    what the dispatcher logged."""
    server = RecordedServer()
    server.routes["/api/bess/dispatch"] = replies
    server.start()
    written: list[float] = []

    async def run() -> None:
        sim = BatterySimulator("generic")
        port = await sim.start(port=0)
        source = ModbusSource({"host": "127.0.0.1", "port": port, "preset": "generic"})
        write = source.write_setpoint

        async def recorded(mw: float) -> float:
            if mw == 0.0 and slow_idle_s and written:
                await asyncio.sleep(slow_idle_s)  # a slow link when it matters most
            done = await write(mw)
            written.append(sim.setpoint_mw)
            return done

        source.write_setpoint = recorded
        async with httpx.AsyncClient(timeout=2) as client:
            dispatcher = Dispatcher(
                client, server.url, "key", "default", source, refresh_s=0.2, tick_s=0.1
            )
            task = asyncio.create_task(dispatcher.run())
            await asyncio.sleep(seconds)
            # Stopped as the runner stops sources: cancelled again every few tenths of a second.
            while not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.3)
        await source.close()
        await sim.stop()

    try:
        with caplog.at_level(logging.INFO, logger="phoenyra.telemetry"):
            asyncio.run(run())
    finally:
        server.stop()
    return written, caplog.text


def test_the_dispatcher_follows_the_plan_and_ends_idle_even_when_the_write_is_slow(caplog):
    now = time.time()
    written, log = _follow(caplog, [Reply(200, _plan((now - 60, now + 600, -0.75)))], 1.0, 1.5)
    assert written[0] == -0.75 and written[-1] == 0.0, written
    assert "dispatch of default stopped: setpoint 0 MW" in log


def test_a_plan_that_is_not_a_number_is_not_followed(caplog):
    now = time.time()
    good = Reply(200, _plan((now - 60, now + 600, 0.5)))
    nan = Reply(200, '{"intervals": [{"start": "x", "end": 1, "power_mw": NaN}]}')
    also_nan = Reply(200, _plan((now - 60, now + 600, float("nan"))))
    written, log = _follow(caplog, [good, nan, also_nan], 1.0)
    assert set(written) == {0.5, 0.0} and written[-1] == 0.0, written  # never +1 MW from NaN
    assert "not readable" in log and "not a number" in log


def test_a_refused_plan_sets_the_battery_idle(caplog):
    """The key was cut off or the battery removed: the old plan stands behind nothing."""
    now = time.time()
    plan = Reply(200, _plan((now - 60, now + 600, -1.0)))
    refused = Reply(403, '{"error": {"code": "FORBIDDEN"}}', content_type="application/json")
    written, log = _follow(caplog, [plan, refused], 1.0)
    assert written[0] == -1.0 and written[-1] == 0.0 and "refused the plan (HTTP 403)" in log
    assert written.index(0.0) < len(written) - 1  # idle while still running, not only at stop


def test_dispatch_is_refused_for_presets_whose_setpoint_does_not_steer_a_real_device():
    for preset in ("sma", "victron-gx", "fronius-gen24", "sunspec"):
        config = {"battery_id": "default", "modbus": {"enabled": True, "preset": preset}}
        load_telemetry_config(config)  # reading only: fine
        config["modbus"]["dispatch"] = True
        with pytest.raises(TelemetryError) as refused:
            load_telemetry_config(config)
        assert "cannot steer a real device" in refused.value.message, preset
