"""Dispatch over MQTT: a battery read over MQTT is also steered over MQTT. The power its trades
ask for is published to the configured setpoint topic (a plain number, or JSON at a path, scaled
to the device's unit), through the real Mosquitto of scripts/services."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading

import paho.mqtt.client as paho
import pytest

from phoenyra.telemetry.config import load as load_telemetry_config
from phoenyra.telemetry.model import TelemetryError
from phoenyra.telemetry.sources.mqtt import MqttSource, load_config, mqtt_config_from_env
from support import (
    ExchangeProcess,
    battery_buys,
    bess_status,
    end_processes,
    free_port,
    spawn_cli,
    stop_telemetry,
    wait_charging,
    wait_for,
)
from telemetry_mqtt.conftest import HOST, PORT, until


class Listener:
    """Every message on some topics of the shared broker, as (topic, payload text, retain)."""

    def __init__(self, *topics: str) -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self._subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda _c, _u, m: self.messages.append(
            (m.topic, m.payload.decode(), bool(m.retain))
        )
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])

    def __enter__(self) -> Listener:
        self.client.connect(HOST, PORT)
        self.client.loop_start()
        assert self._subscribed.wait(5), "the listener did not subscribe"
        return self

    def __exit__(self, *exc) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def payloads(self, topic: str) -> list[str]:
        return [p for t, p, _ in self.messages if t == topic]


def _config(bus, **setpoint):
    return bus.config(
        dispatch=True,
        setpoint_mw={"topic": bus.topic("setpoint"), **setpoint},
        rated_power_mw=2.0,
    )


async def _write(config, *powers: float) -> list[float]:
    source = MqttSource(config)
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(source.connected.wait(), 5)
        return [await source.write_setpoint(p) for p in powers]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_the_setpoint_is_published_as_a_number_cut_to_the_rated_power(bus):
    topic = bus.topic("setpoint")
    with Listener(topic) as heard:
        written = asyncio.run(_write(_config(bus), -1.5, 0.25, 5.0, -0.0))
        wait_for(lambda: len(heard.payloads(topic)) == 4, 5, "four setpoints", [])
    assert written == [-1.5, 0.25, 2.0, 0.0]  # 5 MW asked of a 2 MW battery: 2 MW written
    assert heard.payloads(topic) == ["-1.5", "0.25", "2", "0"]
    assert not any(retain for _, _, retain in heard.messages)  # not retained unless asked


def test_the_setpoint_goes_into_json_at_a_path_in_the_device_unit(bus):
    topic = bus.topic("setpoint")
    with Listener(topic) as heard:
        # The device wants kW, charging positive: scale −1000.
        config = _config(bus, json_path="cmd.power_kw", scale=-1000, retain=True)
        asyncio.run(_write(config, 0.75))
        bus.retained.add(topic)  # cleared after the test
        wait_for(lambda: heard.payloads(topic), 5, "a setpoint", [])
    [payload] = heard.payloads(topic)
    assert json.loads(payload) == {"cmd": {"power_kw": -750.0}}
    # Retained: a device connecting later is handed the command at once.
    with Listener(topic) as late:
        wait_for(lambda: late.messages, 5, "the retained setpoint", [])
    assert late.messages == [(topic, payload, True)]


def test_without_a_live_connection_the_setpoint_is_published_on_its_own(bus):
    """Stopping: the source's subscription may be gone before the dispatcher sets the battery
    idle. The write then connects for itself; it is not lost."""
    topic = bus.topic("setpoint")
    with Listener(topic) as heard:
        assert asyncio.run(MqttSource(_config(bus)).write_setpoint(0.0)) == 0.0
        wait_for(lambda: heard.payloads(topic) == ["0"], 5, "0 MW published", [])


def test_a_setpoint_that_is_not_a_number_is_refused_not_published(bus):
    topic = bus.topic("setpoint")
    with Listener(topic) as heard:
        for bad in (float("nan"), float("inf")):
            with pytest.raises(TelemetryError) as refused:
                asyncio.run(MqttSource(_config(bus)).write_setpoint(bad))
            assert "not a number" in refused.value.message
        asyncio.run(MqttSource(_config(bus)).write_setpoint(0.5))
        wait_for(lambda: heard.payloads(topic), 5, "the valid setpoint", [])
    assert heard.payloads(topic) == ["0.5"]  # min/max used to turn NaN into full discharge


def test_a_broker_that_cannot_be_reached_is_a_telemetry_error(bus):
    config = _config(bus).model_copy(update={"port": free_port()})
    with pytest.raises(TelemetryError) as failed:
        asyncio.run(MqttSource(config).write_setpoint(0.5))
    assert failed.value.kind == "refused"
    assert "setpoint" in failed.value.message


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"setpoint_mw": None}, "no setpoint topic"),
        ({"setpoint_mw": {"topic": "bess/+/setpoint"}}, "wildcards"),
        ({"setpoint_mw": {"topic": "t/soc"}}, "also read"),
        ({"setpoint_mw": {"topic": "bess/setpoint", "json_path": "values[0]"}}, "keys only"),
        ({"setpoint_mw": {"topic": "bess/setpoint", "scale": 0}}, "scale must not be 0"),
    ],
)
def test_a_setpoint_mapping_that_cannot_work_is_refused(change, says):
    data = {"enabled": True, "dispatch": True, "soc_percent": {"topic": "t/soc"}, **change}
    with pytest.raises(TelemetryError) as refused:
        load_config(data)
    assert says in refused.value.message
    if "wildcards" not in says and "keys only" not in says and "scale" not in says:
        load_config({**data, "enabled": False})  # switched off, a half-made setting may wait


def test_dispatch_through_modbus_and_mqtt_at_once_is_refused():
    """Two writers would fight over one battery."""
    data = {
        "battery_id": "default",
        "modbus": {"enabled": True, "dispatch": True},
        "mqtt": {"enabled": True, "dispatch": True, "setpoint_mw": {"topic": "bess/setpoint"}},
    }
    with pytest.raises(TelemetryError) as refused:
        load_telemetry_config(data)
    assert "one interface" in refused.value.message
    data["modbus"]["dispatch"] = False
    assert load_telemetry_config(data).mqtt.dispatch


def test_the_environment_configures_mqtt_dispatch():
    config = mqtt_config_from_env(
        {
            "BESS_MQTT_ENABLED": "true",
            "BESS_MQTT_TOPIC_SETPOINT": "site/bess/setpoint",
            "BESS_MQTT_DISPATCH": "true",
        }
    )
    assert config.dispatch and config.setpoint_mw.topic == "site/bess/setpoint"
    with pytest.raises(TelemetryError) as refused:
        mqtt_config_from_env({"BESS_MQTT_ENABLED": "true", "BESS_MQTT_DISPATCH": "true"})
    assert "BESS_MQTT_TOPIC_SETPOINT" in refused.value.message
    # MQTT off: a leftover dispatch switch does not stop the service from starting.
    assert not mqtt_config_from_env({"BESS_MQTT_DISPATCH": "true"}).enabled


def test_a_trade_drives_a_battery_read_over_mqtt(bus, tmp_path):
    """The simulated battery publishes its state to MQTT and follows the setpoint topic; the
    telemetry service reads it over MQTT only. A 0.1 MWh buy by the battery's account puts
    −1 MW on the setpoint topic, the battery charges and the exchange sees it; stopped, the
    service publishes 0 MW."""
    battery = {"BESS_CAPACITY_MWH": "0.2", "BESS_POWER_MW": "1.0"}
    exchange = ExchangeProcess(tmp_path / "ex", **battery).start()
    setpoint = bus.topic("setpoint")
    env = {
        **os.environ,
        **battery,
        "PHOENYRA_ENV": "development",
        "EXCHANGE_URL": exchange.base_url,
        "BESS_MQTT_ENABLED": "true",
        "BESS_MQTT_BROKER": HOST,
        "BESS_MQTT_PORT": str(PORT),
        "BESS_MQTT_TOPIC_SOC": bus.topic("soc"),
        "BESS_MQTT_TOPIC_POWER": bus.topic("power"),
        "BESS_MQTT_TOPIC_TEMP": bus.topic("temperature"),
        "BESS_MQTT_TOPIC_SETPOINT": setpoint,
        "BESS_MQTT_DISPATCH": "true",
        "BESS_TELEMETRY_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("soc", "power", "temperature"):
        bus.retained.add(bus.topic(name))  # the simulator retains its state: cleared after
    logs = [tmp_path / "sim.log", tmp_path / "telemetry.log"]
    sim = telemetry = None
    try:
        with Listener(setpoint) as heard:
            sim = spawn_cli(
                [
                    "simulate-bess",
                    "--port",
                    str(free_port()),
                    "--step",
                    "0.2",
                    "--initial-soc",
                    "30",
                    "--mqtt",
                    f"{HOST}:{PORT}",
                    "--mqtt-prefix",
                    bus.prefix,
                ],
                env,
                logs[0],
            )
            telemetry = spawn_cli(["bess-telemetry"], env, logs[1])
            first = wait_for(
                lambda: (s := bess_status(exchange))["source"] == "mqtt" and s,
                20,
                "a reading",
                logs,
            )
            wait_for(lambda: heard.payloads(setpoint), 10, "the idle setpoint", logs)
            assert set(heard.payloads(setpoint)) == {"0"}
            battery_buys(exchange, 0.1)
            wait_for(lambda: "-1" in heard.payloads(setpoint), 10, "−1 MW published", logs)
            wait_charging(exchange, first["soc_percent"], logs)
            stop_telemetry(telemetry, logs[1])
            wait_for(lambda: heard.payloads(setpoint)[-1] == "0", 5, "0 MW on stop", logs)
    finally:
        end_processes(telemetry, sim)
        exchange.stop()


def test_the_simulator_follows_the_setpoint_topic(bus, caplog):
    """``simulate-bess --mqtt`` listens on PREFIX/setpoint (MW, + discharging) as on its
    Modbus register, cut to its rated power; a payload that is not a number is ignored."""
    from phoenyra.simulator.modbus_server import BatterySimulator
    from phoenyra.simulator.mqtt_publisher import publish_state

    setpoint = bus.topic("setpoint")

    async def run() -> tuple[float, float]:
        sim = BatterySimulator("generic")
        topics = {
            "soc_percent": bus.topic("soc"),
            "power_mw": bus.topic("power"),
            "temperature_c": bus.topic("temperature"),
        }
        bus.retained.update(topics.values())
        task = asyncio.create_task(publish_state(sim, HOST, PORT, 0.1, topics, setpoint))
        try:
            # Sent again until the simulator has subscribed and applied it.
            deadline = asyncio.get_running_loop().time() + 10
            while sim.setpoint_mw != -0.5:
                assert asyncio.get_running_loop().time() < deadline, "−0.5 MW never applied"
                await bus.publish(setpoint, "-0.5")
                await asyncio.sleep(0.2)
            # One connection, in this order: the bad one is handled before 5 MW arrives.
            await bus.publish_many([(setpoint, "not a number"), (setpoint, "5")])
            await until(lambda: sim.setpoint_mw != -0.5, 5, "the next setpoint")
            return sim.setpoint_mw, sim.params.max_discharge_mw
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    with caplog.at_level(logging.WARNING, logger="phoenyra.simulator"):
        applied, rated = asyncio.run(run())
    assert applied == rated  # 5 MW asked: the rated power
    assert "setpoint over MQTT ignored: setpoint: 'not a number' is not a number" in caplog.text
