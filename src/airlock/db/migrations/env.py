"""Alembic environment of airlock: migrations run online, on a connection given by the caller.

:mod:`airlock.db.migrate` puts an open connection (already in a transaction) in
``config.attributes["connection"]``; there is no ``alembic.ini`` and no offline mode.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from airlock.db.models import Base


def _connection() -> Connection:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise TypeError(
            "airlock's migrations need an open connection: run them with "
            "airlock.db.migrate.upgrade(engine) instead of the alembic command line"
        )
    return connection


def run_migrations() -> None:
    """Apply the pending revisions on the caller's connection."""
    context.configure(
        connection=_connection(),
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
