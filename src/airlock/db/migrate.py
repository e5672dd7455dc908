"""Schema migrations: bring a database to the schema of :mod:`airlock.db.models` with Alembic.

Alembic is configured here, in code: there is no ``alembic.ini``. The revisions live in
``airlock/db/migrations/versions``; each runs in one transaction on the caller's engine.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, text
from sqlalchemy.schema import SchemaItem

from airlock.db.engine import READ_ONLY
from airlock.db.models import Base

MIGRATIONS_FOLDER = Path(__file__).with_name("migrations")

_PG_MIGRATION_LOCK = 0x6169726C6F636B
"""PostgreSQL advisory lock key ("airlock" in ASCII) held while migrating."""


def upgrade(engine: Engine) -> None:
    """Migrate the database to the latest revision; quick and harmless when it is there already.

    Concurrent callers are serialised: on SQLite by the write lock, on PostgreSQL by an advisory
    lock, and the revision is checked again once the lock is held.
    """
    head = head_revision()
    if current_revision(engine) == head:
        return
    with engine.begin() as connection:
        _lock_for_migration(connection)
        if _revision_of(connection) != head:
            command.upgrade(_config(connection), "head")


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or ``None`` for a database never migrated."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        return _revision_of(connection)


def head_revision() -> str | None:
    """Return the newest revision shipped with this version of airlock."""
    return _scripts().get_current_head()


def check(engine: Engine) -> list[str]:
    """Describe how the database's schema differs from the models; empty when they agree."""
    with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [_describe(diff) for diff in compare_metadata(context, Base.metadata)]


def reset(engine: Engine) -> None:
    """Drop every table in the database (airlock's and any other) and migrate it afresh."""
    with engine.begin() as connection:
        _lock_for_migration(connection)
        existing = MetaData()
        existing.reflect(connection)
        existing.drop_all(connection)
    upgrade(engine)


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _revision_of(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _lock_for_migration(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def _describe(diff: Any) -> str:
    """Render one of ``compare_metadata``'s differences as a line a person can read."""
    if isinstance(diff, list):
        return "; ".join(_describe(part) for part in diff)
    kind, *details = diff
    return f"{kind}: " + ", ".join(_name_of(detail) for detail in details if detail is not None)


def _name_of(item: Any) -> str:
    if isinstance(item, SchemaItem):
        table = getattr(item, "table", None)
        name = getattr(item, "name", None) or type(item).__name__
        return f"{table.name}.{name}" if table is not None else str(name)
    return item if isinstance(item, str) else repr(item)
