"""MQTT telemetry source: one topic per field, payload a plain number or JSON with a path.

Use::

    source = MqttSource(config, on_reading=callback)   # callback(Reading), sync or async
    await source.run()                                   # runs until cancelled, reconnecting

or ``async for reading in MqttSource(config).readings(): ...``. ``source.counters`` counts
messages, applied messages, emitted readings and refusals by kind (``bad_payload``,
``out_of_range``).

``await test_connection(config)`` is the live connection test of the configuration API.

Rules:
- A message updates the field(s) mapped to its topic (several fields may share one JSON topic);
  once SoC, power and temperature all have a value, every applied message emits a Reading with
  the latest values.
- A payload that is not a finite number (or whose JSON lacks the path) is refused as
  ``bad_payload``; a value a battery cannot report (``check_reading``) as ``out_of_range``. A
  refused message changes nothing, is counted, and is logged once per streak per topic.
- Retained messages are taken on every (re)connect: the broker's last known state is the best
  starting point. When the broker goes away the source reconnects with exponential backoff and
  jitter and subscribes again.

JSON path syntax (deliberately small, no JSONPath library needed): an optional leading ``$``,
then keys separated by ``.`` and list indexes in brackets: ``data.soc``, ``$.values[0]``,
``battery[1].state.soc``. Keys cannot contain ``.`` or ``[``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import re
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiomqtt
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from ..model import (
    BadPayload,
    ConfigInvalid,
    ConnectionRefused,
    Host,
    OutOfRange,
    Reading,
    TelemetryError,
    Timeout,
    validated,
)
from ..validation import check_reading, number, setpoint

log = logging.getLogger(__name__)

SOURCE_NAME = "mqtt"
REQUIRED_FIELDS = ("soc_percent", "power_mw", "temperature_c")
# Stand-ins used to range-check one field before the others have arrived: check_reading checks
# every field independently, so plausible values for the missing ones never mask an error.
_PLACEHOLDER = {"soc_percent": 50.0, "power_mw": 0.0, "temperature_c": 20.0}
_PAYLOAD_PREVIEW = 60  # characters of a refused payload quoted in errors and logs
# A setpoint goes over the subscribed connection when there is one; when that does not take it
# within LIVE_PUBLISH_S (it is closing) it goes over a connection of its own.
LIVE_PUBLISH_S = 1.5
OWN_PUBLISH_S = 3.0

PathStep = str | int
_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def parse_json_path(path: str) -> tuple[PathStep, ...]:
    """``"$.values[0]"`` → ``("values", 0)``; ValueError when the text is not a valid path."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[PathStep] = []
    pos = 0
    while pos < len(text):
        m = _PATH_TOKEN.match(text, pos)
        # A key must follow a dot except at the very start ("data.soc", not "data..soc").
        if m is None or (m.group(1) is not None and pos > 0 and text[pos] != "."):
            raise ValueError(f"invalid JSON path {path!r} at position {pos}")
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not steps:
        raise ValueError(f"JSON path {path!r} selects nothing")
    return tuple(steps)


def _walk(doc: Any, steps: tuple[PathStep, ...], path: str) -> Any:
    here = "$"
    for step in steps:
        if isinstance(step, int):
            if not isinstance(doc, list):
                raise BadPayload(f"path {path}: expected an array at {here}, got {_kind(doc)}")
            if step >= len(doc):
                raise BadPayload(f"path {path}: {here} has no index {step}")
            doc = doc[step]
            here += f"[{step}]"
        else:
            if not isinstance(doc, dict):
                raise BadPayload(f"path {path}: expected an object at {here}, got {_kind(doc)}")
            if step not in doc:
                raise BadPayload(f"path {path}: key {step!r} missing at {here}")
            doc = doc[step]
            here += f".{step}"
    return doc


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _preview(payload: bytes) -> str:
    text = payload.decode(errors="replace")
    return text if len(text) <= _PAYLOAD_PREVIEW else text[:_PAYLOAD_PREVIEW] + "…"


