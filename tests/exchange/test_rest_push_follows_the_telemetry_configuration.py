"""A battery whose telemetry configuration has REST push switched off refuses pushed readings
(409 REST_PUSH_DISABLED, status unchanged), also after a restart, while readings the telemetry
service relays from Modbus or MQTT still arrive; ticking it again accepts pushes at once. The
environment a telemetry service reported counts while nothing is saved."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from support import ExchangeProcess, new_trader

MODBUS_ONLY = {
    "interval_s": 5,
    "modbus": {"enabled": True, "host": "127.0.0.1", "port": 5020, "preset": "generic"},
    "mqtt": {"enabled": False},
    "rest": {"enabled": False},
    "https": None,
}


def _reading(battery_id: str, soc: float, source: str = "rest") -> dict:
    return {
        "battery_id": battery_id,
        "soc_percent": soc,
        "power_mw": 0.0,
        "temperature_c": 21.0,
        "timestamp": datetime.now(UTC).isoformat(),
        "source": source,
    }


def _soc(client, battery_id: str) -> float:
    r = client.get("/api/bess/status", params={"battery_id": battery_id})
    assert r.status_code == 200, r.text
    return r.json()["soc_percent"]


def test_rest_push_switched_off_is_refused_and_survives_a_restart(tmp_path):
    exchange = ExchangeProcess(tmp_path).start()
    try:
        battery_id = f"rest-{uuid.uuid4().hex[:8]}"
        with exchange.client() as admin:
            assert admin.post("/api/batteries", json={"battery_id": battery_id}).status_code == 201
        device = new_trader(exchange, "telemetry", battery_id)
        with device, exchange.client() as admin:
            assert (
                device.post("/api/bess/telemetry", json=_reading(battery_id, 40)).status_code == 202
            )

            saved = admin.post("/api/config/save", json={**MODBUS_ONLY, "battery_id": battery_id})
            assert saved.status_code == 200, saved.text
            time.sleep(0.01)
            refused = device.post("/api/bess/telemetry", json=_reading(battery_id, 55))
            assert refused.status_code == 409, refused.text
            error = refused.json()["error"]
            assert error["code"] == "REST_PUSH_DISABLED"
            assert battery_id in error["message"] and "unchanged" in error["message"]
            assert _soc(admin, battery_id) == 40
            # The alias refuses it as well.
            assert device.post("/api/telemetry", json=_reading(battery_id, 56)).status_code == 409
            # What the telemetry service relays from Modbus is not a REST push.
            relayed = device.post("/api/bess/telemetry", json=_reading(battery_id, 60, "modbus"))
            assert relayed.status_code == 202, relayed.text
            assert _soc(admin, battery_id) == 60
        exchange.stop()
        exchange.start()
        device = exchange.client(device.headers["X-API-Key"])
        with device, exchange.client() as admin:
            again = device.post("/api/bess/telemetry", json=_reading(battery_id, 65))
            assert again.status_code == 409, again.text
            assert _soc(admin, battery_id) == 60

            body = {**MODBUS_ONLY, "battery_id": battery_id, "rest": {"enabled": True}}
            assert admin.post("/api/config/save", json=body).status_code == 200
            accepted = device.post("/api/bess/telemetry", json=_reading(battery_id, 66))
            assert accepted.status_code == 202, accepted.text
            assert _soc(admin, battery_id) == 66
    finally:
        exchange.stop()


def test_the_reported_environment_counts_while_nothing_is_saved(exchange):
    battery_id = f"env-{uuid.uuid4().hex[:8]}"
    with exchange.client() as admin:
        assert admin.post("/api/batteries", json={"battery_id": battery_id}).status_code == 201
    with exchange.client("demo-bess") as service:
        assert service.post("/api/bess/telemetry", json=_reading(battery_id, 30)).status_code == 202
        reported = service.put(
            "/api/telemetry/config/environment", json={**MODBUS_ONLY, "battery_id": battery_id}
        )
        assert reported.status_code == 200, reported.text
        refused = service.post("/api/bess/telemetry", json=_reading(battery_id, 31))
        assert (
            refused.status_code == 409 and refused.json()["error"]["code"] == "REST_PUSH_DISABLED"
        )


def test_a_reported_environment_lapses_when_no_telemetry_service_asks_any_more(
    tmp_path, monkeypatch
):
    """A telemetry service asks for its battery's configuration every few seconds; when none
    has asked for longer than the lapse, what it reported no longer counts as running (the page
    falls back to the defaults, REST push to accepted) until a service reports again."""
    from phoenyra.config import Settings
    from phoenyra.exchange import service as service_module
    from phoenyra.exchange.service import ExchangeService
    from phoenyra.exchange.store import Store

    monkeypatch.setattr(service_module, "ENVIRONMENT_REPORT_TTL_S", 0.3)
    settings = Settings(PHOENYRA_ENV="development", PHOENYRA_DATA_DIR=str(tmp_path))
    service = ExchangeService(settings, Store(settings.effective_database_url))
    service.load()
    config = {**MODBUS_ONLY, "battery_id": "default"}
    service.report_environment("default", config)
    assert service.environment_report("default")[0] == config
    assert not service.rest_push_enabled("default")
    for _ in range(3):  # asked within the lapse: it keeps counting
        time.sleep(0.15)
        service.telemetry_asked("default")
        assert service.environment_report("default") is not None
    time.sleep(0.4)
    assert service.environment_report("default") is None
    assert service.rest_push_enabled("default")
    service.telemetry_asked("default")  # a service asking without reporting: stays lapsed
    assert service.environment_report("default") is None
    service.report_environment("default", config)
    assert not service.rest_push_enabled("default")
    service.store.close()


def test_bess_rest_enabled_false_refuses_pushes_until_a_saved_configuration_allows_them(
    tmp_path,
):
    """The spec's BESS_REST_ENABLED, read by the exchange while nothing is saved or reported."""
    exchange = ExchangeProcess(tmp_path, BESS_REST_ENABLED="false").start()
    try:
        with exchange.client("demo-bess") as bess, exchange.client() as admin:
            refused = bess.post("/api/bess/telemetry", json=_reading("default", 50))
            assert refused.status_code == 409, refused.text
            assert refused.json()["error"]["code"] == "REST_PUSH_DISABLED"
            body = {**MODBUS_ONLY, "battery_id": "default", "rest": {"enabled": True}}
            assert admin.post("/api/config/save", json=body).status_code == 200
            accepted = bess.post("/api/bess/telemetry", json=_reading("default", 51))
            assert accepted.status_code == 202, accepted.text
    finally:
        exchange.stop()
