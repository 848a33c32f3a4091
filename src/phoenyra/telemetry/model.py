"""What every telemetry source produces, and the typed errors a connection test reports.

Units and signs (DESIGN.md): SoC percent 0–100, power MW (+ discharging / − charging),
temperature °C; times epoch seconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field, ValidationError

from ..config import describe_invalid


@dataclass(frozen=True, slots=True)
class Reading:
    battery_id: str
    soc_percent: float
    power_mw: float
    temperature_c: float | None  # None: the device reports no temperature
    at: float  # epoch seconds when the values were read
    source: str  # "modbus", "mqtt", "rest"
    extra: dict[str, float | str] = field(default_factory=dict)  # status, capacity, ...

    def to_wire(self) -> dict:
        """The body of POST /api/bess/telemetry."""
        from datetime import UTC, datetime

        return {
            "battery_id": self.battery_id,
            "soc_percent": self.soc_percent,
            "power_mw": self.power_mw,
            "temperature_c": self.temperature_c,
            "timestamp": datetime.fromtimestamp(self.at, tz=UTC).isoformat(),
            "source": self.source,
        }


class TelemetryError(Exception):
    """A source could not deliver a valid reading. ``kind`` names the failure for the connection
    test and metrics; ``message`` says what went wrong and what to check."""

    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionRefused(TelemetryError):
    kind = "refused"


class Timeout(TelemetryError):
    kind = "timeout"


class IllegalAddress(TelemetryError):
    """Modbus exception 2 (illegal data address) or 3 (illegal data value)."""

    kind = "illegal_address"


class WrongUnitId(TelemetryError):
    """No answer from that unit id (Modbus gateway exceptions 10/11, or silence from a device
    that serves only other unit ids)."""

    kind = "wrong_unit_id"


class BadPayload(TelemetryError):
    """A value that is not a number, NaN or infinite, or cannot be decoded."""

    kind = "bad_payload"


class OutOfRange(TelemetryError):
    """A number outside what a battery can physically report."""

    kind = "out_of_range"


class ConfigInvalid(TelemetryError):
    kind = "config_invalid"


def validated(model: type, data: object, what: str):
    """``data`` as a ``model`` instance (returned as is when it already is one), or ConfigInvalid
    naming every wrong field: "<what> invalid: modbus.port: ...; interval_s: ..."."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigInvalid(
            f"{what} invalid: {describe_invalid(exc, 'config', values=False)}"
        ) from None


# A device's or broker's address: a host name, an IPv4 or an IPv6 address (no spaces, no
# scheme or path); anything else could never connect and would only fail once applied.
Host = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        pattern=r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.\-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$",
        description="host name or IP address",
    ),
]
