"""Phoenyra BESS Trade: trading and operating battery energy storage."""

__version__ = "0.1.0"
