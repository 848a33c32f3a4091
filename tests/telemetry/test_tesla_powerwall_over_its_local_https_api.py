"""The Tesla Powerwall preset reads the gateway's local HTTPS API (it has no public Modbus
interface). A local HTTPS server with a self-signed certificate plays the gateway, answering in
the format community projects document (pypowerwall): login, state of energy, meter aggregates."""

from __future__ import annotations

import asyncio

import pytest

from phoenyra.telemetry.model import BadPayload, ConnectionRefused, OutOfRange
from phoenyra.telemetry.sources.tesla import TeslaSource, test_connection
from support import free_port
from tesla_gateway import PASSWORD, Gateway


@pytest.fixture
def gateway(tmp_path):
    gw = Gateway(tmp_path)
    yield gw
    gw.httpd.shutdown()


def read(config: dict):
    async def go():
        source = TeslaSource(config)
        try:
            return await source.read()
        finally:
            await source.close()

    return asyncio.run(go())


def test_soc_and_battery_power_are_read_and_temperature_is_reported_as_absent(gateway):
    reading = read(gateway.config())
    assert reading.soc_percent == 69.5
    assert reading.power_mw == pytest.approx(0.0015)  # 1,500 W discharging
    assert reading.temperature_c is None
    assert reading.source == "https"


def test_charging_power_is_negative(gateway):
    gateway.aggregates = {"battery": {"instant_power": -3200.0}}
    assert read(gateway.config()).power_mw == pytest.approx(-0.0032)


def test_an_expired_session_logs_in_again(gateway):
    async def go():
        source = TeslaSource(gateway.config())
        try:
            await source.read()
            gateway.tokens.clear()  # the gateway forgot the session
            return await source.read()
        finally:
            await source.close()

    assert asyncio.run(go()).soc_percent == 69.5
    assert gateway.logins == 2


def test_wrong_password_is_refused_credentials(gateway):
    with pytest.raises(ConnectionRefused, match="credentials"):
        read(gateway.config(password="WRONG"))


def test_the_self_signed_certificate_is_refused_when_verification_is_asked(gateway):
    with pytest.raises(ConnectionRefused, match="self-signed"):
        read(gateway.config(verify_tls=True))


def test_nothing_listening_is_refused():
    with pytest.raises(ConnectionRefused, match="cannot connect"):
        read({"host": "127.0.0.1", "port": free_port(), "password": PASSWORD})


@pytest.mark.parametrize(
    ("soe", "error"),
    [
        ({"percent": 50}, BadPayload),
        ({"percentage": "n/a"}, BadPayload),
        ({"percentage": 140}, OutOfRange),
    ],
)
def test_garbage_or_impossible_values_are_refused(gateway, soe, error):
    gateway.soe = soe
    with pytest.raises(error):
        read(gateway.config())


def test_connection_test_reports_values_latency_and_the_missing_temperature(gateway):
    out = asyncio.run(test_connection(gateway.config()))
    assert out["ok"] is True and out["values"]["soc_percent"] == 69.5
    assert out["values"]["temperature_c"] is None and "temperature" in out["note"]
    assert out["latency_ms"] > 0
