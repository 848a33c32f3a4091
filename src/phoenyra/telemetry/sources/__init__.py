"""Telemetry sources, one module per transport: ``modbus`` (polled), ``mqtt`` (subscribed);
REST readings arrive at the exchange directly (``POST /api/bess/telemetry``)."""
