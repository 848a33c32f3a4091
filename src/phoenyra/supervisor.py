"""``phoenyra up``: run the services as child processes, restart one that dies, stop all on
Ctrl-C (SIGINT/SIGTERM)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Child:
    name: str
    cmd: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = field(default=1.0)
    restart_at: float | None = None  # set while a dead child waits out its backoff


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _say(msg: str) -> None:
    print(f"[up] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, children: list[Child]) -> None:
        self.children = children
        self.stopping = False

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.cmd, env=child.env)
        child.started_at = time.monotonic()

    def run(self) -> int:
        def stop(signum, _frame) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for child in self.children:
            self._start(child)
            _say(f"started {child.name} (pid {child.proc.pid})")
        while not self.stopping:
            time.sleep(0.2)
            now = time.monotonic()
            for child in self.children:
                if self.stopping:
                    break
                if child.restart_at is not None:
                    # Waiting out the backoff without blocking: the other children are still
                    # watched, and Ctrl-C during the wait starts nothing new.
                    if now >= child.restart_at:
                        child.restart_at = None
                        child.restarts += 1
                        self._start(child)
                        _say(f"restarted {child.name} (pid {child.proc.pid})")
                    continue
                code = child.proc.poll()
                if code is None:
                    continue
                # A child that keeps dying at once is restarted with a growing pause.
                lived = now - child.started_at
                child.backoff = 1.0 if lived > 60 else min(child.backoff * 2, 30.0)
                _say(
                    f"{child.name} {_describe_exit(code)} after {lived:.0f} s; "
                    f"restarting in {child.backoff:.0f} s"
                )
                child.restart_at = now + child.backoff
        _say("stopping ...")
        for child in reversed(self.children):
            if child.proc and child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        _say("stopped")
        return 0
