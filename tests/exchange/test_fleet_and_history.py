"""Batteries as a fleet: several batteries by id, their readings kept for charts, their metrics."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from support import new_trader


def reading(battery_id: str, soc: float, at: float, power: float = 0.2, temp: float = 24.0):
    return {
        "battery_id": battery_id,
        "soc_percent": soc,
        "power_mw": power,
        "temperature_c": temp,
        "timestamp": datetime.fromtimestamp(at, UTC).isoformat(),
    }


def test_a_second_battery_is_added_with_its_own_limits_and_listed(exchange):
    with exchange.client() as admin:
        r = admin.post(
            "/api/batteries",
            json={"battery_id": "vienna-2", "capacity_mwh": 4.0, "power_mw": 2.0},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["capacity_mwh"], body["rated_power_mw"]) == (4.0, 2.0)
        assert (body["soc_min_percent"], body["soc_max_percent"]) == (15.0, 90.0)
        assert body["online"] is False and body["soc_percent"] is None
        assert admin.post("/api/batteries", json={"battery_id": "vienna-2"}).status_code == 409
        bad = admin.post(
            "/api/batteries",
            json={"battery_id": "x", "soc_min_percent": 80, "soc_max_percent": 20},
        )
        assert bad.status_code == 422
        ids = [b["battery_id"] for b in admin.get("/api/batteries").json()]
    assert {"default", "vienna-2"} <= set(ids)
    assert "x" not in ids


def test_only_an_admin_adds_batteries(exchange):
    with new_trader(exchange) as trader:
        assert trader.post("/api/batteries", json={"battery_id": "mine"}).status_code == 403


def test_readings_of_each_battery_are_kept_in_order_for_charts(exchange):
    with exchange.client() as admin:
        admin.post("/api/batteries", json={"battery_id": "graz-1"})
    now = time.time()
    with exchange.client("demo-bess") as bess:
        for i, soc in enumerate([40.0, 41.5, 43.0]):
            r = bess.post("/api/bess/telemetry", json=reading("graz-1", soc, now - 30 + i * 10))
            assert r.status_code == 202, r.text
        # the same timestamp again is not newer: refused, nothing stored twice
        again = bess.post("/api/bess/telemetry", json=reading("graz-1", 99.0, now - 10))
        assert again.status_code == 409
        # out of range is refused and stores nothing
        assert bess.post("/api/bess/telemetry", json=reading("graz-1", 101, now)).status_code == 422
    with exchange.client() as c:
        history = c.get("/api/bess/history", params={"battery_id": "graz-1"}).json()
        last_two = c.get("/api/bess/history", params={"battery_id": "graz-1", "limit": 2}).json()
        assert c.get("/api/bess/history", params={"battery_id": "nope"}).status_code == 404
        status = c.get("/api/bess/status", params={"battery_id": "graz-1"}).json()
    assert [h["soc_percent"] for h in history] == [40.0, 41.5, 43.0]
    assert [h["soc_percent"] for h in last_two] == [41.5, 43.0]
    assert {h["source"] for h in history} == {"rest"}
    assert status["soc_percent"] == 43.0 and status["online"] is True


def test_a_reading_timed_in_epoch_numbers_is_refused_and_changes_nothing(exchange):
    """A device's epoch time may be seconds or milliseconds: the exchange takes ISO 8601 text
    with a time zone only, rather than guess the unit."""
    with exchange.client() as admin:
        admin.post("/api/batteries", json={"battery_id": "wels-1"})
    now = time.time()
    with exchange.client("demo-bess") as bess:
        for stamp in (int(now), now, int(now * 1000), str(int(now))):
            r = bess.post(
                "/api/bess/telemetry", json={**reading("wels-1", 55.0, now), "timestamp": stamp}
            )
            assert r.status_code == 422, (stamp, r.text)
            assert "not epoch seconds" in r.json()["error"]["message"]
        ok = bess.post("/api/bess/telemetry", json=reading("wels-1", 56.0, now))
        assert ok.status_code == 202, ok.text
    with exchange.client() as c:
        history = c.get("/api/bess/history", params={"battery_id": "wels-1"}).json()
    assert [h["soc_percent"] for h in history] == [56.0]


def test_a_device_clock_ahead_does_not_block_the_next_readings(exchange):
    """Up to a minute ahead is taken as arrival time; more is refused."""
    with exchange.client() as admin:
        admin.post("/api/batteries", json={"battery_id": "linz-1"})
    now = time.time()
    with exchange.client("demo-bess") as bess:
        ahead = bess.post("/api/bess/telemetry", json=reading("linz-1", 50.0, now + 55))
        assert ahead.status_code == 202, ahead.text
        at = datetime.fromisoformat(ahead.json()["updated_at"].replace("Z", "+00:00"))
        assert at.timestamp() <= time.time() + 0.5
        time.sleep(0.05)
        nxt = bess.post("/api/bess/telemetry", json=reading("linz-1", 50.5, time.time()))
        assert nxt.status_code == 202, nxt.text
        far = bess.post("/api/bess/telemetry", json=reading("linz-1", 51.0, time.time() + 120))
        assert far.status_code == 422 and "future" in far.json()["error"]["message"]
    with exchange.client() as c:
        status = c.get("/api/bess/status", params={"battery_id": "linz-1"}).json()
    assert status["soc_percent"] == 50.5


def test_battery_metrics_show_live_values_and_never_stale_ones(exchange):
    with exchange.client() as admin:
        admin.post("/api/batteries", json={"battery_id": "linz-1"})
        admin.post("/api/batteries", json={"battery_id": "linz-old"})
    now = time.time()
    with exchange.client("demo-bess") as bess:
        assert (
            bess.post(
                "/api/bess/telemetry", json=reading("linz-1", 61.25, now, power=-0.5, temp=31.0)
            ).status_code
            == 202
        )
        # a reading older than 3 update intervals (3 × 30 s): the battery is offline
        assert (
            bess.post("/api/bess/telemetry", json=reading("linz-old", 12.0, now - 600)).status_code
            == 202
        )
    with exchange.client() as c:
        text = c.get("/metrics").text
    assert 'phoenyra_bess_soc_percent{battery="linz-1"} 61.25' in text
    assert 'phoenyra_bess_power_mw{battery="linz-1"} -0.5' in text
    assert 'phoenyra_bess_temperature_celsius{battery="linz-1"} 31.0' in text
    assert 'phoenyra_bess_online{battery="linz-1"} 1.0' in text
    assert 'phoenyra_bess_online{battery="linz-old"} 0.0' in text
    assert 'phoenyra_bess_soc_percent{battery="linz-old"}' not in text


def test_a_device_without_temperature_reports_null_and_must_say_so(exchange):
    with exchange.client() as admin:
        admin.post("/api/batteries", json={"battery_id": "no-thermo"})
    body = reading("no-thermo", 55.0, time.time())
    with exchange.client("demo-bess") as bess:
        missing = {k: v for k, v in body.items() if k != "temperature_c"}
        assert bess.post("/api/bess/telemetry", json=missing).status_code == 422
        r = bess.post("/api/bess/telemetry", json={**body, "temperature_c": None})
        assert r.status_code == 202, r.text
    with exchange.client() as c:
        status = c.get("/api/bess/status", params={"battery_id": "no-thermo"}).json()
        history = c.get("/api/bess/history", params={"battery_id": "no-thermo"}).json()
        text = c.get("/metrics").text
    assert status["temperature_c"] is None and status["soc_percent"] == 55.0
    assert history[-1]["temperature_c"] is None
    assert 'phoenyra_bess_soc_percent{battery="no-thermo"} 55.0' in text
    assert 'phoenyra_bess_temperature_celsius{battery="no-thermo"}' not in text


def _status(client, battery_id: str) -> float | None:
    return client.get("/api/bess/status", params={"battery_id": battery_id}).json()["soc_percent"]


def test_a_telemetry_key_linked_to_a_battery_reports_that_battery_only(exchange):
    now = time.time()
    with exchange.client() as admin:
        admin.post("/api/batteries", json={"battery_id": "linz-3"})
        r = admin.post(
            "/api/accounts",
            json={"name": "linz-3-meter", "role": "telemetry", "battery_id": "linz-3"},
        )
        assert r.status_code == 201, r.text
        key = r.json()["api_key"]
        before = _status(admin, "default")
    with exchange.client(key) as meter:
        # Another battery's SoC (which opens and closes its trading) cannot be moved with it.
        other = meter.post("/api/bess/telemetry", json=reading("default", 12.0, now))
        assert other.status_code == 403 and other.json()["error"]["code"] == "FORBIDDEN"
        assert "linz-3" in other.json()["error"]["message"]
        # Without a battery id the reading is for the key's own battery, not 'default'.
        body = reading("linz-3", 55.0, now)
        del body["battery_id"]
        own = meter.post("/api/bess/telemetry", json=body)
        assert own.status_code == 202 and own.json()["battery_id"] == "linz-3", own.text
        # Nor can it read another battery's device configuration (with its credentials).
        secrets = meter.get("/api/telemetry/config", params={"battery_id": "default"})
        assert secrets.status_code == 403, secrets.text
        assert meter.get("/api/telemetry/config").status_code == 200
    with exchange.client() as admin:
        assert _status(admin, "default") == before
        assert _status(admin, "linz-3") == 55.0
    # The telemetry service's key (not linked) reports every battery it is configured for.
    with exchange.client("demo-bess") as service:
        r = service.post("/api/bess/telemetry", json=reading("linz-3", 56.0, now + 1))
        assert r.status_code == 202, r.text
