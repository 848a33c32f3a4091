"""Helpers of the operations tests: the deploy files, the whole system started with
``phoenyra up``, a real Prometheus scraping it, and the names of the metrics it really exposes."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from support import ROOT, ServiceProcess, free_ports, service_missing

DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "compose.yaml"
COMPOSE_DEV = ROOT / "compose.dev.yaml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def binary(name: str) -> str:
    """A tool installed from Debian (.ci/run installs it); missing fails under CI."""
    path = shutil.which(name)
    if path is None:
        service_missing(f"{name} (Debian package: apt-get install {debian_package(name)})")
    return path


def debian_package(tool: str) -> str:
    return {"promtool": "prometheus", "prometheus": "prometheus"}.get(tool, tool)


def wait_until(check, timeout: float, what: str, log=lambda: ""):
    """Poll ``check()`` until it returns something truthy; fail saying ``what`` and the log."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last_error = exc
        time.sleep(0.2)
    raise AssertionError(f"{what} (last error: {last_error!r})\n{log()}")


@dataclass
class System:
    """``phoenyra up`` with free ports: exchange, market feed, telemetry, web app, simulator."""

    tmp: Path
    ports: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.tmp / "up.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self) -> System:
        exchange, feed, telemetry, web, sim = free_ports(5)
        self.ports = {
            "exchange": exchange,
            "market-feed": feed,
            "bess-telemetry": telemetry,
            "webapp": web,
            "simulate-bess": sim,
        }
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BESS_", "MARKET", "ENTSO_E", "DATABASE_URL", "TLS_", "PHOENYRA_"))
        }
        env |= {
            "PHOENYRA_DATA_DIR": str(self.tmp / "data"),
            "EXCHANGE_PORT": str(exchange),
            "MARKET_FEED_PORT": str(feed),
            "BESS_TELEMETRY_PORT": str(telemetry),
            "WEBAPP_PORT": str(web),
            "BESS_SIMULATOR_PORT": str(sim),
            "BESS_UPDATE_INTERVAL": "1",
            "MARKET_SOURCE": "synthetic",
            "PYTHONUNBUFFERED": "1",
        }
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phoenyra.cli", "up"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._log = log

        def battery_live():
            assert self.proc.poll() is None, self.log()
            r = httpx.get(
                self.url("exchange") + "/api/bess/status",
                headers={"X-API-Key": "demo"},
                timeout=2,
            )
            return r.status_code == 200 and r.json()["online"]

        wait_until(battery_live, 60, "the simulated battery never came online", self.log)
        for service in ("market-feed", "bess-telemetry", "webapp"):
            wait_until(
                lambda s=service: httpx.get(self.url(s) + "/readyz", timeout=2).status_code == 200,
                30,
                f"{service} never became ready",
                self.log,
            )
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# The compose service whose /metrics each Prometheus job scrapes.
JOB_SERVICE = {
    "exchange": "exchange",
    "market-feed": "market-feed",
    "bess-telemetry": "bess-telemetry",
    "webapp": "webapp",
}


@dataclass
class Prometheus:
    """A real Prometheus (Debian's package) scraping the running system with the scrape jobs of
    deploy/prometheus/prometheus.yml, the targets moved to the test's ports."""

    tmp: Path
    system: System
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return (self.tmp / "prometheus.log").read_text(errors="replace")[-4000:]

    def start(self) -> Prometheus:
        exe = binary("prometheus")
        (self.port,) = free_ports(1)
        config = load_yaml(PROMETHEUS_CONFIG)
        config["global"]["scrape_interval"] = "1s"
        config["global"]["evaluation_interval"] = "1s"
        config["rule_files"] = [str(ALERT_RULES)]
        for job in config["scrape_configs"]:
            name = job["job_name"]
            port = self.port if name == "prometheus" else self.system.ports[JOB_SERVICE[name]]
            job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        path = self.tmp / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        log = open(self.tmp / "prometheus.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                exe,
                f"--config.file={path}",
                f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._log = log
        wait_until(
            lambda: httpx.get(self.url + "/-/ready", timeout=2).status_code == 200,
            30,
            "Prometheus did not become ready",
            self.log,
        )
        return self

    def query(self, expr: str) -> list[dict]:
        r = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=5)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "success", body
        return body["data"]["result"]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@dataclass
