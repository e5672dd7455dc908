"""Engines and sessions for the two supported databases: SQLite (embedded) and PostgreSQL.

SQLite is tuned for many small concurrent writers: WAL journal, ``synchronous=NORMAL``,
foreign keys on, a 30 s busy timeout, and transactions that begin with ``BEGIN IMMEDIATE``.
An immediate transaction takes the write lock when it starts, so a second writer waits for the
busy timeout instead of failing with "database is locked" when its read turns into a write.
A connection or session opened with the execution option ``{READ_ONLY: True}`` begins a plain
(deferred) transaction instead, which never waits for writers.

Writers in one process also queue on a Python lock per database file before ``BEGIN
IMMEDIATE``, released right after their commit or rollback. SQLite's own busy handler waits by
sleeping 1, 2, 5, 10, ... up to 100 ms between attempts; with several threads writing (API
routes, scheduling passes) those sleeps, not the statements, dominated the time per task. The
lock hands the database to the next writer the moment the last one is done; the busy timeout
still arbitrates between processes.

PostgreSQL is reached through psycopg 3; ``postgresql://`` URLs are read as
``postgresql+psycopg://``.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from airlock.exceptions import ConfigError

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
        # Sized for the API's thread pool (40) plus the scheduler: no request waits for a
        # connection while the database itself is idle.
        return create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_pre_ping=True,
            pool_size=16,
            max_overflow=48,
        )
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


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(database: str) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(database, threading.Lock())


class _SerializedWriterConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions queue on the database's in-process lock."""

    lock: threading.Lock
    _holds_lock = False

    def begin_write(self) -> None:
        """Wait for the other writers of this process, then ``BEGIN IMMEDIATE``."""
        self.lock.acquire()
        self._holds_lock = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def commit(self) -> None:
        """Commit, then let the next writer in."""
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        """Roll back, then let the next writer in."""
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        """Close, letting the next writer in if a transaction was left open."""
        try:
            super().close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._holds_lock:
            self._holds_lock = False
            self.lock.release()


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ":memory:"
    lock = _write_lock(database)

    class Connection(_SerializedWriterConnection):
        pass

    Connection.lock = lock
    # Waiting writers hold their connection: size the pool for every thread that may write
    # at once (the API's thread pool and the scheduler's), so none waits for a connection.
    engine = create_engine(url, connect_args={"factory": Connection}, pool_size=16, max_overflow=64)
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
    if connection.get_execution_options().get(READ_ONLY, False):
        connection.exec_driver_sql("BEGIN")
        return
    dbapi_connection = cast("_SerializedWriterConnection", connection.connection.dbapi_connection)
    dbapi_connection.begin_write()