class TopicMapping(BaseModel):
    """Where one field comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(min_length=1, max_length=1024)
    json_path: str | None = Field(None, description='e.g. "data.soc" or "$.values[0]"')
    # Multiplied in after parsing: W → MW is 1e-6, a 0–1 fraction → percent is 100.
    scale: float = Field(1.0, allow_inf_nan=False)

    @field_validator("topic")
    @classmethod
    def _concrete_topic(cls, v: str) -> str:
        # A wildcard would mix several devices' values into one battery.
        if "+" in v or "#" in v:
            raise ValueError("topic must not contain MQTT wildcards (+ or #)")
        return v

    @field_validator("json_path")
    @classmethod
    def _valid_path(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        parse_json_path(v)
        return v.strip()

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("scale must not be 0")
        return v

    @property
    def steps(self) -> tuple[PathStep, ...] | None:
        return parse_json_path(self.json_path) if self.json_path else None


class SetpointMapping(TopicMapping):
    """Where dispatch publishes the power the battery is to run at (MW, + discharging, times
    ``scale``): a plain number, or JSON with the value at ``json_path`` (keys only)."""

    # Retained: a device that reconnects finds its last command. Off by default: a retained
    # command outlives the service that sent it.
    retain: bool = False

    @field_validator("json_path")
    @classmethod
    def _keys_only(cls, v: str | None) -> str | None:
        if v is not None and any(isinstance(step, int) for step in parse_json_path(v)):
            raise ValueError("a setpoint's json_path takes keys only, such as cmd.power_kw")
        return v

    def payload(self, power_mw: float) -> bytes:
        value = power_mw * self.scale + 0.0  # + 0.0: never "-0"
        steps = self.steps
        if steps is None:
            return f"{value:.10g}".encode()
        doc: Any = value
        for key in reversed(steps):
            doc = {key: doc}
        return orjson.dumps(doc)


class TlsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    ca_file: str | None = None  # None: the system's trusted CAs
    cert_file: str | None = None
    key_file: str | None = None
    # Skips certificate and host name checks: only for a lab broker with a self-signed cert.
    insecure: bool = False

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TlsConfig:
        if self.key_file and not self.cert_file:
            raise ValueError("tls.key_file given without tls.cert_file")
        return self


class MqttConfig(BaseModel):
    """One battery read over MQTT."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    broker: Host = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = None  # None: a random id, so two instances never kick each other
    username: str | None = None
    password: SecretStr | None = None
    tls: TlsConfig = TlsConfig()
    keepalive: int = Field(60, ge=5, le=65535)
    qos: Literal[0, 1, 2] = 1
    battery_id: str = Field("default", min_length=1)
    rated_power_mw: float = Field(1.0, gt=0, allow_inf_nan=False)
    soc_percent: TopicMapping = TopicMapping(topic="bess/soc")
    power_mw: TopicMapping = TopicMapping(topic="bess/power")
    temperature_c: TopicMapping = TopicMapping(topic="bess/temperature")
    status: TopicMapping | None = None
    setpoint_mw: SetpointMapping | None = Field(
        None, description="where dispatch publishes the power to run at (MW, + discharging)"
    )
    dispatch: bool = Field(
        False,
        description="publish the power the battery's trades ask for (the exchange's dispatch "
        "plan) to the setpoint topic",
    )
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)

    @model_validator(mode="after")
    def _backoff_order(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self

    @model_validator(mode="after")
    def _setpoint_usable(self) -> MqttConfig:
        if not self.enabled:
            return self  # not run: a half-made setting may wait switched off
        if self.dispatch and self.setpoint_mw is None:
            raise ValueError(
                "dispatch is on, but no setpoint topic (setpoint_mw; in the environment "
                "BESS_MQTT_TOPIC_SETPOINT) is mapped to publish the traded power to: map one, or "
                "switch dispatch off"
            )
        if self.setpoint_mw is not None and self.setpoint_mw.topic in self.topics():
            raise ValueError(
                f"the setpoint topic {self.setpoint_mw.topic} is also read as a value: the "
                "service would read its own commands back; give the setpoint a topic of its own"
            )
        return self

    def mappings(self) -> dict[str, TopicMapping]:
        out = {f: getattr(self, f) for f in REQUIRED_FIELDS}
        if self.status is not None:
            out["status"] = self.status
        return out

    def topics(self) -> list[str]:
        return sorted({m.topic for m in self.mappings().values()})

    def masked(self) -> dict[str, Any]:
        """A JSON-ready dump with the password replaced (for GET /api/config/load and logs)."""
        out = self.model_dump(mode="json")
        out["password"] = "********" if self.password else None
        return out


def mqtt_config_from_env(environ: Mapping[str, str]) -> MqttConfig:
    """The spec's BESS_MQTT_* variables (plus the optional extras below) as an MqttConfig.

    Spec: BESS_MQTT_ENABLED, BESS_MQTT_BROKER, BESS_MQTT_PORT, BESS_MQTT_TOPIC_SOC,
    BESS_MQTT_TOPIC_POWER, BESS_MQTT_TOPIC_TEMP. Extras: BESS_MQTT_USERNAME,
    BESS_MQTT_PASSWORD, BESS_MQTT_CLIENT_ID, BESS_MQTT_QOS, BESS_MQTT_TLS, BESS_MQTT_CA_FILE,
    BESS_MQTT_TOPIC_STATUS, BESS_MQTT_BATTERY_ID, BESS_MQTT_TOPIC_SETPOINT and BESS_MQTT_DISPATCH
    (dispatch); rated power from BESS_POWER_MW.
    Raises ConfigInvalid naming the bad variable's field.
    """

    def get(name: str) -> str | None:
        value = environ.get(name)
        return value if value not in (None, "") else None

    data: dict[str, Any] = {}
    for key, var in (
        ("enabled", "BESS_MQTT_ENABLED"),
        ("broker", "BESS_MQTT_BROKER"),
        ("port", "BESS_MQTT_PORT"),
        ("client_id", "BESS_MQTT_CLIENT_ID"),
        ("username", "BESS_MQTT_USERNAME"),
        ("password", "BESS_MQTT_PASSWORD"),
        ("qos", "BESS_MQTT_QOS"),
        ("battery_id", "BESS_MQTT_BATTERY_ID"),
        ("rated_power_mw", "BESS_POWER_MW"),
    ):
        if (value := get(var)) is not None:
            data[key] = value
    if "qos" in data:
        data["qos"] = int(data["qos"]) if data["qos"].isdigit() else data["qos"]
    for key, var in (
        ("soc_percent", "BESS_MQTT_TOPIC_SOC"),
        ("power_mw", "BESS_MQTT_TOPIC_POWER"),
        ("temperature_c", "BESS_MQTT_TOPIC_TEMP"),
        ("status", "BESS_MQTT_TOPIC_STATUS"),
        ("setpoint_mw", "BESS_MQTT_TOPIC_SETPOINT"),
    ):
        if (value := get(var)) is not None:
            data[key] = {"topic": value}
    if (value := get("BESS_MQTT_DISPATCH")) is not None:
        data["dispatch"] = value
    tls_on, ca = get("BESS_MQTT_TLS"), get("BESS_MQTT_CA_FILE")
    if tls_on is not None or ca is not None:
        data["tls"] = {"enabled": tls_on or "true", "ca_file": ca}
    return load_config(data)


def load_config(config: MqttConfig | Mapping[str, Any]) -> MqttConfig:
    """An MqttConfig from a model or a mapping (the config API's JSON); ConfigInvalid if bad."""
    return validated(MqttConfig, config, "MQTT configuration")


def tls_context(tls: TlsConfig) -> ssl.SSLContext | None:
    """The TLS context for the broker, or None without TLS; ConfigInvalid for unusable files."""
    if not tls.enabled:
        return None
    for what, name in (("CA", tls.ca_file), ("cert", tls.cert_file), ("key", tls.key_file)):
        if name and not Path(name).is_file():
            raise ConfigInvalid(f"TLS {what} file {name} does not exist")
    try:
        ctx = ssl.create_default_context(cafile=tls.ca_file)
        if tls.cert_file:
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigInvalid(f"TLS files unusable: {exc}") from None
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _client(config: MqttConfig, timeout: float | None = None) -> aiomqtt.Client:
    return aiomqtt.Client(
        config.broker,
        config.port,
        username=config.username,
        password=config.password.get_secret_value() if config.password else None,
        identifier=config.client_id or f"phoenyra-{config.battery_id}-{uuid.uuid4().hex[:8]}",
        keepalive=config.keepalive,
        # A clean session: a backlog queued while we were away is history, not live state;
        # the retained message gives the current value.
        clean_session=True,
        tls_context=tls_context(config.tls),
        timeout=timeout,
    )


def _connect_error(config: MqttConfig, exc: aiomqtt.MqttError) -> TelemetryError:
    where = f"{config.broker}:{config.port}"
    if isinstance(exc, aiomqtt.MqttCodeError):
        rc = exc.rc
        value = getattr(rc, "value", rc)
        if value in (4, 5, 134, 135) or "authori" in str(exc).lower():
            return ConnectionRefused(
                f"broker {where} refused the credentials (user {config.username!r}): {exc}"
            )
        return ConnectionRefused(f"broker {where} refused the connection: {exc}")
    if "timed out" in str(exc).lower():
        return Timeout(f"no answer from broker {where}: {exc}")
    return ConnectionRefused(f"cannot connect to broker {where}: {exc}")


class _Decoder:
    """Turns the payload of one topic into field values (pure, no I/O)."""

    def __init__(self, topic: str, fields: list[tuple[str, TopicMapping]]) -> None:
        self.topic = topic
        self.fields = [(name, m, m.steps) for name, m in fields]
        self.needs_json = any(steps is not None for _, _, steps in self.fields)

    def decode(self, payload: bytes) -> dict[str, float | str]:
        doc: Any = None
        if self.needs_json:
            try:
                doc = orjson.loads(payload)
            except orjson.JSONDecodeError:
                raise BadPayload(
                    f"topic {self.topic}: payload {_preview(payload)!r} is not JSON"
                ) from None
        out: dict[str, float | str] = {}
        for name, mapping, steps in self.fields:
            try:
                raw = payload if steps is None else _walk(doc, steps, mapping.json_path or "")
                if name == "status":
                    out[name] = _status(raw)
                    continue
                # number() again after scaling: a huge value times the scale may overflow.
                out[name] = number(name, number(name, raw) * mapping.scale)
            except BadPayload as exc:
                raise BadPayload(
                    f"topic {self.topic}: {exc.message} (payload {_preview(payload)!r})"
                ) from None
        return out


def _status(raw: Any) -> float | str:
    """A status is a device code: a number, or a short text such as "running"."""
    if isinstance(raw, bytes):
        raw = raw.decode(errors="replace").strip()
    if isinstance(raw, str):
        try:
            return number("status", raw)
        except BadPayload:
            if not raw or len(raw) > 64:
                raise BadPayload(f"status {raw[:40]!r} is not a status code") from None
            return raw
    return number("status", raw)


def _decoders(config: MqttConfig) -> dict[str, _Decoder]:
    by_topic: dict[str, list[tuple[str, TopicMapping]]] = {}
    for name, mapping in config.mappings().items():
        by_topic.setdefault(mapping.topic, []).append((name, mapping))
    return {topic: _Decoder(topic, fields) for topic, fields in by_topic.items()}


@dataclass
class MqttCounters:
    messages: int = 0  # messages received on mapped topics
    applied: int = 0  # messages whose values were accepted
    readings: int = 0  # Readings emitted
    refused: dict[str, int] = field(default_factory=dict)  # by TelemetryError.kind
    connects: int = 0
    connection_failures: int = 0


ReadingCallback = Callable[[Reading], Awaitable[None] | None]


class MqttSource:
    """The latest SoC, power and temperature of one battery, kept from MQTT messages."""

    name = SOURCE_NAME

    def __init__(self, config: MqttConfig, on_reading: ReadingCallback | None = None) -> None:
        self.config = config
        self.on_reading = on_reading
        self.counters = MqttCounters()
        self.connected = asyncio.Event()  # set while subscribed; tests and health checks wait
        self.latest: dict[str, float | str] = {}
        self.last_error: TelemetryError | None = None
        self._decoders = _decoders(config)
        self._failing_topics: set[str] = set()  # topics in a streak of refusals (logged once)
        self._client: aiomqtt.Client | None = None  # the subscribed connection, while it lasts

    # -- pure part: one message in, maybe one Reading out ------------------------------------

    def handle(self, topic: str, payload: bytes, at: float) -> Reading | None:
        """Apply one message; return the Reading to emit, or None (refused or incomplete)."""
        decoder = self._decoders.get(topic)
        if decoder is None:
            return None
        self.counters.messages += 1
        try:
            values = decoder.decode(payload)
            merged = {**self.latest, **values}
            check_reading(
                *(float(merged.get(f, _PLACEHOLDER[f])) for f in REQUIRED_FIELDS),
                self.config.rated_power_mw,
            )
        except (BadPayload, OutOfRange) as exc:
            self._refuse(topic, exc)
            return None
        self.latest = merged
        self.counters.applied += 1
        self._failing_topics.discard(topic)
        if not all(f in merged for f in REQUIRED_FIELDS):
            return None
        self.counters.readings += 1
        status = merged.get("status")
        return Reading(
            battery_id=self.config.battery_id,
            soc_percent=float(merged["soc_percent"]),
            power_mw=float(merged["power_mw"]),
            temperature_c=float(merged["temperature_c"]),
            at=at,
            source=SOURCE_NAME,
            extra={} if status is None else {"status": status},
        )

    def _refuse(self, topic: str, exc: TelemetryError) -> None:
        self.counters.refused[exc.kind] = self.counters.refused.get(exc.kind, 0) + 1
        self.last_error = exc
        if topic not in self._failing_topics:
            # One log line per streak: a device stuck sending garbage must not flood the log.
            self._failing_topics.add(topic)
            log.warning("mqtt %s refused (%s): %s", topic, exc.kind, exc.message)

    # -- I/O part ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Subscribe and apply messages until cancelled; reconnect when the broker goes away."""
        delay = self.config.reconnect_min_s
        while True:
            try:
                async with _client(self.config) as client:
                    await client.subscribe([(t, self.config.qos) for t in self.config.topics()])
                    self.counters.connects += 1
                    delay = self.config.reconnect_min_s
                    self.connected.set()
                    log.info("mqtt connected to %s:%s", self.config.broker, self.config.port)
                    self._client = client
                    try:
                        async for message in client.messages:
                            reading = self.handle(
                                message.topic.value, _payload_bytes(message.payload), time.time()
                            )
                            if reading is not None and self.on_reading is not None:
                                result = self.on_reading(reading)
                                if inspect.isawaitable(result):
                                    await result
                    finally:
                        self._client = None  # before the goodbye: setpoints go their own way
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                self.counters.connection_failures += 1
                self.last_error = _connect_error(self.config, exc)
                # Equal jitter: at least half the backoff, so a fleet of sources that lost the
                # same broker does not reconnect in lockstep.
                pause = delay / 2 + random.uniform(0, delay / 2)
                log.warning("mqtt %s; retrying in %.1f s", self.last_error.message, pause)
                await asyncio.sleep(pause)
                delay = min(delay * 2, self.config.reconnect_max_s)
            finally:
                self.connected.clear()

    async def write_setpoint(self, power_mw: float) -> float:
        """Publish the power the battery is to run at (MW, + discharging) to the setpoint
        topic, cut to the rated power; returns the power published. QoS as configured (with
        1 or 2 this returns once the broker has it). Without a live subscription (connecting,
        stopping) it connects for this one message. ConnectionRefused or Timeout when the
        broker cannot take it."""
        mapping = self.config.setpoint_mw
        if mapping is None:
            raise ConfigInvalid("no setpoint topic (setpoint_mw) is mapped")
        power_mw = setpoint(power_mw, self.config.rated_power_mw)
        payload = mapping.payload(power_mw)
        qos, retain = self.config.qos, mapping.retain
        live = self._client
        if live is not None:
            try:
                async with asyncio.timeout(LIVE_PUBLISH_S):
                    await live.publish(mapping.topic, payload, qos=qos, retain=retain)
                return power_mw
            except (aiomqtt.MqttError, TimeoutError):
                pass  # the subscription is going (stopping, broker lost): publish on our own
        try:
            # Its own client id: reusing the subscriber's would make the broker drop it.
            own = self.config.model_copy(update={"client_id": None})
            async with _client(own, timeout=OWN_PUBLISH_S) as client:
                await client.publish(mapping.topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as exc:
            problem = _connect_error(self.config, exc)
            raise type(problem)(
                f"the setpoint {power_mw:g} MW was not published to {mapping.topic}: "
                f"{problem.message}"
            ) from None
        return power_mw

    async def readings(self, maxsize: int = 1000) -> AsyncIterator[Reading]:
        """The Readings as an async iterator (runs ``run()`` while iterated). When the consumer
        lags more than ``maxsize`` readings the oldest are dropped: telemetry is about now."""
        queue: asyncio.Queue[Reading] = asyncio.Queue(maxsize)

        def put(reading: Reading) -> None:
            if queue.full():
                queue.get_nowait()
                self.counters.refused["dropped"] = self.counters.refused.get("dropped", 0) + 1
            queue.put_nowait(reading)

        previous, self.on_reading = self.on_reading, put
        task = asyncio.create_task(self.run())
        try:
            while True:
                yield await queue.get()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.on_reading = previous


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    return str(payload).encode()  # aiomqtt types payloads loosely; the wire is always bytes


async def test_connection(
    config: MqttConfig | Mapping[str, Any], timeout: float = 5.0
) -> dict[str, Any]:
    """Connect, wait for one message on every mapped topic (retained ones count) and return
    ``{"ok", "values", "topics", "connect_ms", "latency_ms"}``; or raise ConnectionRefused,
    Timeout (naming the silent topics), BadPayload (naming topic and payload), OutOfRange or
    ConfigInvalid."""
    cfg = load_config(config)
    decoders = _decoders(cfg)
    started = time.perf_counter()
    client = _client(cfg, timeout=timeout)  # builds the TLS context: ConfigInvalid first
    values: dict[str, float | str] = {}
    seen: dict[str, dict[str, Any]] = {}
    connect_ms: float | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                await client.__aenter__()
            except aiomqtt.MqttError as exc:
                raise _connect_error(cfg, exc) from None
            try:
                connect_ms = (time.perf_counter() - started) * 1000
                await client.subscribe([(t, cfg.qos) for t in decoders])
                async for message in client.messages:
                    topic = message.topic.value
                    if topic not in decoders or topic in seen:
                        continue
                    values.update(decoders[topic].decode(_payload_bytes(message.payload)))
                    seen[topic] = {
                        "retained": bool(message.retain),
                        "after_ms": round((time.perf_counter() - started) * 1000, 2),
                    }
                    if len(seen) == len(decoders):
                        break
            finally:
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.__aexit__(None, None, None)
    except TimeoutError:
        silent = [t for t in decoders if t not in seen]
        if connect_ms is None:
            raise Timeout(
                f"no answer from broker {cfg.broker}:{cfg.port} within {timeout:g} s"
            ) from None
        if silent:
            raise Timeout(
                f"no message within {timeout:g} s on topic(s): {', '.join(silent)}"
            ) from None
        # Otherwise every topic answered and only the goodbye to the broker was slow.
    check_reading(
        *(float(values.get(f, _PLACEHOLDER[f])) for f in REQUIRED_FIELDS), cfg.rated_power_mw
    )
    return {
        "ok": True,
        "values": values,
        "topics": seen,
        "connect_ms": round(connect_ms, 2),
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


# Its name starts with "test_": tell pytest it is not a test when a test module imports it.
test_connection.__test__ = False  # type: ignore[attr-defined]