class Exposed:
    """Series names and, where a series exists, label names a set of /metrics pages expose."""

    labels: dict[str, set[str]] = field(default_factory=dict)  # series name -> label names

    def add_exposition(self, text: str) -> None:
        for family in text_string_to_metric_families(text):
            # A labelled metric without samples yet still has HELP/TYPE lines: its series
            # names follow from the type (the exposition format's rules).
            suffixes = {
                "counter": ["_total"],
                "histogram": ["_bucket", "_count", "_sum"],
                "summary": ["", "_count", "_sum"],
            }.get(family.type, [""])
            for suffix in suffixes:
                self.labels.setdefault(family.name + suffix, set())
            for sample in family.samples:
                self.labels.setdefault(sample.name, set()).update(sample.labels)

    def add_series(self, name: str, label_names: set[str]) -> None:
        self.labels.setdefault(name, set()).update(label_names)


class WebappProcess(ServiceProcess):
    """``phoenyra webapp`` in its own process talking to ``exchange``; ready once its relay
    holds the exchange's event stream."""

    name = "webapp"
    timeout = 20.0

    def __init__(self, exchange, data_dir: Path, **extra: str) -> None:
        env = {
            "PHOENYRA_ENV": "development",
            "PHOENYRA_DATA_DIR": str(data_dir),
            "EXCHANGE_BASE_URL": exchange.base_url,
            "WEBAPP_SECRET_KEY": "a-test-secret-key-that-is-long-enough-0123456789",
            "WEBAPP_ADMIN_PASSWORD": "admin-password-for-tests",
            **extra,
        }
        super().__init__(["phoenyra.cli", "webapp"], data_dir, env)

    def ready(self, response: httpx.Response) -> bool:
        return response.status_code == 200 and response.json()["relay"]["connected"]


@dataclass
class CaddyProxy:
    """The compose stack's TLS proxy running here: its ports, the trust of its local CA."""

    web_port: int
    exchange_port: int
    admin_port: int
    trust: ssl.SSLContext
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def caddy_proxy(tmp: Path, web, exchange, public_host: str) -> Iterator[CaddyProxy]:
    """Caddy with deploy/proxy/Caddyfile in front of ``web`` and ``exchange``, configured by
    the environment as compose.yaml configures it, with ``public_host`` as PHOENYRA_HOST;
    yields once Caddy has made its local CA."""
    caddy = binary("caddy")
    web_port, exchange_port, http_port, admin_port = free_ports(4)
    env = {
        "HOME": str(tmp),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "PATH": "/usr/bin:/bin",
        "PHOENYRA_HOST": public_host,
        "WEBAPP_HTTPS_PORT": str(web_port),
        "EXCHANGE_HTTPS_PORT": str(exchange_port),
        "PROXY_HTTP_PORT": str(http_port),
        "PROXY_ADMIN": f"localhost:{admin_port}",
        "WEBAPP_UPSTREAM": web.base_url.removeprefix("http://"),
        "EXCHANGE_UPSTREAM": exchange.base_url.removeprefix("http://"),
    }
    log_path = tmp / "caddy.log"
    root = tmp / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(DEPLOY / "proxy" / "Caddyfile"), "--adapter",
             "caddyfile"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            trust = wait_until(
                lambda: root.is_file() and ssl.create_default_context(cafile=root),
                20,
                "Caddy made no local CA",
                lambda: log_path.read_text(errors="replace"),
            )
            yield CaddyProxy(web_port, exchange_port, admin_port, trust, log_path)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
