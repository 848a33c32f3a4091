"""The web app's settings from the environment (the seed's names plus WEBAPP_*)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ..config import DEMO_SECRETS, DEV_API_KEY, DEV_HMAC_SECRET, ConfigError, describe_invalid
from .hosts import parse_allowed_hosts


def _alias(name: str) -> Any:
    return AliasChoices(name)


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = Field(
        "production", validation_alias=_alias("PHOENYRA_ENV")
    )
    data_dir: Path = Field(Path("data"), validation_alias=_alias("PHOENYRA_DATA_DIR"))
    exchange_base_url: str = Field(
        "http://127.0.0.1:9000", validation_alias=_alias("EXCHANGE_BASE_URL")
    )
    # The exchange's address as devices reach it, shown on the telemetry page for REST pushes
    # (default: EXCHANGE_BASE_URL; set it when that is an internal name, e.g. behind a proxy).
    exchange_public_url: str | None = Field(
        None, validation_alias=_alias("WEBAPP_EXCHANGE_PUBLIC_URL")
    )
    api_key: str | None = Field(None, validation_alias=_alias("API_KEY"))
    market: str = Field("epex_at", validation_alias=_alias("MARKET"), description="shown first")
    hmac_secret: str | None = Field(None, validation_alias=_alias("HMAC_SECRET"))
    # The exchange's key id for API_KEY in the WebSocket signature ("api" for API_KEY).
    ws_key_id: str = Field("api", validation_alias=_alias("WEBAPP_WS_KEY_ID"))
    flask_env: str | None = Field(None, validation_alias=_alias("FLASK_ENV"))
    flask_debug: bool = Field(False, validation_alias=_alias("FLASK_DEBUG"))
    redis_url: str | None = Field(None, validation_alias=_alias("REDIS_URL"))
    # Keys in Redis (sessions, the Socket.IO channel, the relay lock) start with this, so
    # several deployments (or a test run) can share one Redis.
    redis_prefix: str = Field("phoenyra:webapp:", validation_alias=_alias("WEBAPP_REDIS_PREFIX"))
    secret_key: str | None = Field(None, validation_alias=_alias("WEBAPP_SECRET_KEY"))
    admin_user: str = Field("admin", validation_alias=_alias("WEBAPP_ADMIN_USER"))
    admin_password: str | None = Field(None, validation_alias=_alias("WEBAPP_ADMIN_PASSWORD"))
    host: str = Field("127.0.0.1", validation_alias=_alias("WEBAPP_HOST"))
    port: int = Field(5000, validation_alias=_alias("WEBAPP_PORT"))
    exchange_timeout_s: float = Field(
        5.0, validation_alias=_alias("WEBAPP_EXCHANGE_TIMEOUT_S"), gt=0
    )
    trust_proxy: bool = Field(
        False,
        validation_alias=_alias("WEBAPP_TRUST_PROXY"),
        description="behind a TLS-terminating proxy: honour X-Forwarded-For/-Proto (and HSTS)",
    )
    secure_cookies: bool = Field(False, validation_alias=_alias("WEBAPP_SECURE_COOKIES"))
    # HTTPS for the web app itself (the exchange reads the same names) and the CA that signed
    # an https exchange's certificate (default: the system's trust store).
    tls_cert_file: Path | None = Field(None, validation_alias=_alias("TLS_CERT_FILE"))
    tls_key_file: Path | None = Field(None, validation_alias=_alias("TLS_KEY_FILE"))
    exchange_ca_file: Path | None = Field(None, validation_alias=_alias("EXCHANGE_CA_FILE"))
    # Host names the web app answers to besides localhost, 127.0.0.1, [::1] and the address it
    # listens on (hosts.py): comma-separated, ".example.com" for a domain and its subdomains.
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=_alias("WEBAPP_ALLOWED_HOSTS")
    )
    # Failed sign-ins allowed per user name and per client address within the window before
    # further attempts are refused with 429 (signin_limit.py).
    signin_max_failures_per_user: int = Field(
        5, validation_alias=_alias("WEBAPP_SIGNIN_MAX_FAILURES_PER_USER"), ge=1, le=1000
    )
    signin_max_failures_per_address: int = Field(
        20, validation_alias=_alias("WEBAPP_SIGNIN_MAX_FAILURES_PER_ADDRESS"), ge=1, le=100_000
    )
    signin_failure_window_s: int = Field(
        900, validation_alias=_alias("WEBAPP_SIGNIN_FAILURE_WINDOW_S"), ge=1, le=86_400
    )

    @field_validator("tls_cert_file", "tls_key_file", "exchange_ca_file", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, v):
        # Path("") would be the current directory; compose passes unset variables as "".
        return None if v == "" else v

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _parse_allowed_hosts(cls, v):
        return parse_allowed_hosts(v)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> WebSettings:
        """Settings from the environment, with ``values`` (env-var names) taking precedence."""
        return cls(**dict(values or {}))

    @classmethod
    def load(cls, values: Mapping[str, Any] | None = None) -> WebSettings:
        """``from_mapping``, with a bad value raised as ConfigError naming the variable."""
        try:
            return cls.from_mapping(values)
        except ValidationError as exc:
            raise ConfigError(f"invalid web app setting: {describe_invalid(exc)}") from None

    @property
    def device_exchange_url(self) -> str:
        """Where a device pushes its readings (the exchange; the web app takes none)."""
        return (self.exchange_public_url or self.exchange_base_url).rstrip("/")

    @property
    def is_dev(self) -> bool:
        # Only PHOENYRA_ENV unlocks the demo secrets; FLASK_ENV/FLASK_DEBUG only turn on debugging.
        return self.env == "development"

    @property
    def debug(self) -> bool:
        return self.flask_debug or (self.flask_env or "") == "development"

    @property
    def effective_api_key(self) -> str | None:
        return self.api_key or (DEV_API_KEY if self.is_dev else None)

    @property
    def effective_hmac_secret(self) -> str | None:
        return self.hmac_secret or (DEV_HMAC_SECRET if self.is_dev else None)

    @property
    def login_disabled(self) -> bool:
        """Local development without an admin password skips sign-in (everyone is admin)."""
        return self.is_dev and not self.admin_password

    @property
    def secret_key_is_weak(self) -> bool:
        return not self.secret_key or self.secret_key in DEMO_SECRETS or len(self.secret_key) < 32

    @property
    def users_db(self) -> Path:
        return self.data_dir / "webapp-users.db"

    @property
    def sessions_dir(self) -> Path:
        """The session files without Redis (sessions.py)."""
        return self.data_dir / "webapp-sessions"
