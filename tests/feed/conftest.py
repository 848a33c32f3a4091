"""Fixtures of the feed tests: a local HTTP server playing recorded provider responses."""

from __future__ import annotations

import pytest

from recorded_http import FIXTURES, RecordedServer, Reply, Seen, fixture_bytes

__all__ = ["FIXTURES", "RecordedServer", "Reply", "Seen", "fixture_bytes"]


@pytest.fixture
def recorded_server():
    server = RecordedServer().start()
    yield server
    server.stop()
