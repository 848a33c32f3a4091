"""Settings from the environment (the seed specification's variable names), one pydantic model."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .core.markets import MarketSpec, MarkSource, PriceRule, SelfTradePrevention, default_markets

DEV_API_KEY = "demo"
DEV_HMAC_SECRET = "dev-hmac-secret"
DEV_BESS_API_KEY = "demo-bess"
DEV_FEED_API_KEY = "demo-feed"
# The simulated counterparty of the development demo (phoenyra simulate-market).
DEV_COUNTERPARTY_API_KEY = "demo-counterparty"
DEMO_SECRETS = frozenset(
    {
        DEV_API_KEY,
        DEV_HMAC_SECRET,
        DEV_BESS_API_KEY,
        DEV_FEED_API_KEY,
        DEV_COUNTERPARTY_API_KEY,
        "",
        "...",
    }
)


class ConfigError(Exception):
    """A configuration that must not start; the message says what to change."""


SECRET_WORDS = ("SECRET", "PASSWORD", "KEY", "TOKEN")


def describe_invalid(
    exc: ValidationError, root: str = "", *, values: bool = True, limit: int | None = None
) -> str:
    """pydantic's errors on one line: ``where=value: reason; ...``.

    ``where`` is the field's path (``root`` when the error is about the whole input); the value
    is shown only with ``values``, only when it is a single value (a mapping or list may hold
    secrets under other names) and never for a field whose name says it holds a secret;
    pydantic's "Value error, " prefix and its documentation links are left out. With ``limit``,
    the first errors and how many more there are.
    """
    errors = exc.errors(include_url=False)
    shown = errors if limit is None else errors[:limit]
    parts = []
    for error in shown:
        where = ".".join(str(part) for part in error["loc"]) or root
        reason = str(error["msg"]).removeprefix("Value error, ")
        value = error.get("input")
        if (
            values
            and error["loc"]
            and not isinstance(value, dict | list | tuple)
            and not any(word in where.upper() for word in SECRET_WORDS)
        ):
            where = f"{where}={value!r}"
        parts.append(f"{where}: {reason}")
    more = len(errors) - len(shown)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


class MarketOverride(BaseModel):
    """One market's entry in PHOENYRA_MARKETS: ``MarketSpec`` fields, each typed (a whole
    number for the seconds, a known name for the rules) and bounded; the spec then checks the
    ones that depend on each other (min below max price, the horizon's upper limit)."""

    model_config = ConfigDict(extra="forbid")

    zone: str | None = None
    tick: float | None = Field(None, gt=0)
    lot: float | None = Field(None, gt=0)
    min_price: float | None = None
    max_price: float | None = None
    price_rule: PriceRule | None = None
    self_trade: SelfTradePrevention | None = None
    gate_closure_s: int | None = Field(None, ge=0)
    mark_source: MarkSource | None = None
    max_quantity: float | None = Field(None, gt=0)
    max_horizon_s: int | None = Field(None, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = Field(
        "production",
        validation_alias=AliasChoices("PHOENYRA_ENV"),
        description="development accepts the spec's demo secrets; other modes refuse them",
    )
    data_dir: Path = Field(Path("data"), validation_alias=AliasChoices("PHOENYRA_DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=AliasChoices("DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL"))
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = Field(
        "FULL",
        validation_alias=AliasChoices("PHOENYRA_SQLITE_SYNCHRONOUS"),
        description="FULL survives power loss; NORMAL (WAL) survives a process crash",
    )
    db_writer: Literal["auto", "process", "thread"] = Field(
        "auto",
        validation_alias=AliasChoices("PHOENYRA_DB_WRITER"),
        description="Who commits the order path's batches: auto is a child process on a SQLite "
        "file (Linux) and a thread on PostgreSQL",
    )

    # Exchange service
    exchange_host: str = Field("127.0.0.1", validation_alias=AliasChoices("EXCHANGE_HOST"))
    exchange_port: int = Field(9000, validation_alias=AliasChoices("EXCHANGE_PORT"))
    exchange_trust_proxy: bool = Field(
        False,
        validation_alias=AliasChoices("EXCHANGE_TRUST_PROXY"),
        description="behind a TLS-terminating proxy: take the client address and scheme from "
        "its X-Forwarded-For/-Proto headers (off: those headers are not even parsed)",
    )
    exchange_gateways: int = Field(
        0,
        ge=0,
        le=32,
        validation_alias=AliasChoices("EXCHANGE_GATEWAYS"),
        description="HTTP in this many gateway processes in front of the exchange core "
        "(0: the exchange process serves HTTP itself)",
    )
    api_key: str | None = Field(None, validation_alias=AliasChoices("API_KEY"))
    hmac_secret: str | None = Field(None, validation_alias=AliasChoices("HMAC_SECRET"))
    bess_api_key: str | None = Field(None, validation_alias=AliasChoices("BESS_API_KEY"))
    key_rotation_overlap_s: float = Field(
        86_400.0, validation_alias=AliasChoices("PHOENYRA_KEY_ROTATION_OVERLAP_S"), gt=0
    )
    # HTTPS for the exchange (and the web app, which reads the same names): PEM files.
    tls_cert_file: Path | None = Field(None, validation_alias=AliasChoices("TLS_CERT_FILE"))
    tls_key_file: Path | None = Field(None, validation_alias=AliasChoices("TLS_KEY_FILE"))
    exchange_ca_file: Path | None = Field(
        None,
        validation_alias=AliasChoices("EXCHANGE_CA_FILE"),
        description="CA certificate (PEM) the feed and the telemetry service verify an https "
        "exchange with; default the system's trust store",
    )
    access_log: bool = Field(
        False,
        validation_alias=AliasChoices("PHOENYRA_ACCESS_LOG"),
        description="one log line per HTTP request (with its request id); off by default "
        "because it costs the order path time",
    )
    ws_window_s: float = Field(30.0, validation_alias=AliasChoices("PHOENYRA_WS_WINDOW_S"), gt=0)
    max_body_bytes: int = Field(
        65_536, validation_alias=AliasChoices("PHOENYRA_MAX_BODY_BYTES"), ge=1024
    )
    throttle_rate: float = Field(
        50.0,
        validation_alias=AliasChoices("PHOENYRA_THROTTLE_RATE"),
        gt=0,
        description="orders per second per account and market",
    )
    throttle_burst: float = Field(
        100.0, validation_alias=AliasChoices("PHOENYRA_THROTTLE_BURST"), ge=1
    )
    markets_override: dict[str, MarketOverride] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("PHOENYRA_MARKETS"),
        description='per-market overrides as JSON, e.g. {"epex_at": {"price_rule": "maker"}}',
    )

    # The default battery (the telemetry service reports its state)
    bess_capacity_mwh: float = Field(2.0, validation_alias=AliasChoices("BESS_CAPACITY_MWH"), gt=0)
    bess_power_mw: float = Field(1.0, validation_alias=AliasChoices("BESS_POWER_MW"), gt=0)
    bess_rest_enabled: bool = Field(
        True,
        validation_alias=AliasChoices("BESS_REST_ENABLED"),
        description="readings pushed over REST are accepted (until a saved telemetry "
        "configuration says otherwise)",
    )
    # Round trip 0.95 × 0.95 ≈ 90 %, as the simulated battery and the optimiser assume.
    bess_charge_efficiency: float = Field(
        0.95,
        validation_alias=AliasChoices("BESS_CHARGE_EFFICIENCY"),
        gt=0,
        le=1,
        description="MWh stored per MWh bought (charged from the grid)",
    )
    bess_discharge_efficiency: float = Field(
        0.95,
        validation_alias=AliasChoices("BESS_DISCHARGE_EFFICIENCY"),
        gt=0,
        le=1,
        description="MWh sold (delivered to the grid) per MWh taken from the battery",
    )
    bess_soc_min: float = Field(15.0, validation_alias=AliasChoices("BESS_SOC_MIN"), ge=0, le=100)
    bess_soc_max: float = Field(90.0, validation_alias=AliasChoices("BESS_SOC_MAX"), ge=0, le=100)
    bess_update_interval: float = Field(
        30.0, validation_alias=AliasChoices("BESS_UPDATE_INTERVAL"), gt=0
    )

    telemetry_port: int = Field(
        9102,
        validation_alias=AliasChoices("BESS_TELEMETRY_PORT"),
        description="the telemetry service's /healthz, /readyz and /metrics",
    )

    # Market feed (``phoenyra market-feed``)
    market: str = Field("epex_at", validation_alias=AliasChoices("MARKET"))
    market_source: str | None = Field(
        None,
        validation_alias=AliasChoices("MARKET_SOURCE"),
        description="entsoe, awattar, synthetic or csv:PATH; default entsoe with a token, "
        "else awattar",
    )
    update_interval: float = Field(300.0, validation_alias=AliasChoices("UPDATE_INTERVAL"), gt=0)
    exchange_url: str = Field(
        "http://127.0.0.1:9000", validation_alias=AliasChoices("EXCHANGE_URL")
    )
    feed_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("FEED_API_KEY"),
        description="key of the feed role that may push prices to the exchange",
    )
    counterparty_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("COUNTERPARTY_API_KEY"),
        description="key of the simulated counterparty (a trader not linked to a battery); "
        "development has one by default",
    )
    feed_port: int = Field(
        9101,
        validation_alias=AliasChoices("MARKET_FEED_PORT"),
        description="the feed's /healthz, /readyz and /metrics",
    )
    entso_e_token: str | None = Field(None, validation_alias=AliasChoices("ENTSO_E_TOKEN"))
    entso_e_base_url: str = Field(
        "https://web-api.tp.entsoe.eu/api", validation_alias=AliasChoices("ENTSO_E_BASE_URL")
    )
    awattar_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("AWATTAR_BASE_URL"),
        description="default https://api.awattar.at (AT) and https://api.awattar.de (DE-LU)",
    )
    market_stale_s: float = Field(
        900.0,
        validation_alias=AliasChoices("PHOENYRA_MARKET_STALE_S"),
        gt=0,
        description="market data older than this (no push from the feed) is shown as stale",
    )

    @field_validator("tls_cert_file", "tls_key_file", "exchange_ca_file", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, v):
        # Path("") would be the current directory; compose passes unset variables as "".
        return None if v == "" else v

    @field_validator("bess_soc_max")
    @classmethod
    def _soc_order(cls, v: float, info) -> float:
        lo = info.data.get("bess_soc_min", 0.0)
        if v <= lo:
            raise ValueError(f"BESS_SOC_MAX ({v}) must be above BESS_SOC_MIN ({lo})")
        return v

    # -- derived --------------------------------------------------------------------------
    @property
    def is_dev(self) -> bool:
        return self.env == "development"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'exchange.db').resolve()}"

    @property
    def effective_api_key(self) -> str | None:
        return self.api_key or (DEV_API_KEY if self.is_dev else None)

    @property
    def effective_hmac_secret(self) -> str | None:
        return self.hmac_secret or (DEV_HMAC_SECRET if self.is_dev else None)

    @property
    def effective_bess_api_key(self) -> str | None:
        return self.bess_api_key or (DEV_BESS_API_KEY if self.is_dev else None)

    @property
    def effective_feed_api_key(self) -> str | None:
        return self.feed_api_key or (DEV_FEED_API_KEY if self.is_dev else None)

    @property
    def effective_counterparty_api_key(self) -> str | None:
        return self.counterparty_api_key or (DEV_COUNTERPARTY_API_KEY if self.is_dev else None)

    @property
    def bess_status_max_age_s(self) -> float:
        """How old a battery's latest reading may be before the battery counts as offline (its
        orders refused): three update intervals."""
        return 3 * self.bess_update_interval

    @property
    def effective_market_source(self) -> str:
        if self.market_source:
            return self.market_source
        return "entsoe" if self.entso_e_token else "awattar"

    @cached_property
    def markets(self) -> dict[str, MarketSpec]:
        unknown = set(self.markets_override) - set(default_markets())
        if unknown:
            raise ConfigError(f"PHOENYRA_MARKETS names unknown markets: {sorted(unknown)}")
        try:
            return default_markets(
                **{
                    name: override.model_dump(exclude_none=True)
                    for name, override in self.markets_override.items()
                }
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"PHOENYRA_MARKETS is invalid: {exc}") from exc

    def check_secrets(self) -> None:
        """Outside development, demo or missing secrets make the service refuse to start."""
        if self.is_dev:
            return
        problems = []
        if not self.hmac_secret or self.hmac_secret in DEMO_SECRETS or len(self.hmac_secret) < 16:
            problems.append("HMAC_SECRET must be set to a secret of at least 16 characters")
        for name, value in (
            ("API_KEY", self.api_key),
            ("BESS_API_KEY", self.bess_api_key),
            ("FEED_API_KEY", self.feed_api_key),
            ("COUNTERPARTY_API_KEY", self.counterparty_api_key),
        ):
            if value is not None and (value in DEMO_SECRETS or len(value) < 16):
                problems.append(f"{name} is a demo or short key; use at least 16 random characters")
        if problems:
            raise ConfigError(
                "refusing to start outside development mode with demo secrets: "
                + "; ".join(problems)
                + ". Set PHOENYRA_ENV=development for a local demo."
            )
