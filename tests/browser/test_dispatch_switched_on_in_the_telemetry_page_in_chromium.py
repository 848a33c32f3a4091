"""An operator switches dispatch on in the telemetry page: the running telemetry service applies
it, and what the battery's account trades becomes the simulated battery's power setpoint;
switched off again, the battery is set idle."""

from __future__ import annotations

import uuid

import paho.mqtt.client as paho
from playwright.sync_api import expect

from support import battery_buys, read_setpoint_mw, wait_for


def test_dispatch_ticked_in_the_page_drives_the_battery_and_unticked_sets_it_idle(
    page_at, exchange, modbus_battery
):
    p = page_at()
    pg = p.page
    p.errors.clear()  # only this page's (signing in showed the dashboard)
    p.goto("/config")
    expect(pg.locator("#mb-enabled")).to_be_checked()
    expect(pg.locator("#mb-dispatch")).not_to_be_checked()  # off unless switched on
    expect(pg.locator("#mb-dispatch-help")).to_contain_text("setpoint is set to 0 MW")
    pg.check("#mb-dispatch")
    pg.locator("#map-box [data-save]").click()
    expect(pg.locator("#flash")).to_contain_text("saved as version 1")
    with exchange.client() as admin:
        assert admin.get("/api/config/load").json()["config"]["modbus"]["dispatch"] is True
    battery_buys(exchange, 0.1)  # 6 minutes at −1 MW
    wait_for(lambda: read_setpoint_mw(modbus_battery) == -1.0, 20, "the −1 MW setpoint", [])
    with exchange.client() as admin:
        status = admin.get
        wait_for(lambda: status("/api/bess/status").json()["power_mw"] == -1.0, 20, "charging", [])
    # The dashboard says what the trades ask of the battery.
    p.goto("/")
    expect(pg.locator("#bess-dispatch-text")).to_contain_text("Trades: charge 1.00 MW until")
    # Reloaded, the page shows dispatch on; switched off, the battery is set idle.
    p.goto("/config")
    expect(pg.locator("#mb-dispatch")).to_be_checked()
    pg.uncheck("#mb-dispatch")
    pg.locator("#map-box [data-save]").click()
    expect(pg.locator("#flash")).to_contain_text("saved as version 2")
    wait_for(lambda: read_setpoint_mw(modbus_battery) == 0.0, 20, "the battery idle", [])
    assert p.errors == []


def test_dispatch_over_mqtt_is_set_in_the_topic_mapping(page_at, exchange, modbus_battery):
    """The MQTT tab: dispatch needs a setpoint topic (refused in the page without one, nothing
    saved); with one, the running service publishes the power the plan asks for there."""
    prefix = f"phoenyra-test/{uuid.uuid4().hex[:12]}"
    p = page_at()
    pg = p.page
    p.errors.clear()
    p.goto("/config")
    pg.click("#tab-mqtt")
    if pg.is_checked("#mb-dispatch"):  # Modbus dispatch off: one interface steers
        pg.uncheck("#mb-dispatch")
    expect(pg.locator("#mq-dispatch")).not_to_be_checked()
    expect(pg.locator("#mq-dispatch-help")).to_contain_text("0 is published")
    pg.check("#mq-enabled")
    pg.fill("#mq-broker", "127.0.0.1")
    pg.fill("#mq-port", "1883")
    for field, name in (("soc_percent", "soc"), ("power_mw", "power"), ("temperature_c", "t")):
        pg.fill(f'#topic-body tr[data-field="{field}"] [data-k="topic"]', f"{prefix}/{name}")
    setpoint = pg.locator('#topic-body tr[data-field="setpoint_mw"] [data-k="topic"]')
    expect(pg.locator('#topic-body tr[data-field="setpoint_mw"] th')).to_contain_text(
        "for dispatch"
    )
    pg.check("#mq-dispatch")
    with exchange.client() as admin:
        before = admin.get("/api/config/load").json()["version"]
    pg.locator("#panel-mqtt [data-save]").click()
    refused = pg.locator("#flash .toast", has_text="needs a topic for the power setpoint")
    expect(refused).to_be_visible()
    with exchange.client() as admin:
        assert admin.get("/api/config/load").json()["version"] == before  # nothing saved
    setpoint.fill(f"{prefix}/setpoint")
    p.shot("config-mqtt-dispatch-1440")
    heard: list[str] = []
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda _c, _u, m: heard.append(m.payload.decode())
    listener.connect("127.0.0.1", 1883)
    listener.subscribe(f"{prefix}/setpoint", qos=1)
    listener.loop_start()
    try:
        pg.locator("#panel-mqtt [data-save]").click()
        expect(pg.locator("#flash")).to_contain_text(f"saved as version {before + 1}")
        with exchange.client() as admin:
            mqtt = admin.get("/api/config/load").json()["config"]["mqtt"]
            assert mqtt["dispatch"] is True
            assert mqtt["setpoint_mw"] == {
                "topic": f"{prefix}/setpoint",
                "json_path": None,
                "scale": 1.0,
                "retain": False,
            }
        battery_buys(exchange, 0.1)  # −1 MW on the topic
        wait_for(lambda: "-1" in heard, 20, "−1 MW on the MQTT setpoint topic", [])
    finally:
        listener.loop_stop()
        listener.disconnect()
        # Back to the environment's configuration for the other tests of the module.
        with exchange.client() as admin:
            loaded = admin.get("/api/config/load").json()["config"]
            loaded["mqtt"] = {**loaded["mqtt"], "enabled": False, "dispatch": False}
            assert admin.post("/api/config/save", json=loaded).status_code == 200
    assert p.errors == []
