"""A telemetry configuration through which no reading can arrive (no Modbus, MQTT, Tesla gateway
or REST push) would take the battery offline and refuse its orders: it is refused with the reason
and the configuration in use stays. And while nothing is saved, the configuration API shows what
the telemetry service reported it runs from its environment, not made-up defaults."""

from __future__ import annotations

import uuid

import pytest

from support import new_trader

NOTHING_ENABLED = {
    "battery_id": "default",
    "interval_s": 5,
    "modbus": {"enabled": False, "host": "127.0.0.1", "port": 5020, "preset": "generic"},
    "mqtt": {"enabled": False},
    "rest": {"enabled": False},
    "https": None,
}


def _battery(exchange) -> str:
    battery_id = f"env-{uuid.uuid4().hex[:8]}"
    with exchange.client() as admin:
        r = admin.post("/api/batteries", json={"battery_id": battery_id})
        assert r.status_code == 201, r.text
    return battery_id


@pytest.mark.parametrize("saved_before", [False, True])
def test_a_configuration_with_no_interface_enabled_is_refused_and_changes_nothing(
    exchange, saved_before
):
    battery_id = _battery(exchange)
    with exchange.client() as admin:
        if saved_before:
            good = {**NOTHING_ENABLED, "battery_id": battery_id, "rest": {"enabled": True}}
            assert admin.post("/api/config/save", json=good).status_code == 200
        before = admin.get("/api/config/load", params={"battery_id": battery_id}).json()
        r = admin.post("/api/config/save", json={**NOTHING_ENABLED, "battery_id": battery_id})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "NO_TELEMETRY_INTERFACE"
        assert "No interface is enabled" in error["message"]
        assert "offline" in error["message"] and "unchanged" in error["message"]
        after = admin.get("/api/config/load", params={"battery_id": battery_id}).json()
        assert after == before


@pytest.mark.parametrize(
    "one_on",
    [
        {"modbus": {"enabled": True, "host": "127.0.0.1", "port": 5020, "preset": "generic"}},
        {"mqtt": {"enabled": True, "broker": "127.0.0.1"}},
        {"rest": {"enabled": True}},
    ],
)
def test_any_one_interface_is_enough_to_save(exchange, one_on):
    battery_id = _battery(exchange)
    with exchange.client() as admin:
        body = {**NOTHING_ENABLED, "battery_id": battery_id, **one_on}
        r = admin.post("/api/config/save", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1 and r.json()["origin"] == "saved"


def test_load_shows_the_configuration_the_telemetry_service_reported_from_its_environment(
    exchange,
):
    battery_id = _battery(exchange)
    with exchange.client() as admin:
        unreported = admin.get("/api/config/load", params={"battery_id": battery_id}).json()
    assert (unreported["version"], unreported["origin"]) == (0, "default")
    assert unreported["config"]["modbus"]["enabled"] is False

    environment = {
        "battery_id": battery_id,
        "interval_s": 5,
        "modbus": {"enabled": True, "host": "127.0.0.1", "port": 5020, "preset": "generic"},
        "mqtt": {"enabled": False, "broker": "127.0.0.1", "username": "op", "password": "s3cret"},
    }
    with exchange.client("demo-bess") as service:  # the telemetry service's key
        r = service.put("/api/telemetry/config/environment", json=environment)
        assert r.status_code == 200, r.text
        full = service.get("/api/telemetry/config", params={"battery_id": battery_id}).json()
    # Version 0: the service keeps running on its environment (nothing to apply).
    assert (full["version"], full["origin"]) == (0, "environment")
    # A device's telemetry key must not read the broker password the service was started with.
    assert full["config"]["mqtt"]["password"] == "********"
    with exchange.client() as admin:
        loaded = admin.get("/api/config/load", params={"battery_id": battery_id}).json()
        assert (loaded["version"], loaded["origin"]) == (0, "environment")
        modbus = loaded["config"]["modbus"]
        assert (modbus["enabled"], modbus["host"], modbus["port"]) == (True, "127.0.0.1", 5020)
        assert loaded["config"]["mqtt"]["password"] == "********"
        # Saving it back with only the interval changed keeps Modbus (and the stored password).
        saved = admin.post("/api/config/save", json={**loaded["config"], "interval_s": 2}).json()
        assert (saved["version"], saved["origin"]) == (1, "saved")
        assert saved["config"]["modbus"]["enabled"] is True
    with exchange.client("demo-bess") as service:
        full = service.get("/api/telemetry/config", params={"battery_id": battery_id}).json()
        assert full["config"]["mqtt"]["password"] == "s3cret"
        # A later report from the environment does not hide the saved configuration.
        assert service.put("/api/telemetry/config/environment", json=environment).status_code == 200
    with exchange.client() as admin:
        loaded = admin.get("/api/config/load", params={"battery_id": battery_id}).json()
    assert (loaded["version"], loaded["origin"], loaded["config"]["interval_s"]) == (
        1,
        "saved",
        2,
    )


def test_only_a_telemetry_key_for_that_battery_reports_its_environment(exchange):
    battery_id = _battery(exchange)
    body = {"battery_id": battery_id, "rest": {"enabled": True}}
    with new_trader(exchange) as trader:
        r = trader.put("/api/telemetry/config/environment", json=body)
        assert r.status_code == 403, r.text
    with new_trader(exchange, role="telemetry", battery_id="default") as other:
        r = other.put("/api/telemetry/config/environment", json=body)
        assert r.status_code == 403, r.text
    with exchange.client() as admin:
        loaded = admin.get("/api/config/load", params={"battery_id": battery_id}).json()
    assert loaded["origin"] == "default"


def test_switching_off_the_interface_a_battery_is_read_over_needs_a_confirmation(exchange):
    # Read over Modbus now; a configuration with only REST push left on would take it offline
    # unless a device starts pushing: refused unless the caller confirms it.
    battery_id = _battery(exchange)
    modbus_on = {
        **NOTHING_ENABLED,
        "battery_id": battery_id,
        "modbus": {**NOTHING_ENABLED["modbus"], "enabled": True},
    }
    rest_only = {**NOTHING_ENABLED, "battery_id": battery_id, "rest": {"enabled": True}}
    with exchange.client() as admin:
        assert admin.post("/api/config/save", json=modbus_on).status_code == 200
    with exchange.client("demo-bess") as device:
        reading = {
            "battery_id": battery_id,
            "soc_percent": 50.0,
            "power_mw": 0.0,
            "temperature_c": 20.0,
            "source": "modbus",  # as the telemetry service relays a Modbus reading
        }
        assert device.post("/api/bess/telemetry", json=reading).status_code == 202
    with exchange.client() as admin:
        r = admin.post("/api/config/save", json=rest_only)
        assert r.status_code == 409 and r.json()["error"]["code"] == "SOURCE_IN_USE", r.text
        assert "Modbus TCP" in r.json()["error"]["message"]
        loaded = admin.get("/api/config/load", params={"battery_id": battery_id}).json()
        assert (loaded["version"], loaded["config"]["modbus"]["enabled"]) == (1, True)
        # Keeping Modbus on (REST added) is no switch-off; confirming saves the switch.
        also_mqtt = {**modbus_on, "rest": {"enabled": True}}
        assert admin.post("/api/config/save", json=also_mqtt).status_code == 200
        r = admin.post("/api/config/save", params={"confirm_offline": "true"}, json=rest_only)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 3 and r.json()["config"]["modbus"]["enabled"] is False
