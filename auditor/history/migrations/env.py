"""Alembic's entry point for the history: always given an open connection by the store."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from auditor.history.schema import metadata

connection = context.config.attributes["connection"]
if not isinstance(connection, Connection):  # the store passes one; offline SQL is not offered
    raise TypeError("the history's migrations run only through auditor.history.store")
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite can change a table only by copying it: batch mode does that for later migrations.
    render_as_batch=True,
)
# The store has begun the transaction and holds the lock: the upgrade commits with it.
with context.begin_transaction():
    context.run_migrations()
