"""``phoenyra up``: run the services as child processes, restart one that dies, stop all on
Ctrl-C (SIGINT/SIGTERM)."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
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
    # At the first start the next children wait until this URL answers 200 (the exchange's
    # /readyz), so its clients do not begin with a burst of "cannot reach" warnings.
    ready_url: str | None = None
    ready_ssl: ssl.SSLContext | None = None


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

    def _wait_ready(self, child: Child, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping and child.proc.poll() is None:
            try:
                with urllib.request.urlopen(
                    child.ready_url, timeout=2, context=child.ready_ssl
                ) as r:
                    if r.status == 200:
                        _say(f"{child.name} is ready")
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        # Not ready (or dead): start the rest anyway; they retry, and a dead child is restarted.

    def run(self) -> int:
        def stop(signum, _frame) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for child in self.children:
            if self.stopping:
                break
            self._start(child)
            _say(f"started {child.name} (pid {child.proc.pid})")
            if child.ready_url:
                self._wait_ready(child)
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
