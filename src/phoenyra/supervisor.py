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
            time.sleep(0.5)
            for child in self.children:
                code = child.proc.poll()
                if code is None or self.stopping:
                    continue
                # A child that keeps dying at once is restarted with a growing pause.
                lived = time.monotonic() - child.started_at
                child.backoff = 1.0 if lived > 60 else min(child.backoff * 2, 30.0)
                _say(
                    f"{child.name} exited with status {code} after {lived:.0f} s; "
                    f"restarting in {child.backoff:.0f} s"
                )
                time.sleep(child.backoff)
                child.restarts += 1
                self._start(child)
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
