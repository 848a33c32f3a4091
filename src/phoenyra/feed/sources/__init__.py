"""Price sources, registered by name. A new provider is one new module in this package.

Each module defines a class with ``name`` (the registry key), ``simulated`` (whether its prices
are made up), a ``from_settings(settings, **options)`` constructor and
``async fetch(zone, start, end) -> list[PriceInterval]`` (epoch seconds, end exclusive).
Modules here are discovered on first use; a class registers itself with ``@register``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, ClassVar, Protocol

from ..model import PriceInterval


class PriceSource(Protocol):
    name: ClassVar[str]
    simulated: ClassVar[bool]

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> PriceSource: ...

    async def fetch(self, zone: str, start: int, end: int) -> list[PriceInterval]: ...

    async def aclose(self) -> None: ...


_REGISTRY: dict[str, type] = {}
_discovered = False


def register(cls: type) -> type:
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    global _discovered
    if not _discovered:
        for mod in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{mod.name}")
        _discovered = True


def source_names() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def source_class(name: str) -> type:
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown price source {name!r}; choose one of {', '.join(source_names())}"
        ) from None


def make_source(spec: str, settings: Any) -> PriceSource:
    """A source from its name, or ``csv:PATH`` for the CSV importer."""
    name, _, arg = spec.partition(":")
    cls = source_class(name)
    return cls.from_settings(settings, **({"path": arg} if arg else {}))
