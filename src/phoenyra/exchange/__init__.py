"""The exchange service: FastAPI app, storage, auth, events and metrics around the pure core."""
