"""Before anything is saved, `phoenyra bess-telemetry` reads the battery as its BESS_* variables
say; the configuration API (and so the web app's form) shows exactly that configuration, marked
as from the environment, so saving it after changing one field keeps the battery live."""

from __future__ import annotations

import time

from support import ExchangeProcess, free_port, modbus_telemetry_env, spawn_cli, wait_for


def test_load_shows_the_modbus_configuration_from_the_environment_until_one_is_saved(tmp_path):
    sim_port, health_port = free_port(), free_port()
    exchange = ExchangeProcess(tmp_path / "ex").start()
    env = modbus_telemetry_env(
        exchange.base_url,
        sim_port,
        BESS_CONFIG_POLL_S="0.5",
        BESS_TELEMETRY_PORT=str(health_port),
    )
    logs = [tmp_path / "sim.log", tmp_path / "telemetry.log"]
    procs = [
        spawn_cli(["simulate-bess", "--port", str(sim_port), "--initial-soc", "40"], env, logs[0])
    ]
    admin = exchange.client()
    try:
        time.sleep(1.0)
        procs.append(spawn_cli(["bess-telemetry"], env, logs[1]))

        def load() -> dict:
            return admin.get("/api/config/load").json()

        loaded = wait_for(
            lambda: (c := load())["origin"] == "environment" and c, 20, "report", logs
        )
        assert loaded["version"] == 0
        config = loaded["config"]
        assert config["modbus"]["enabled"] is True
        assert (config["modbus"]["host"], config["modbus"]["port"]) == ("127.0.0.1", sim_port)
        assert config["interval_s"] == 0.5 and config["mqtt"]["enabled"] is False
        # The spec's simple register map from BESS_MODBUS_*_REGISTER (a custom map, no preset).
        assert config["modbus"]["preset"] is None
        assert config["modbus"]["map"]["soc_percent"]["address"] == 0
        wait_for(lambda: admin.get("/api/bess/status").json()["online"], 20, "a reading", logs)

        # The review's case: only the poll interval changed, then Save. Modbus stays on and the
        # battery stays live (it went offline when the form had shown defaults).
        r = admin.post("/api/config/save", json={**config, "interval_s": 0.4})
        assert r.status_code == 200, r.text
        wait_for(lambda: "configuration 1 applied" in logs[1].read_text(), 20, "applied", logs)
        applied_at = time.time()
        status = wait_for(
            lambda: (
                (s := admin.get("/api/bess/status").json())["updated_at"]
                and s["source"] == "modbus"
                and _after(s["updated_at"], applied_at + 1.0)
                and s
            ),
            20,
            "a reading after the saved configuration was applied",
            logs,
        )
        assert status["online"] is True
        assert abs(status["soc_percent"] - 40) < 1
        assert load()["origin"] == "saved"
    finally:
        admin.close()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        exchange.stop()


def _after(iso: str, at: float) -> bool:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp() > at
