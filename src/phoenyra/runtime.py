"""Process tuning shared by the long-running services."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Start-up objects are never garbage: freeze them out of every collection. Most garbage of
    a request or a poll is freed by reference counting, so collect young objects rarely; a full
    collection otherwise pauses the event loop for tens of ms (measured in bench/)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
