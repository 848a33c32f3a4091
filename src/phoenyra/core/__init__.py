"""The pure trading core: no sockets, no database, no clock reads (time is passed in).

The modules every order runs through (``NATIVE``: matching, risk checks, indicators) also exist
compiled to C with mypyc: ``make setup`` builds them into ``_compiled/`` (``python -m
phoenyra.core.native``), about twice the speed of CPython on the same source. This package then
puts the compiled modules ahead of its own folder on ``__path__``, but only when the manifest
written by the build says it was made from exactly the ``.py`` files here and for this Python;
otherwise (not built, built from older sources, ``PHOENYRA_PURE_PYTHON=1``) the ``.py`` files
run and ``COMPILED_REASON`` says why. The sources stay the single truth: an edited ``.py`` is
never shadowed by a stale build.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

NATIVE = ("errors", "orders", "markets", "book", "engine", "risk", "indicators", "wire")
HERE = Path(__file__).resolve().parent
COMPILED_DIR = HERE / "_compiled"  # mypyc's runtime library and the manifest
# The extension modules, in the layout mypyc gives them relative to its runtime library (it
# derives the modules' __file__ from that layout).
COMPILED_MODULES = COMPILED_DIR / "phoenyra" / "core"
MANIFEST = "manifest.json"
EXTENSION_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # this Python's, e.g. .cpython-311-…so


def source_digest(directory: Path = HERE) -> str:
    """SHA-256 over the names and bytes of the ``NATIVE`` sources in ``directory``."""
    digest = hashlib.sha256()
    for name in NATIVE:
        digest.update(name.encode() + b"\0")
        digest.update((directory / f"{name}.py").read_bytes())
    return digest.hexdigest()


def pure_python_requested() -> bool:
    """``PHOENYRA_PURE_PYTHON`` set to 1/true/yes/on (any case)."""
    value = os.environ.get("PHOENYRA_PURE_PYTHON", "").strip().lower()
    return value in ("1", "true", "yes", "on")


def _use_compiled() -> str | None:
    """Put the compiled modules ahead of the sources; return why not when they are unusable."""
    if pure_python_requested():
        return "PHOENYRA_PURE_PYTHON is set"
    try:
        manifest = json.loads((COMPILED_DIR / MANIFEST).read_text())
    except FileNotFoundError:
        return "not built (run `make compile`)"
    except (OSError, ValueError) as exc:
        return f"unreadable build manifest ({exc}); run `make compile`"
    if manifest.get("extension_suffix") != EXTENSION_SUFFIX:
        return f"built for another Python ({manifest.get('extension_suffix')}); run `make compile`"
    if manifest.get("sources") != source_digest():
        return _refuse("stale: its sources changed since it was built; run `make compile`")
    missing = [n for n in NATIVE if not (COMPILED_MODULES / f"{n}{EXTENSION_SUFFIX}").exists()]
    if missing:
        return _refuse(f"incomplete (no {', '.join(missing)}); run `make compile`")
    # Load the build now, module by module, so that one that does not load here (another C
    # library, a damaged file) leaves the sources in charge instead of failing every import.
    runtime = manifest.get("runtime")  # mypyc's shared library for the group of modules
    loaded = []
    __path__.insert(0, str(COMPILED_MODULES))  # this package's own search path
    try:
        if runtime and runtime not in sys.modules:
            path = COMPILED_DIR / manifest["runtime_file"]
            spec = importlib.util.spec_from_file_location(runtime, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"no loader for {path.name}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[runtime] = module
            loaded.append(runtime)
            spec.loader.exec_module(module)
        for name in NATIVE:
            loaded.append(f"{__name__}.{name}")
            importlib.import_module(f"{__name__}.{name}")
    except (ImportError, OSError) as exc:
        __path__.remove(str(COMPILED_MODULES))
        for name in loaded:
            sys.modules.pop(name, None)
        return _refuse(f"does not load ({exc}); run `make compile`")
    return None


def _refuse(reason: str) -> str:
    warnings.warn(f"phoenyra.core: compiled core {reason}", RuntimeWarning, stacklevel=3)
    return reason


COMPILED_REASON = _use_compiled()
COMPILED = COMPILED_REASON is None


def describe() -> str:
    """One line for logs and health: which core runs."""
    return "compiled (mypyc)" if COMPILED else f"pure Python ({COMPILED_REASON})"
