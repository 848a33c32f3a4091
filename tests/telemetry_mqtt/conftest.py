"""Fixtures for the MQTT source: the real Mosquitto of scripts/services, a unique topic prefix per
test (retained messages are cleared afterwards), and a private Mosquitto a test may kill."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as paho_publish
import pytest

from phoenyra.telemetry.model import Reading
from phoenyra.telemetry.sources.mqtt import MqttConfig, MqttSource
from support import free_port, service_missing

HOST = "127.0.0.1"
PORT = 1883
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


async def until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        await asyncio.sleep(0.01)


class Bus:
    """Publishes to the shared broker under a prefix no other test uses."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.prefix = f"phoenyra-test/{uuid.uuid4().hex[:12]}"
        self.retained: set[str] = set()

    def topic(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def config(self, **overrides: Any) -> MqttConfig:
        """A config for this test's topics (soc, power, temperature) on the shared broker."""
        data: dict[str, Any] = {
            "broker": self.host,
            "port": self.port,
            "rated_power_mw": 2.0,
            "reconnect_min_s": 0.1,
            "reconnect_max_s": 0.5,
            "soc_percent": {"topic": self.topic("soc")},
            "power_mw": {"topic": self.topic("power")},
            "temperature_c": {"topic": self.topic("temperature")},
        }
        data.update(overrides)
        return MqttConfig.model_validate(data)

    async def publish(
        self, topic: str, payload: bytes | str | float, *, retain: bool = False, qos: int = 1
    ) -> None:
        """One message, sent and acknowledged (QoS 1) before this returns."""
        await self.publish_many([(topic, payload)], retain=retain, qos=qos)

    async def publish_many(
        self, messages: list[tuple[str, bytes | str | float]], *, retain: bool = False, qos: int = 1
    ) -> None:
        if retain:
            self.retained.update(t for t, _ in messages)
        msgs = [
            {
                "topic": t,
                "payload": p if isinstance(p, bytes) else str(p),
                "qos": qos,
                "retain": retain,
            }
            for t, p in messages
        ]
        await asyncio.to_thread(paho_publish.multiple, msgs, hostname=self.host, port=self.port)

    def clear_retained(self) -> None:
        # An empty retained payload deletes the retained message on the broker.
        if self.retained:
            msgs = [{"topic": t, "payload": b"", "qos": 1, "retain": True} for t in self.retained]
            paho_publish.multiple(msgs, hostname=self.host, port=self.port)


@pytest.fixture
def bus() -> Iterator[Bus]:
    if not port_open(HOST, PORT):
        service_missing(f"Mosquitto at {HOST}:{PORT}")
    b = Bus(HOST, PORT)
    yield b
    b.clear_retained()


class Collected:
    """The Readings a running source emitted."""

    def __init__(self, source: MqttSource) -> None:
        self.source = source
        self.readings: list[Reading] = []

    async def wait_messages(self, n: int, timeout: float = 5.0) -> None:
        await until(lambda: self.source.counters.messages >= n, timeout, f"{n} messages")

    async def wait_readings(self, n: int, timeout: float = 5.0) -> None:
        await until(lambda: len(self.readings) >= n, timeout, f"{n} readings")


@contextlib.asynccontextmanager
async def running(config: MqttConfig, connect_timeout: float = 5.0) -> AsyncIterator[Collected]:
    """An MqttSource running in the background, subscribed before the body runs."""
    source = MqttSource(config)
    out = Collected(source)
    source.on_reading = out.readings.append
    task = asyncio.create_task(source.run())
    try:
        await asyncio.wait_for(source.connected.wait(), connect_timeout)
        yield out
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class OwnBroker:
    """A Mosquitto of this test's own on a free port: it can be killed and started again."""

    def __init__(
        self,
        workdir: Path,
        password_file: Path | None = None,
        tls: tuple[Path, Path] | None = None,  # (certificate, key): the listener speaks TLS
    ) -> None:
        self.port = free_port()
        self.conf = workdir / f"mosquitto-{self.port}.conf"
        self.log = workdir / f"mosquitto-{self.port}.log"
        lines = [
            f"user {getpass.getuser()}",  # as root, mosquitto would switch to another user
            "persistence false",
            f"listener {self.port} {HOST}",
        ]
        if tls is not None:
            lines += [f"certfile {tls[0]}", f"keyfile {tls[1]}"]
        if password_file is None:
            lines.append("allow_anonymous true")
        else:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 5.0) -> OwnBroker:
        log = open(self.log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not port_open(HOST, self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Callable[..., OwnBroker]]:
    if not Path(MOSQUITTO).exists():
        service_missing("the mosquitto binary")
    started: list[OwnBroker] = []

    def make(password_file: Path | None = None, tls: tuple[Path, Path] | None = None) -> OwnBroker:
        broker = OwnBroker(tmp_path, password_file, tls)
        started.append(broker)
        return broker.start()

    yield make
    for broker in started:
        broker.kill()


@pytest.fixture
def run_source() -> Callable[..., contextlib.AbstractAsyncContextManager[Collected]]:
    """``async with run_source(config) as got:`` — a running source and what it emitted."""
    return running


@pytest.fixture
def make_bus() -> Iterator[Callable[[int], Bus]]:
    """A Bus on another broker (a test's own Mosquitto) by port."""
    made: list[Bus] = []

    def make(port: int) -> Bus:
        made.append(Bus(HOST, port))
        return made[-1]

    yield make
    for b in made:
        with contextlib.suppress(OSError):
            b.clear_retained()
