"""The compiled matching core (mypyc, `make compile`): used only when built from the sources
present, identical in every answer to the pure-Python core, and refused when stale.

`make setup` builds it; under CI a missing build fails these tests (the compile step must work
on a fresh machine), on a developer machine without a C compiler they skip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from phoenyra import core
from support import IN_CI

REPLAY = Path(__file__).with_name("engine_replay.py")
PACKAGE = Path(core.__file__).resolve().parents[1]  # src/phoenyra


def require_build() -> None:
    """The compiled core must be in use: under CI a missing build fails, elsewhere it skips."""
    if core.COMPILED:
        return
    message = f"the compiled core is not in use: {core.describe()} (make compile)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def run_python(code_or_script: list[str], pythonpath: Path | None = None, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "PHOENYRA_PURE_PYTHON"}
    environ.update(env)
    if pythonpath is not None:
        environ["PYTHONPATH"] = str(pythonpath)
    run = subprocess.run(
        [sys.executable, *code_or_script], capture_output=True, text=True, env=environ, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return {"out": json.loads(run.stdout.strip().splitlines()[-1]), "stderr": run.stderr}


PROBE = (
    "import json, phoenyra.core as c, phoenyra.core.book as b, phoenyra.core.engine as e;"
    "print(json.dumps({'compiled': c.COMPILED, 'reason': c.COMPILED_REASON,"
    " 'book': b.__spec__.origin, 'engine': e.__spec__.origin}))"
)


def test_compiled_and_pure_python_cores_give_identical_answers():
    require_build()
    compiled = run_python([str(REPLAY), "--seed", "7", "--ops", "20000"])["out"]
    pure = run_python([str(REPLAY), "--seed", "7", "--ops", "20000"], PHOENYRA_PURE_PYTHON="1")
    pure = pure["out"]
    assert compiled["compiled"] is True
    assert pure["compiled"] is False
    # The stream exercises what it claims to: matching, refusals, cancels and expiries.
    assert compiled["trades"] > 2_000 and compiled["expired"] > 50
    assert compiled["refused"] > 500 and compiled["cancelled"] > 200
    # ...and the risk checks refuse for each of their reasons before the engine sees an order.
    assert set(compiled["risk_refused"]) >= {
        "THROTTLED", "SOC_LIMIT", "ENERGY_LIMIT", "POWER_LIMIT", "BATTERY_STATUS_STALE"
    }  # fmt: skip
    assert compiled["positions"] >= 15
    assert compiled == {**pure, "compiled": True, "core": "compiled (mypyc)"}


def test_every_native_module_in_use_is_the_compiled_one():
    require_build()
    import importlib

    for name in core.NATIVE:
        module = importlib.import_module(f"phoenyra.core.{name}")
        assert Path(module.__spec__.origin).parent == core.COMPILED_MODULES
        assert module.__file__ == module.__spec__.origin
        assert not module.__spec__.origin.endswith(".py")


def copy_package(tmp_path: Path) -> Path:
    """A copy of the phoenyra package with its compiled core, importable from ``tmp_path``."""
    shutil.copytree(
        PACKAGE,
        tmp_path / "phoenyra",
        ignore=shutil.ignore_patterns("__pycache__", "static", "node_modules"),
    )
    return tmp_path


def test_a_changed_source_runs_as_python_instead_of_its_stale_build(tmp_path):
    require_build()
    root = copy_package(tmp_path)
    fresh = run_python(["-c", PROBE], root)["out"]
    assert fresh["compiled"] is True and fresh["engine"].startswith(str(root))
    book = root / "phoenyra" / "core" / "book.py"
    book.write_text(book.read_text() + "\n# edited after the build\n")
    stale = run_python(["-c", PROBE], root)
    assert stale["out"]["compiled"] is False
    assert "stale" in stale["out"]["reason"] and "make compile" in stale["out"]["reason"]
    assert stale["out"]["book"] == str(book)
    assert stale["out"]["engine"].endswith("engine.py")  # the whole group falls back together
    assert "RuntimeWarning" in stale["stderr"] and "stale" in stale["stderr"]


def test_a_missing_or_foreign_build_and_the_switch_run_pure_python(tmp_path):
    require_build()
    root = copy_package(tmp_path)
    switched = run_python(["-c", PROBE], root, PHOENYRA_PURE_PYTHON="1")["out"]
    assert switched == {**switched, "compiled": False, "reason": "PHOENYRA_PURE_PYTHON is set"}
    assert switched["engine"].endswith("engine.py")

    manifest_path = root / "phoenyra" / "core" / "_compiled" / core.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["extension_suffix"] = ".cpython-399-x86_64-linux-gnu.so"
    manifest_path.write_text(json.dumps(manifest))
    foreign = run_python(["-c", PROBE], root)["out"]
    assert foreign["compiled"] is False and "another Python" in foreign["reason"]

    shutil.rmtree(manifest_path.parent)
    missing = run_python(["-c", PROBE], root)["out"]
    assert missing["compiled"] is False and missing["reason"].startswith("not built")
    assert missing["engine"].endswith("engine.py")


def test_a_build_that_does_not_load_or_lacks_a_module_leaves_the_sources_in_charge(tmp_path):
    require_build()
    root = copy_package(tmp_path)
    compiled = root / "phoenyra" / "core" / "_compiled"
    manifest = json.loads((compiled / core.MANIFEST).read_text())
    # A runtime library that is not one (a damaged file, another C library): no import error
    # for the services, the Python core runs, and the warning says why.
    (compiled / manifest["runtime_file"]).write_bytes(b"not a shared library")
    damaged = run_python(["-c", PROBE], root)
    assert damaged["out"]["compiled"] is False
    assert damaged["out"]["reason"].startswith("does not load")
    assert damaged["out"]["engine"].endswith("engine.py")
    assert damaged["out"]["book"].endswith("book.py")
    assert "does not load" in damaged["stderr"]

    shutil.rmtree(root / "phoenyra")
    root = copy_package(tmp_path)
    compiled_engine = next((root / "phoenyra" / "core" / "_compiled").rglob("engine.*"))
    compiled_engine.unlink()
    partial = run_python(["-c", PROBE], root)["out"]
    assert partial["compiled"] is False and partial["reason"].startswith("incomplete (no engine)")
    assert partial["engine"].endswith("engine.py") and partial["book"].endswith("book.py")
