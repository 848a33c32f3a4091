"""The source registers as "entsoe", is real (not simulated), is built from the settings and
refuses to start without a token."""

from __future__ import annotations

import pytest

from phoenyra.config import ConfigError, Settings
from phoenyra.feed.sources import make_source, source_class, source_names


def test_registered_under_its_name_and_not_simulated():
    assert "entsoe" in source_names()
    cls = source_class("entsoe")
    assert cls.name == "entsoe" and cls.simulated is False


def test_built_from_the_settings_token_and_base_url():
    settings = Settings(entso_e_token="abc", entso_e_base_url="http://127.0.0.1:1/api")
    source = make_source("entsoe", settings)
    assert (source.token, source.base_url, source.sequence) == ("abc", "http://127.0.0.1:1/api", 1)
    assert source.http.min_interval == 1.0


def test_sequence_is_an_option_of_from_settings():
    settings = Settings(entso_e_token="abc")
    assert source_class("entsoe").from_settings(settings, sequence=2).sequence == 2


def test_missing_token_is_a_configuration_error():
    with pytest.raises(ConfigError, match="ENTSO_E_TOKEN"):
        make_source("entsoe", Settings(entso_e_token=None))


@pytest.mark.parametrize("options", [{"sequence": 0}, {"max_span": 400 * 86_400}, {"max_span": 60}])
def test_impossible_options_are_configuration_errors(options):
    with pytest.raises(ConfigError):
        source_class("entsoe").from_settings(Settings(entso_e_token="abc"), **options)
