"""describe_invalid: the one-line form of a pydantic refusal that every service prints."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from phoenyra.config import describe_invalid


class Broker(BaseModel):
    host: str
    port: int = Field(gt=0, lt=65536)
    password: str = Field(min_length=8)
    api_key: str = Field(min_length=8)


class Config(BaseModel):
    broker: Broker
    interval_s: float = Field(gt=0)


def refusal(data) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Config.model_validate(data)
    return caught.value


def test_each_error_is_named_by_its_path_and_value_and_pydantics_reason():
    exc = refusal(
        {
            "broker": {"host": "b", "port": 70000, "password": "x" * 8, "api_key": "k" * 8},
            "interval_s": -1,
        }
    )
    assert describe_invalid(exc) == (
        "broker.port=70000: Input should be less than 65536; "
        "interval_s=-1: Input should be greater than 0"
    )


def test_the_value_of_a_secret_never_appears():
    exc = refusal(
        {
            "broker": {"host": "b", "port": 1, "password": "hunter2", "api_key": "sk-1"},
            "interval_s": 1,
        }
    )
    text = describe_invalid(exc)
    assert "hunter2" not in text and "sk-1" not in text
    assert "broker.password: String should have at least 8 characters" in text
    assert "broker.api_key: String should have at least 8 characters" in text


def test_a_whole_input_or_a_nested_mapping_is_never_printed():
    # Such an input may hold secrets under names that do not say so.
    exc = refusal(
        {
            "broker": {"host": "b", "port": 1, "password": "p" * 8, "api_key": "k" * 8},
            "interval_s": {"every": "hunter2"},
        }
    )
    assert describe_invalid(exc) == "interval_s: Input should be a valid number"
    whole = refusal(["hunter2"])
    assert describe_invalid(whole, "config") == (
        "config: Input should be a valid dictionary or instance of Config"
    )


def test_without_values_the_root_names_whole_input_errors_and_limit_counts_the_rest():
    assert describe_invalid(refusal("not a mapping"), "config", values=False) == (
        "config: Input should be a valid dictionary or instance of Config"
    )
    exc = refusal({"broker": {}, "interval_s": "soon"})
    assert exc.error_count() == 5
    assert describe_invalid(exc, values=False, limit=2) == (
        "broker.host: Field required; broker.port: Field required (+3 more)"
    )


def test_value_error_prefix_and_documentation_links_are_left_out():
    class Window(BaseModel):
        start: int
        end: int

        def model_post_init(self, _context) -> None:
            if self.end <= self.start:
                raise ValueError("end must be after start")

    with pytest.raises(ValidationError) as caught:
        Window(start=2, end=1)
    text = describe_invalid(caught.value)
    assert text.endswith(": end must be after start")
    assert "Value error" not in text and "errors.pydantic.dev" not in text
