"""Compile the matching core with mypyc: ``python -m phoenyra.core.native`` (``make compile``).

The ``NATIVE`` modules of ``phoenyra.core`` are copied into a scratch folder, compiled there by
mypyc (which type-checks them first) with the C compiler Python was built with, and the
extension modules are moved into ``phoenyra/core/_compiled/`` with a manifest naming the sources'
digest; ``phoenyra.core`` uses them only while that digest matches (see its docstring). The last
step imports the result in a fresh interpreter and checks that the engine is the compiled one.

Without a C compiler or mypy this prints what is missing and exits 0 (the pure-Python core
runs); with ``--strict`` (or ``CI=true``) it exits 1 instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import COMPILED_DIR, COMPILED_MODULES, HERE, MANIFEST, NATIVE, source_digest
from . import EXTENSION_SUFFIX as SUFFIX


class BuildError(Exception):
    """The core could not be compiled; the message says what to install or fix."""


def _say(message: str) -> None:
    print(f"compile: {message}", file=sys.stderr, flush=True)


def _check_tools() -> str:
    try:
        from mypy.version import __version__ as mypy_version
    except ImportError as exc:
        raise BuildError(
            "mypy (which provides mypyc) is not installed in this environment; "
            "`make setup` installs it (pip install -e '.[compile]')"
        ) from exc
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        raise BuildError(
            f"no C compiler ({compiler!r} not found); install one (Debian: apt-get install gcc)"
        )
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.exists():
        raise BuildError(
            f"Python's C headers are missing ({header}); install them "
            "(Debian: apt-get install python3-dev)"
        )
    return mypy_version


def build() -> dict:
    """Compile into a scratch folder and install the result into ``_compiled/``."""
    mypy_version = _check_tools()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="phoenyra-mypyc-") as scratch:
        root = Path(scratch)
        package = root / "phoenyra" / "core"
        package.mkdir(parents=True)
        # Empty package files: the compiled modules keep their real names (phoenyra.core.*).
        (root / "phoenyra" / "__init__.py").write_text("")
        (package / "__init__.py").write_text("")
        sources = [f"phoenyra/core/{name}.py" for name in NATIVE]
        for name in NATIVE:
            shutil.copy2(HERE / f"{name}.py", package / f"{name}.py")
        digest = source_digest(package)
        _say(f"mypyc {mypy_version}: type-checking and compiling {', '.join(NATIVE)} ...")
        run = subprocess.run(
            [sys.executable, "-m", "mypyc", *sources],
            cwd=root,
            capture_output=True,
            text=True,
            env={**os.environ, "MYPYC_OPT_LEVEL": "3"},
        )
        if run.returncode != 0:
            output = (run.stdout + run.stderr).strip().splitlines()
            raise BuildError("mypyc failed:\n  " + "\n  ".join(output[-25:]))
        modules = {name: package / f"{name}{SUFFIX}" for name in NATIVE}
        missing = [name for name, path in modules.items() if not path.exists()]
        if missing:
            raise BuildError(f"mypyc produced no extension for {', '.join(missing)}")
        runtimes = sorted(root.glob(f"*__mypyc{SUFFIX}"))
        # Install atomically: build the new folder beside the old one, then swap.
        fresh = COMPILED_DIR.with_name("_compiled.new")
        shutil.rmtree(fresh, ignore_errors=True)
        fresh_modules = fresh / COMPILED_MODULES.relative_to(COMPILED_DIR)
        fresh_modules.mkdir(parents=True)
        for path in modules.values():
            shutil.copy2(path, fresh_modules / path.name)
        for path in runtimes:
            shutil.copy2(path, fresh / path.name)
        manifest = {
            "sources": digest,
            "modules": list(NATIVE),
            "extension_suffix": SUFFIX,
            "runtime": runtimes[0].name.removesuffix(SUFFIX) if runtimes else None,
            "runtime_file": runtimes[0].name if runtimes else None,
            "mypy": mypy_version,
            "python": sys.version.split()[0],
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 1),
        }
        (fresh / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.rmtree(COMPILED_DIR, ignore_errors=True)
        fresh.rename(COMPILED_DIR)
    return manifest


def verify() -> None:
    """Import the core in a fresh interpreter: the compiled engine must be the one loaded."""
    probe = (
        "import phoenyra.core as c, phoenyra.core.engine as e, phoenyra.core.book as b;"
        "assert c.COMPILED, c.COMPILED_REASON;"
        f"assert all(m.__spec__.origin.endswith({SUFFIX!r}) for m in (e, b)), e.__spec__.origin"
    )
    env = {k: v for k, v in os.environ.items() if k != "PHOENYRA_PURE_PYTHON"}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise BuildError("the compiled core does not load:\n" + run.stderr.strip()[-2000:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m phoenyra.core.native", description=__doc__)
    parser.add_argument(
        "--strict",
        action="store_true",
        default=os.environ.get("CI", "").lower() == "true",
        help="fail when the core cannot be compiled (default under CI=true)",
    )
    args = parser.parse_args(argv)
    try:
        manifest = build()
        try:
            verify()
        except BuildError:
            shutil.rmtree(COMPILED_DIR, ignore_errors=True)  # never leave a build that fails
            raise
    except BuildError as exc:
        _say(f"the matching core was NOT compiled: {exc}")
        if args.strict:
            return 1
        _say("continuing with the pure-Python core (correct, about half the engine's speed)")
        return 0
    _say(f"compiled core installed in {COMPILED_DIR} ({manifest['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
