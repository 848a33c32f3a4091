"""The compose files and the Dockerfile agree with the code: the services exist, every
environment variable is one the code reads, ports and health checks are where the services
listen, the commands exist in the CLI, and every name and file they refer to exists. (No Docker
engine runs here; these checks are what can be known without one.)"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import tomllib
from urllib.parse import urlsplit

import pytest
from compose_model import (
    cli_context,
    env_vars_the_code_reads,
    environment,
    listen_address,
    phoenyra_command,
    with_defaults,
)

from ops_support import COMPOSE, COMPOSE_DEV, DEPLOY, PROMETHEUS_CONFIG, load_yaml
from support import ROOT

SPEC_SERVICES = {"exchange", "market-feed", "bess-telemetry", "redis", "prometheus", "grafana"}
SPEC_SERVICES |= {"webapp", "mosquitto", "postgres", "proxy"}
# Read by the Python interpreter, not by our code: the development override puts the mounted
# source first on the import path.
INTERPRETER_VARS = {"PYTHONPATH"}


@pytest.fixture(scope="module")
def base() -> dict:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def dev() -> dict:
    return load_yaml(COMPOSE_DEV)


def ours(compose: dict) -> dict[str, dict]:
    """The services that run our image."""
    return {
        name: s
        for name, s in compose["services"].items()
        if "build" in s or str(s.get("image", "")).startswith("phoenyra")
    }


def merged(base: dict, dev: dict) -> dict[str, dict]:
    """compose.dev.yaml over compose.yaml (maps merge, lists and scalars are replaced)."""
    out = {}
    for name, service in base["services"].items():
        over = dev["services"].get(name, {})
        env = {**(service.get("environment") or {}), **(over.get("environment") or {})}
        out[name] = {**service, **over, "environment": env}
    return out


def test_the_spec_services_are_there_and_postgres_is_an_option(base):
    assert set(base["services"]) >= SPEC_SERVICES
    assert base["services"]["postgres"]["profiles"] == ["postgres"]
    # The rest start by default: nothing else of the spec hides behind a profile.
    assert all("profiles" not in base["services"][s] for s in SPEC_SERVICES - {"postgres"})
    assert set(ours(base)) >= {"exchange", "market-feed", "bess-telemetry", "webapp"}


@pytest.mark.parametrize("which", ["compose.yaml", "compose.dev.yaml"])
def test_every_environment_variable_is_one_the_code_reads(base, dev, which):
    known = env_vars_the_code_reads()
    assert {"DATABASE_URL", "BESS_MQTT_BROKER", "EXCHANGE_BASE_URL", "TLS_CERT_FILE"} <= known
    services = ours(base) if which == "compose.yaml" else merged(base, dev)
    unknown = {
        f"{name}: {var}"
        for name, service in services.items()
        if name in ours(base)
        for var in environment(service)
        if var not in known | INTERPRETER_VARS
    }
    assert unknown == set(), "variables no code reads (a typo, or a setting that was renamed)"


def test_the_check_knows_a_misspelt_variable_from_a_real_one():
    known = env_vars_the_code_reads()
    assert "BESS_MQTT_BROKER" in known and "BESS_MQTT_HOST" not in known
    assert "EXCHANGE_URL" in known and "EXCHANGE_BASEURL" not in known


@pytest.mark.parametrize("which", ["compose.yaml", "compose.dev.yaml"])
def test_commands_exist_in_the_cli_and_listen_where_compose_expects(base, dev, which):
    services = ours(base) if which == "compose.yaml" else merged(base, dev)
    for name, service in services.items():
        if name not in ours(base):
            continue
        command = phoenyra_command(service["command"])
        host, port = listen_address(command, environment(service))
        # In a container only 0.0.0.0 is reachable from the other services.
        assert host == "0.0.0.0", f"{name} listens on {host}"
        assert str(port) in [str(p) for p in service.get("expose", [])], (name, port)
        for published in service.get("ports", []):
            assert with_defaults(published).rsplit(":", 1)[1] == str(port), (name, published)
        check = service["healthcheck"]
        if check.get("disable"):
            assert name == "bess-simulator"  # Modbus only, nothing to ask over HTTP
            continue
        assert check["test"][0] == "CMD", name
        ctx = cli_context(check["test"][1:])
        assert ctx.info_name == "healthcheck"
        url = urlsplit(ctx.params["url"])
        assert (url.hostname, url.port) == ("127.0.0.1", port), (name, ctx.params["url"])
        assert url.path in {"/healthz", "/readyz"}


def test_the_development_override_reloads_and_mounts_the_source(base, dev):
    services = merged(base, dev)
    exchange = cli_context(phoenyra_command(services["exchange"]["command"]))
    assert exchange.params["reload"] is True
    for name in ("market-feed", "bess-telemetry", "webapp"):
        assert services[name]["command"][0] == "watchfiles"
    assert importlib.util.find_spec("watchfiles"), "watchfiles comes with uvicorn[standard]"
    assert services["webapp"]["environment"]["FLASK_DEBUG"] == "1"
    for name in ("exchange", "market-feed", "bess-telemetry", "webapp"):
        assert "./src:/app/src:ro" in services[name]["volumes"]
        assert services[name]["environment"]["PYTHONPATH"] == "/app/src"
        assert services[name]["environment"]["PHOENYRA_ENV"] == "development"
    assert set(dev["services"]) <= set(base["services"])


def test_references_exist_services_volumes_and_files(base, dev):
    names = set(base["services"])
    volumes = set(base.get("volumes") or {})
    for compose in (base, dev):
        for name, service in compose["services"].items():
            depends = service.get("depends_on") or []
            for other in depends if isinstance(depends, list) else depends.keys():
                assert other in names, f"{name} depends on unknown {other}"
            for mount in service.get("volumes", []):
                source = mount.split(":")[0]
                if source.startswith((".", "/")):
                    assert (ROOT / source).exists(), f"{name} mounts missing {source}"
                else:
                    assert source in volumes, f"{name} uses undeclared volume {source}"
    # Only postgres is optional, so depending on it must not make it required.
    assert base["services"]["exchange"]["depends_on"]["postgres"]["required"] is False


def test_prometheus_scrapes_every_service_on_its_port(base):
    config = load_yaml(PROMETHEUS_CONFIG)
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    scraped = set()
    for job, hosts in targets.items():
        for target in hosts:
            host, port = target.rsplit(":", 1)
            if host == "localhost":
                assert job == "prometheus"
                continue
            service = base["services"][host]
            command = phoenyra_command(service["command"])
            assert listen_address(command, environment(service))[1] == int(port), target
            scraped.add(host)
    assert scraped == {"exchange", "market-feed", "bess-telemetry", "webapp"}
    mounts = base["services"]["prometheus"]["volumes"]
    rules = config["rule_files"]
    for rule_file in rules:
        assert f"./deploy/prometheus/{rule_file}:/etc/prometheus/{rule_file}:ro" in mounts


def test_the_proxy_forwards_to_the_web_app_and_the_exchange_where_they_listen(base):
    caddyfile = (DEPLOY / "proxy" / "Caddyfile").read_text()
    upstreams = dict(re.findall(r"reverse_proxy \{\$(\w+)_UPSTREAM:([\w.-]+:\d+)\}", caddyfile))
    assert set(upstreams) == {"WEBAPP", "EXCHANGE"}
    for target in upstreams.values():
        host, port = target.split(":")
        service = base["services"][host]
        assert listen_address(phoenyra_command(service["command"]), environment(service))[1] == (
            int(port)
        )
    assert (
        "./deploy/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in base["services"]["proxy"]["volumes"]
    )
    # Behind the proxy the web app trusts its forwarded headers and sends secure cookies.
    web = environment(base["services"]["webapp"])
    assert web["WEBAPP_TRUST_PROXY"] == "true" and web["WEBAPP_SECURE_COOKIES"] == "true"


def test_containers_log_json_and_run_outside_development(base):
    for name, service in ours(base).items():
        env = environment(service)
        assert env["LOG_FORMAT"] == "json", name
        assert env["PHOENYRA_ENV"] == "production", name


def _dockerfile() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_non_root_with_a_health_check_the_cli_has():
    instructions = _dockerfile()
    stages = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    assert len(stages) >= 2
    runtime = instructions[stages[-1] :]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    (health,) = [rest for word, rest in runtime if word == "HEALTHCHECK"]
    command = json.loads(health.split(" CMD ", 1)[1])
    assert cli_context(command).info_name == "healthcheck"
    (cmd,) = [rest for word, rest in runtime if word == "CMD"]
    assert cli_context(json.loads(cmd)).info_name == "exchange"
    # The build stages make wheels and, with a package.json, the front-end assets with npm; the
    # matching core is compiled (strictly: a failed build fails the image) before the wheel.
    build = " ".join(rest for word, rest in instructions[: stages[-1]] if word == "RUN")
    assert "pip wheel" in build and "npm ci" in build and "pybabel compile" in build
    assert "-m phoenyra.core.native --strict" in build
    assert build.index("phoenyra.core.native") < build.index("pip wheel")
    # The same mypy as `make setup`'s, a host's build is not copied in, and the image checks
    # that it runs the compiled core.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (mypy,) = [r for r in pyproject["project"]["optional-dependencies"]["compile"] if "mypy" in r]
    assert f'"{mypy}"' in build
    assert "src/phoenyra/core/_compiled" in (ROOT / ".dockerignore").read_text().splitlines()
    runtime_runs = " ".join(rest for word, rest in runtime if word == "RUN")
    assert "assert c.COMPILED" in runtime_runs
    assert any(word == "COPY" and "--from=build" in rest for word, rest in runtime) or any(
        word == "RUN" and "from=build" in rest for word, rest in runtime
    )


def test_compose_commands_parse_with_the_cli_options_they_use(base):
    # An unknown option fails exactly as the container would at start.
    with pytest.raises(Exception, match="--lisen"):
        cli_context(["phoenyra", "exchange", "--lisen", "0.0.0.0"])
    with pytest.raises(AssertionError, match="no command"):
        cli_context(["phoenyra", "exchanges"])
    simulator = base["services"]["bess-simulator"]
    assert cli_context(simulator["command"]).params["mqtt_broker"] == "mosquitto:1883"
    assert shlex.join(simulator["command"]).startswith("phoenyra simulate-bess")
