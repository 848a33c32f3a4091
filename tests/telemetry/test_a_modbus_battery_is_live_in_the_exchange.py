"""The whole chain as an operator runs it: `phoenyra simulate-bess` (real Modbus TCP) polled by
`phoenyra bess-telemetry`, pushed into `phoenyra exchange`, whose status and risk checks use it."""

from __future__ import annotations

import asyncio
import time

from pymodbus.client import AsyncModbusTcpClient

from phoenyra.telemetry.presets import load_preset
from phoenyra.telemetry.registers import encode_field
from support import (
    ExchangeProcess,
    bess_status,
    free_port,
    modbus_telemetry_env,
    new_trader,
    spawn_cli,
    wait_for,
)


async def _write_setpoint(port: int, mw: float) -> None:
    rmap = load_preset("generic").map
    field = rmap.setpoint_mw
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    try:
        assert await client.connect()
        rr = await client.write_registers(
            field.address, encode_field("setpoint", field, mw), device_id=rmap.unit_id
        )
        assert not rr.isError()
    finally:
        client.close()


def test_simulated_battery_over_modbus_reaches_status_and_risk_checks(tmp_path):
    sim_port, health_port = free_port(), free_port()
    # A small battery (0.2 MWh at 1 MW) so that charging moves the SoC visibly in seconds.
    battery = {"BESS_CAPACITY_MWH": "0.2", "BESS_POWER_MW": "1.0"}
    exchange = ExchangeProcess(tmp_path / "ex", **battery).start()
    env = modbus_telemetry_env(
        exchange.base_url, sim_port, **battery, BESS_TELEMETRY_PORT=str(health_port)
    )
    logs = [tmp_path / "sim.log", tmp_path / "telemetry.log"]
    sim = spawn_cli(["simulate-bess", "--port", str(sim_port), "--step", "0.2"], env, logs[0])
    telemetry = None
    try:
        time.sleep(1.0)  # let the simulator bind before the first poll (a miss is retried)
        telemetry = spawn_cli(["bess-telemetry"], env, logs[1])
        first = wait_for(
            lambda: (s := bess_status(exchange))["source"] == "modbus" and s, 20, "a reading", logs
        )
        assert first["online"] is True
        assert abs(first["soc_percent"] - 50.0) < 1.0
        assert first["power_mw"] == 0.0 and 20 <= first["temperature_c"] <= 30
        # The risk check uses it: at 50 % of 0.2 MWh, at most 0.08 MWh fit below 90 %.
        with new_trader(exchange, battery_id="default") as trader:
            order = {"market": "epex_at", "side": "BUY", "quantity": 0.1, "price": 1.0}
            r = trader.post("/api/orders", json=order)
            assert r.status_code == 422 and r.json()["error"]["code"] == "ENERGY_LIMIT", r.text
            assert "0.08 MWh can be bought" in r.json()["error"]["message"]
        # Charge at 1 MW (the setpoint register, over Modbus): the SoC rises live.
        asyncio.run(_write_setpoint(sim_port, -1.0))
        later = wait_for(
            lambda: (s := bess_status(exchange))["soc_percent"] > first["soc_percent"] + 1 and s,
            20,
            "the SoC to rise",
            logs,
        )
        assert later["power_mw"] == -1.0
    finally:
        for proc in (telemetry, sim):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=10)
        exchange.stop()


def test_a_configuration_saved_through_the_api_is_applied_without_a_restart(tmp_path):
    first_port, second_port, health_port = free_port(), free_port(), free_port()
    exchange = ExchangeProcess(tmp_path / "ex").start()
    env = modbus_telemetry_env(
        exchange.base_url,
        first_port,
        BESS_CONFIG_POLL_S="0.5",
        BESS_TELEMETRY_PORT=str(health_port),
    )
    logs = [tmp_path / "sim1.log", tmp_path / "sim2.log", tmp_path / "telemetry.log"]
    procs = [
        spawn_cli(
            ["simulate-bess", "--port", str(first_port), "--initial-soc", "30"], env, logs[0]
        ),
        spawn_cli(
            ["simulate-bess", "--preset", "sma", "--port", str(second_port), "--initial-soc", "70"],
            env,
            logs[1],
        ),
    ]
    try:
        time.sleep(1.0)
        procs.append(spawn_cli(["bess-telemetry"], env, logs[2]))
        wait_for(
            lambda: abs((bess_status(exchange)["soc_percent"] or 0) - 30) < 1, 20, "30 %", logs
        )
        # The operator switches the battery to the SMA device over the API.
        config = {
            "battery_id": "default",
            "interval_s": 0.5,
            "modbus": {"enabled": True, "host": "127.0.0.1", "port": second_port, "preset": "sma"},
        }
        with exchange.client() as admin:
            assert admin.post("/api/config/save", json=config).status_code == 200
        status = wait_for(
            lambda: abs((s := bess_status(exchange))["soc_percent"] - 70) < 1 and s,
            20,
            "the new device's 70 %",
            logs,
        )
        assert status["source"] == "modbus" and status["online"] is True
        assert "configuration 1 applied" in logs[2].read_text()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        exchange.stop()
