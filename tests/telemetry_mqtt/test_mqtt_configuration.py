"""The MQTT configuration: the spec's BESS_MQTT_* variables, masked secrets, refused nonsense."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from phoenyra.telemetry.model import ConfigInvalid
from phoenyra.telemetry.sources.mqtt import MqttConfig, mqtt_config_from_env


def test_the_spec_defaults_apply_without_any_variable():
    config = mqtt_config_from_env({})
    assert (config.enabled, config.broker, config.port) == (False, "localhost", 1883)
    assert config.topics() == ["bess/power", "bess/soc", "bess/temperature"]


def test_the_spec_variables_set_broker_port_and_topics():
    config = mqtt_config_from_env(
        {
            "BESS_MQTT_ENABLED": "true",
            "BESS_MQTT_BROKER": "mqtt.example",
            "BESS_MQTT_PORT": "8883",
            "BESS_MQTT_TOPIC_SOC": "site/soc",
            "BESS_MQTT_TOPIC_POWER": "site/p",
            "BESS_MQTT_TOPIC_TEMP": "site/t",
            "BESS_MQTT_QOS": "2",
            "BESS_POWER_MW": "5",
        }
    )
    assert config.enabled is True
    assert (config.broker, config.port, config.qos, config.rated_power_mw) == (
        "mqtt.example",
        8883,
        2,
        5.0,
    )
    assert (config.soc_percent.topic, config.power_mw.topic, config.temperature_c.topic) == (
        "site/soc",
        "site/p",
        "site/t",
    )


@pytest.mark.parametrize(
    "env",
    [{"BESS_MQTT_PORT": "abc"}, {"BESS_MQTT_PORT": "70000"}, {"BESS_MQTT_QOS": "3"}],
)
def test_a_bad_variable_is_a_config_error_naming_the_field(env):
    with pytest.raises(ConfigInvalid) as info:
        mqtt_config_from_env(env)
    assert ("port" in info.value.message) or ("qos" in info.value.message)


def test_the_password_is_masked_in_the_dump_and_in_repr():
    config = MqttConfig(username="bess", password="s3cret")
    assert config.masked()["password"] == "********"
    assert "s3cret" not in str(config.masked())
    assert "s3cret" not in repr(config)
    assert config.password.get_secret_value() == "s3cret"
    assert MqttConfig().masked()["password"] is None


@pytest.mark.parametrize(
    "bad",
    [
        {"soc_percent": {"topic": "site/+/soc"}},
        {"soc_percent": {"topic": "site/#"}},
        {"soc_percent": {"topic": ""}},
        {"soc_percent": {"topic": "s", "scale": 0}},
        {"soc_percent": {"topic": "s", "scale": float("nan")}},
        {"qos": 3},
        {"rated_power_mw": 0},
        {"tls": {"enabled": True, "key_file": "k.pem"}},
        {"unknown_option": 1},
    ],
)
def test_nonsense_is_refused_when_the_configuration_is_built(bad):
    with pytest.raises(ValidationError):
        MqttConfig.model_validate(bad)
