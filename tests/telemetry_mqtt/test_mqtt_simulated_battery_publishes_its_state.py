"""`phoenyra simulate-bess --mqtt` publishes the simulated battery's state over the real
Mosquitto, and the MQTT source reads it as it would read a real device."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys

from phoenyra.telemetry.sources.mqtt import test_connection
from support import ROOT, free_port


def test_the_simulator_publishes_soc_power_and_temperature(bus):
    soc = round(random.uniform(20, 80), 1)  # a value no earlier run left behind
    env = {**os.environ, "PHOENYRA_ENV": "development", "PYTHONUNBUFFERED": "1"}
    sim = subprocess.Popen(
        [sys.executable, "-m", "phoenyra.cli", "simulate-bess", "--port", str(free_port()),
         "--initial-soc", str(soc), "--step", "0.2", "--mqtt", "127.0.0.1:1883",
         "--mqtt-prefix", bus.prefix],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    # The simulator publishes retained messages: clear them when the test ends.
    bus.retained.update({bus.topic("soc"), bus.topic("power"), bus.topic("temperature")})
    try:
        out = asyncio.run(test_connection(bus.config(enabled=True), timeout=10.0))
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert out["ok"] is True
    assert abs(out["values"]["soc_percent"] - soc) < 0.05
    assert out["values"]["power_mw"] == 0.0
    assert 20 <= out["values"]["temperature_c"] <= 30
