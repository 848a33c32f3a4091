"""The spec's BESS_MODBUS_* variables configure the simple case; bad values are refused."""

from __future__ import annotations

import pytest

from phoenyra.telemetry.model import ConfigInvalid
from phoenyra.telemetry.sources.modbus import modbus_config_from_env, simple_map_from_env


def test_defaults_are_registers_0_1_2_on_unit_1() -> None:
    m = simple_map_from_env({})
    assert (m.soc_percent.address, m.power_mw.address, m.temperature_c.address) == (0, 1, 2)
    assert m.unit_id == 1 and m.soc_percent.table == "holding"


def test_env_moves_the_registers_and_unit_id() -> None:
    cfg = modbus_config_from_env(
        {
            "BESS_MODBUS_ENABLED": "true",
            "BESS_MODBUS_HOST": "10.1.2.3",
            "BESS_MODBUS_PORT": "1502",
            "BESS_MODBUS_UNIT_ID": "9",
            "BESS_MODBUS_SOC_REGISTER": "3",
            "BESS_MODBUS_POWER_REGISTER": "4",
            "BESS_MODBUS_TEMP_REGISTER": "7",
        }
    )
    assert cfg is not None and cfg.host == "10.1.2.3" and cfg.port == 1502
    m = cfg.register_map()
    assert m.unit_id == 9
    assert (m.soc_percent.address, m.power_mw.address, m.temperature_c.address) == (3, 4, 7)


def test_disabled_means_no_modbus_source() -> None:
    assert modbus_config_from_env({"BESS_MODBUS_HOST": "10.1.2.3"}) is None


def test_a_non_number_or_colliding_register_is_refused() -> None:
    with pytest.raises(ConfigInvalid, match="BESS_MODBUS_SOC_REGISTER"):
        simple_map_from_env({"BESS_MODBUS_SOC_REGISTER": "zero"})
    with pytest.raises(ConfigInvalid, match="overlaps"):
        simple_map_from_env({"BESS_MODBUS_POWER_REGISTER": "0"})
