"""The live connection test: values and latency when every topic answers, or one precise, typed
error: refused (broker down or credentials), timeout naming silent topics, bad payload naming
topic and payload, invalid configuration."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from phoenyra.telemetry.model import BadPayload, ConfigInvalid, ConnectionRefused, Timeout
from phoenyra.telemetry.sources.mqtt import test_connection as connection_test
from support import free_port


def test_success_returns_the_values_read_and_the_latency(bus):
    async def go():
        await bus.publish_many(
            [(bus.topic("soc"), 64), (bus.topic("power"), -1.25), (bus.topic("temperature"), 31)],
            retain=True,
        )
        result = await connection_test(bus.config(), timeout=3)
        assert result["ok"] is True
        assert result["values"] == {"soc_percent": 64, "power_mw": -1.25, "temperature_c": 31}
        assert set(result["topics"]) == {bus.topic(n) for n in ("soc", "power", "temperature")}
        assert all(t["retained"] for t in result["topics"].values())
        assert 0 < result["connect_ms"] <= result["latency_ms"] < 3000

    asyncio.run(go())


def test_live_messages_count_as_well_as_retained_ones(bus):
    async def go():
        await bus.publish_many([(bus.topic("soc"), 64), (bus.topic("power"), 0)], retain=True)
        test = asyncio.create_task(connection_test(bus.config(), timeout=3))
        await asyncio.sleep(0.5)
        await bus.publish(bus.topic("temperature"), 22)
        result = await test
        assert result["values"]["temperature_c"] == 22
        assert result["topics"][bus.topic("temperature")]["retained"] is False

    asyncio.run(go())


def test_a_config_given_as_a_mapping_is_validated_first():
    with pytest.raises(ConfigInvalid, match="port"):
        asyncio.run(connection_test({"broker": "127.0.0.1", "port": 0}))


def test_a_broker_that_is_down_is_reported_as_refused(bus):
    config = bus.config(port=free_port())  # nothing listens there
    with pytest.raises(ConnectionRefused, match=r"127\.0\.0\.1:\d+"):
        asyncio.run(connection_test(config, timeout=3))


def test_a_silent_topic_times_out_naming_that_topic_only(bus):
    async def go():
        await bus.publish_many(
            [(bus.topic("soc"), 50), (bus.topic("temperature"), 20)], retain=True
        )
        with pytest.raises(Timeout) as info:
            await connection_test(bus.config(), timeout=1)
        message = info.value.message
        assert bus.topic("power") in message
        assert bus.topic("soc") not in message
        assert bus.topic("temperature") not in message

    asyncio.run(go())


def test_a_bad_payload_names_the_topic_and_the_payload(bus):
    config = bus.config(power_mw={"topic": bus.topic("power"), "json_path": "data.p"})

    async def go():
        await bus.publish_many(
            [
                (bus.topic("soc"), 50),
                (bus.topic("power"), '{"data": []}'),
                (bus.topic("temperature"), 20),
            ],
            retain=True,
        )
        with pytest.raises(BadPayload) as info:
            await connection_test(config, timeout=3)
        assert bus.topic("power") in info.value.message
        assert '{"data": []}' in info.value.message

    asyncio.run(go())


def test_refused_credentials_are_reported_as_such(own_broker, tmp_path):
    passwords = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "bess", "right"], check=True)
    broker = own_broker(password_file=passwords)
    base = {
        "broker": "127.0.0.1",
        "port": broker.port,
        "username": "bess",
        "soc_percent": {"topic": "t/soc"},
        "power_mw": {"topic": "t/power"},
        "temperature_c": {"topic": "t/temp"},
    }
    with pytest.raises(ConnectionRefused, match="credentials"):
        asyncio.run(connection_test({**base, "password": "wrong"}, timeout=3))
    # The right password gets past the broker's check: then the topics are silent.
    with pytest.raises(Timeout, match="t/soc"):
        asyncio.run(connection_test({**base, "password": "right"}, timeout=1))


def test_tls_files_that_do_not_exist_are_a_config_error(bus, tmp_path):
    config = bus.config(tls={"enabled": True, "ca_file": str(tmp_path / "missing-ca.pem")})
    with pytest.raises(ConfigInvalid, match=r"missing-ca\.pem"):
        asyncio.run(connection_test(config, timeout=2))


def test_a_tls_file_that_is_not_a_certificate_is_a_config_error(bus, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    config = bus.config(tls={"enabled": True, "ca_file": str(ca)})
    with pytest.raises(ConfigInvalid, match="TLS"):
        asyncio.run(connection_test(config, timeout=2))
