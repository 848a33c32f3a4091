"""Alembic environment: migrations run on the connection the Store hands over."""

from alembic import context

from phoenyra.exchange.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the Store runs migrations
    raise RuntimeError("run migrations through phoenyra (Store.migrate), not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
