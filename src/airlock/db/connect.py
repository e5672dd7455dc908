"""Opening the configured database for a service or a command, with its schema checked.

The embedded default (SQLite at ``<home>/airlock.db``) is migrated on first use, so trying
airlock takes no setup step. A database named by ``AIRLOCK_DATABASE_URL`` is migrated only by
``airlock db migrate`` (or ``migrate=True``): a service that finds it behind refuses to start
and says which command to run, rather than changing a shared schema on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.db.engine import create_db_engine
from airlock.db.migrate import current_revision, head_revision, upgrade
from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from airlock.settings import Settings


def open_database(settings: Settings, *, migrate: bool = False) -> Engine:
    """Return an engine on the configured database, its schema at the latest revision.

    Raises:
        ConfigError: the database URL is wrong, or the schema is behind and was not migrated.
    """
    if settings.uses_default_database:
        settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(settings.sql_alchemy_url)
    try:
        if migrate or settings.uses_default_database:
            upgrade(engine)
        else:
            _check_revision(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _check_revision(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise ConfigError(
            f"the database is at schema revision {current or '(none)'}, this airlock needs "
            f"{head}: run `airlock db migrate` first"
        )
