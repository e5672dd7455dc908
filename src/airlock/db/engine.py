"""Engines and sessions for the two supported databases: SQLite (embedded) and PostgreSQL.

SQLite is tuned for many small concurrent writers: WAL journal, ``synchronous=NORMAL``,
foreign keys on, a 30 s busy timeout, and transactions that begin with ``BEGIN IMMEDIATE``.
An immediate transaction takes the write lock when it starts, so a second writer waits for the
busy timeout instead of failing with "database is locked" when its read turns into a write.
A connection or session opened with the execution option ``{READ_ONLY: True}`` begins a plain
(deferred) transaction instead, which never waits for writers.

PostgreSQL is reached through psycopg 3; ``postgresql://`` URLs are read as
``postgresql+psycopg://``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from airlock.exceptions import ConfigError

if TYPE_CHECKING:
    import sqlite3

BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite connection waits for another writer's lock before giving up."""

READ_ONLY = "airlock_read_only"
"""Execution option: a SQLite transaction that only reads begins deferred, not immediate."""

SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
)


def create_db_engine(url: str) -> Engine:
    """Create an engine for a SQLite or PostgreSQL database URL.

    Args:
        url: ``sqlite:///path/to/file.db``, ``postgresql://...`` or ``postgresql+psycopg://...``.

    Raises:
        ConfigError: the URL cannot be parsed or names another database or driver.
    """
    parsed = _parse(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return _sqlite_engine(parsed)
    if parsed.drivername in ("postgresql", "postgresql+psycopg"):
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database URL scheme {parsed.drivername!r}: "
        f"use one of {', '.join(SUPPORTED_SCHEMES)}"
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` whose objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigError(
            "the database URL cannot be parsed: expected one of "
            f"{', '.join(scheme + '://...' for scheme in SUPPORTED_SCHEMES)}"
        ) from None


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # The driver must not emit BEGIN itself: _begin_sqlite_transaction does it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
