"""Fixtures of the operations tests: the whole system (``phoenyra up``) and a real Prometheus
scraping it, each started once for the session (they take ~15 s together)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ops_support import Prometheus, System


@pytest.fixture(scope="session")
def system(tmp_path_factory) -> Iterator[System]:
    running = System(tmp_path_factory.mktemp("system")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def prometheus(system, tmp_path_factory) -> Iterator[Prometheus]:
    running = Prometheus(tmp_path_factory.mktemp("prometheus"), system).start()
    try:
        yield running
    finally:
        running.stop()
