"""Tesla Powerwall over its local HTTPS API (the Powerwall has no public Modbus interface).

The gateway serves an undocumented JSON API on HTTPS with a self-signed certificate; the paths
and fields are data in the ``tesla-powerwall`` preset. Login (``/api/login/Basic``) returns a
token and cookies; an expired session answers 401/403 and is renewed once per read. The API
reports no battery temperature: readings carry ``temperature_c = None`` and say so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..model import (
    BadPayload,
    ConnectionRefused,
    Reading,
    TelemetryError,
    Timeout,
    validated,
)
from ..validation import check_reading, number

SOURCE_NAME = "https"


class TeslaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, description="the gateway's address")
    port: int = Field(443, ge=1, le=65535)
    password: SecretStr | None = Field(None, description="the gateway's customer password")
    email: str = ""
    verify_tls: bool = Field(False, description="the gateway's certificate is self-signed")
    battery_id: str = "default"
    rated_power_mw: float = Field(1.0, gt=0)
    timeout_s: float = Field(5.0, gt=0, le=60)

    def masked(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        out["password"] = "********" if self.password else None
        return out


def _walk(doc: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(doc, dict) or key not in doc:
            raise BadPayload(f"the answer has no {dotted!r}")
        doc = doc[key]
    return doc


class TeslaSource:
    """A polled source (``telemetry.runner.Poller``)."""

    def __init__(self, config: TeslaConfig | Mapping[str, Any]) -> None:
        from ..presets import load_preset

        self.config = validated(TeslaConfig, config, "Tesla Powerwall configuration")
        api = load_preset("tesla-powerwall").https or {}
        self.login_path: str = api["login"]
        self.soc: dict[str, Any] = api["soc_percent"]
        self.power: dict[str, Any] = api["power_mw"]
        c = self.config
        self.name = f"tesla:{c.host}:{c.port}"
        self._client = httpx.AsyncClient(
            base_url=f"https://{c.host}:{c.port}", verify=c.verify_tls, timeout=c.timeout_s
        )
        self._logged_in = False

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return await self._client.request(method, path, **kw)
        except httpx.TimeoutException:
            raise Timeout(
                f"the Powerwall at {self.config.host} did not answer within "
                f"{self.config.timeout_s:g} s"
            ) from None
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise ConnectionRefused(
                    f"the Powerwall's TLS certificate is not trusted ({exc}); its certificate is "
                    "self-signed: set verify_tls false, or install it"
                ) from None
            raise ConnectionRefused(
                f"cannot connect to the Powerwall at {self.config.host}:{self.config.port} "
                f"({exc or type(exc).__name__})"
            ) from None
        except httpx.HTTPError as exc:
            raise TelemetryError(f"the Powerwall request failed: {exc}") from None

    async def _login(self) -> None:
        pw = self.config.password
        body = {
            "username": "customer",
            "password": pw.get_secret_value() if pw else "",
            "email": self.config.email,
        }
        r = await self._request("POST", self.login_path, json=body)
        if r.status_code in (401, 403):
            raise ConnectionRefused("the Powerwall refused the credentials (check the password)")
        if r.status_code >= 400:
            raise TelemetryError(f"the Powerwall login failed: HTTP {r.status_code}")
        try:
            token = r.json().get("token")
        except ValueError:
            token = None
        if token:  # newer firmware answers with a bearer token besides its cookies
            self._client.headers["Authorization"] = f"Bearer {token}"
        self._logged_in = True

    async def _json(self, path: str) -> Any:
        if not self._logged_in:
            await self._login()
        r = await self._request("GET", path)
        if r.status_code in (401, 403):  # the session expired: log in again, once
            await self._login()
            r = await self._request("GET", path)
        if r.status_code >= 400:
            raise TelemetryError(f"the Powerwall answered HTTP {r.status_code} for {path}")
        try:
            return r.json()
        except ValueError:
            raise BadPayload(f"{path}: the answer is not JSON: {r.text[:60]!r}") from None

    async def read(self) -> Reading:
        soc = number("soc_percent", _walk(await self._json(self.soc["path"]), self.soc["json"]))
        raw = _walk(await self._json(self.power["path"]), self.power["json"])
        power = number("power_mw", raw) * float(self.power.get("scale", 1.0))
        check_reading(soc, power, None, self.config.rated_power_mw)
        return Reading(
            battery_id=self.config.battery_id,
            soc_percent=soc,
            power_mw=power,
            temperature_c=None,
            at=time.time(),
            source=SOURCE_NAME,
            extra={"device": "tesla-powerwall"},
        )


async def test_connection(config: TeslaConfig | Mapping[str, Any]) -> dict[str, Any]:
    """Log in, read once and report the values and the latency; or raise the typed error."""
    source = TeslaSource(config)
    started = time.perf_counter()
    try:
        reading = await source.read()
    finally:
        await source.close()
    return {
        "ok": True,
        "transport": "https",
        "host": source.config.host,
        "values": {
            "soc_percent": reading.soc_percent,
            "power_mw": reading.power_mw,
            "temperature_c": None,
        },
        "note": "the Powerwall's local API reports no temperature",
        "latency_ms": round((time.perf_counter() - started) * 1000.0, 2),
    }


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
