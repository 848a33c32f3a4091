"""What the compose tests compare the compose files with, taken from the code itself: the
environment variables it reads, the ``phoenyra`` command tree, the port each command listens
on."""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import pkgutil
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from unittest import mock

import click
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

import phoenyra
from phoenyra.cli import main as cli

SRC = Path(phoenyra.__file__).parent
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


# -- environment variables the code reads -----------------------------------------------------
def _modules():
    for info in pkgutil.walk_packages(phoenyra.__path__, "phoenyra."):
        if ".migrations" not in info.name:  # Alembic's env.py runs migrations on import
            yield importlib.import_module(info.name)


def _settings_classes() -> list[type[BaseSettings]]:
    list(_modules())
    out, todo = [], [BaseSettings]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("phoenyra."):
                out.append(sub)
    return out


def _aliases(cls: type[BaseSettings]) -> set[str]:
    names = set()
    prefix = cls.model_config.get("env_prefix", "")
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(a for a in alias.choices if isinstance(a, str))
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add((prefix + name).upper())
    return names


class _Recorder(Mapping):
    """An environment that remembers every name asked for; ``*_ENABLED`` reads as true so the
    reader goes on to the variables of the enabled source."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key):
        self.asked.add(key)
        if key.endswith("_ENABLED"):
            return "true"
        raise KeyError(key)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def _environment_readers() -> set[str]:
    """Call every ``*_from_env(environ)`` function with a recording environment."""
    names = set()
    for module in _modules():
        for attr, fn in vars(module).items():
            if attr.endswith("_from_env") and callable(fn) and fn.__module__ == module.__name__:
                recorder = _Recorder()
                # Incomplete settings may be refused; the names asked until then count.
                with contextlib.suppress(Exception):
                    fn(recorder)
                names |= recorder.asked
    return names


def _direct_reads() -> set[str]:
    """``os.environ[...]``, ``os.environ.get(...)``, ``os.getenv(...)`` and reads of a copy of
    the environment (``env = dict(os.environ)``) with a literal name, anywhere in the code."""
    names = set()

    def is_environ(node) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id in {"environ", "env"}
        )

    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            arg = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                func = node.func
                if (func.attr in {"get", "setdefault", "pop"} and is_environ(func.value)) or (
                    func.attr == "getenv"
                ):
                    arg = node.args[0]
            elif isinstance(node, ast.Subscript) and is_environ(node.value):
                arg = node.slice
            if (
                isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and _ENV_NAME.match(arg.value)
            ):
                names.add(arg.value)
    return names


def env_vars_the_code_reads() -> set[str]:
    names = _environment_readers() | _direct_reads()
    for cls in _settings_classes():
        names |= _aliases(cls)
    return names


# -- the phoenyra command tree ----------------------------------------------------------------
def cli_context(args: list[str]) -> click.Context:
    """The parsed ``phoenyra ...`` command line; fails like the CLI on an unknown command or
    option."""
    assert args and args[0] == "phoenyra", f"not a phoenyra command: {args}"
    command: click.Command = cli
    rest = list(args[1:])
    name = "phoenyra"
    while isinstance(command, click.Group):
        assert rest, f"{args}: a sub-command is missing"
        name = rest.pop(0)
        assert name in command.commands, f"{args}: no command {name!r} in the CLI"
        command = command.commands[name]
    return command.make_context(name, rest)


def phoenyra_command(command: list[str]) -> list[str]:
    """The phoenyra command line inside a compose command (also under ``watchfiles``)."""
    if command[0] == "watchfiles":
        positional = [a for i, a in enumerate(command[1:], 1) if not _is_option(command, i)]
        return shlex.split(positional[0])
    return command


def _is_option(command: list[str], i: int) -> bool:
    arg = command[i]
    return arg.startswith("-") or command[i - 1] in {"--filter", "--args", "--verbosity"}


# -- compose values ---------------------------------------------------------------------------
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def with_defaults(value) -> str:
    """A compose value with ``${NAME:-default}`` replaced by its default (what runs when the
    operator's .env does not set NAME)."""
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", str(value))


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: with_defaults(v) for k, v in env.items()}


def listen_address(command: list[str], env: Mapping[str, str]) -> tuple[str, int]:
    """Where the command listens, as the code decides it from its options and environment."""
    from phoenyra.config import Settings
    from phoenyra.webapp.settings import WebSettings

    ctx = cli_context(command)
    with mock.patch.dict(os.environ, env, clear=True):
        settings, web = Settings(), WebSettings()
    name = ctx.info_name
    if name == "exchange":
        return ctx.params["host"] or settings.exchange_host, ctx.params["port"] or (
            settings.exchange_port
        )
    if name == "webapp":
        return ctx.params["host"] or web.host, ctx.params["port"] or web.port
    if name == "market-feed":
        return settings.exchange_host, settings.feed_port
    if name == "bess-telemetry":
        return settings.exchange_host, settings.telemetry_port
    if name == "simulate-bess":
        return ctx.params["host"], ctx.params["port"]
    raise AssertionError(f"{command}: a command that listens nowhere")
