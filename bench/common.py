"""What every benchmark records about the machine and the code it measured."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_probe_ms(repeat: int = 3) -> float:
    """Best of ``repeat`` timings of a fixed pure-Python loop (10 million additions), in ms.

    This VM's CPU speed changes over time (the same loop took 0.97 s and 1.8 s within minutes
    on 2026-11-29), so every CPU-bound figure is only comparable with the probe taken with it.
    """
    import time

    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_stat(path: str | Path) -> tuple[str, list[str]] | None:
    """A /proc/.../stat file as (command name, the fields after it), None if it is gone.

    The fields list starts at the state: ``[1]`` is the parent pid, ``[11]``/``[12]`` the user
    and system CPU ticks, ``[13]``/``[14]`` those of the waited-for children.
    """
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            raw = f.read()
    except OSError:
        return None
    close = raw.rindex(")")
    return raw[raw.index("(") + 1 : close], raw[close + 2 :].split()


def cpu_seconds(fields: list[str], children: bool = False) -> float:
    """User + system CPU seconds from ``proc_stat`` fields (with its reaped children's)."""
    return sum(int(x) for x in fields[11 : 15 if children else 13]) / CLK_TCK


def git(*args: str) -> str | None:
    """Output of a git command run in the repository, or None (no git, no repository, no commit)."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> str | None:
    return git("rev-parse", "HEAD") or None


def git_dirty() -> bool:
    """Tracked files differ from the commit (untracked files are not looked at)."""
    return bool(git("status", "--porcelain", "--untracked-files=no"))


def machine(**extra: object) -> dict:
    """The machine and interpreter, plus what a benchmark adds (library versions, ...)."""
    import os

    return {
        "cpu_model": cpu_model(),
        "cpus_online": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        **extra,
    }


def version_of(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


# The real market data beside the repository (../shared/data); PHOENYRA_SHARED_DATA points
# elsewhere.
def _shared_data() -> Path:
    import os

    if os.environ.get("PHOENYRA_SHARED_DATA"):
        return Path(os.environ["PHOENYRA_SHARED_DATA"])
    for p in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if p.is_dir():
            return p
    return ROOT.parent / "shared" / "data"


SHARED_DATA = _shared_data()
