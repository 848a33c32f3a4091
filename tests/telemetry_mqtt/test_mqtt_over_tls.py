"""MQTT over TLS: a broker of the test's own with a TLS listener (self-signed certificate for
127.0.0.1); the source trusts it through the configured CA file, and refuses it otherwise."""

from __future__ import annotations

import asyncio
import subprocess

import paho.mqtt.publish as publish
import pytest

from phoenyra.telemetry.model import ConnectionRefused, TelemetryError
from phoenyra.telemetry.sources.mqtt import MqttConfig, test_connection


@pytest.fixture
def tls_broker(own_broker, tmp_path):
    cert, key = tmp_path / "broker.crt", tmp_path / "broker.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    broker = own_broker(tls=(cert, key))
    values = [("b/soc", "64.5"), ("b/power", "-0.2"), ("b/temperature", "22")]
    publish.multiple(
        [{"topic": t, "payload": p, "retain": True, "qos": 1} for t, p in values],
        hostname="127.0.0.1",
        port=broker.port,
        tls={"ca_certs": str(cert)},
    )
    return broker, cert


def config(port: int, **tls) -> MqttConfig:
    return MqttConfig.model_validate(
        {
            "enabled": True,
            "broker": "127.0.0.1",
            "port": port,
            "tls": tls,
            "soc_percent": {"topic": "b/soc"},
            "power_mw": {"topic": "b/power"},
            "temperature_c": {"topic": "b/temperature"},
        }
    )


def test_a_tls_broker_is_read_when_its_certificate_is_trusted(tls_broker):
    broker, cert = tls_broker
    out = asyncio.run(test_connection(config(broker.port, enabled=True, ca_file=str(cert))))
    assert out["ok"] is True
    assert out["values"] == {"soc_percent": 64.5, "power_mw": -0.2, "temperature_c": 22.0}


def test_an_untrusted_certificate_is_refused(tls_broker):
    broker, _ = tls_broker
    with pytest.raises(ConnectionRefused):
        asyncio.run(test_connection(config(broker.port, enabled=True), timeout=3.0))


def test_plain_mqtt_to_a_tls_listener_fails_clearly(tls_broker):
    broker, _ = tls_broker
    with pytest.raises(TelemetryError):
        asyncio.run(test_connection(config(broker.port), timeout=3.0))
