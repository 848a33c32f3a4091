"""BESS telemetry: sources per transport (``sources/``), device presets (``presets/``, data files),
validation, and the service that pushes readings to the exchange."""
