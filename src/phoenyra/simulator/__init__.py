"""A simulated BESS speaking real Modbus TCP (``phoenyra simulate-bess``)."""

from .modbus_server import DEFAULT_PORT, BatterySimulator, serve

__all__ = ["DEFAULT_PORT", "BatterySimulator", "serve"]
