"""Noticing, within milliseconds, that another process changed the database.

The scheduler waits for work (a run triggered, a try finished) and the API server holds a
worker's claim open until a try is queued. Polling the tables for that would cost a query per
poll; instead each backend has a change counter that costs next to nothing to read:

- **SQLite**: ``PRAGMA data_version``, which changes whenever another connection commits a
  change to the file (read from the WAL index in shared memory, no disk access);
- **PostgreSQL**: ``LISTEN airlock_changes``. Triggers (migration 0002) send a notification
  when a statement inserts runs or tries or changes their state, or pauses or unpauses a DAG;
  reading the pending notifications is a non-blocking read of the connection's socket.

:meth:`ChangeWatcher.changed` checks once without blocking; :meth:`wait` and :meth:`wait_async`
check every ``poll_interval`` until a change or the timeout. An error (a restarting PostgreSQL,
a locked file) counts as one change: the caller then looks at the tables itself, which is always
correct; the watcher reconnects a second later, not at every poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy.engine import URL, Engine

log = logging.getLogger("airlock.db.changes")

CHANNEL: Final = "airlock_changes"
POLL_INTERVAL: Final = 0.005
RETRY_AFTER: Final = 1.0


class _UnavailableError(Exception):
    """The change counter could not be read (its connection was closed)."""


class _Source(Protocol):
    def changed(self) -> bool: ...

    def close(self) -> None: ...


class ChangeWatcher:
    """Tells whether the database changed since the last check.

    Args:
        source: the backend's change counter.
        poll_interval: seconds between checks while waiting.
    """

    def __init__(self, source: _Source, *, poll_interval: float = POLL_INTERVAL) -> None:
        self._source = source
        self.poll_interval = poll_interval
        self._retry_at = 0.0

    def __repr__(self) -> str:
        return f"ChangeWatcher({type(self._source).__name__})"

    @classmethod
    def for_engine(cls, engine: Engine, *, poll_interval: float = POLL_INTERVAL) -> ChangeWatcher:
        """Return a watcher of the database ``engine`` connects to."""
        url = engine.url
        if url.get_backend_name() == "sqlite":
            return cls(_SqliteDataVersion(url.database or ""), poll_interval=poll_interval)
        return cls(_PostgresNotifications(url), poll_interval=poll_interval)

    def changed(self) -> bool:
        """Return whether the database changed since the previous call (never blocks).

        A database that cannot be read counts as changed once (the caller then finds out for
        itself); the watcher tries it again only ``RETRY_AFTER`` seconds later.
        """
        now = time.monotonic()
        if now < self._retry_at:
            return False
        try:
            return self._source.changed()
        except _UnavailableError:
            self._retry_at = now + RETRY_AFTER
            return True

    def wait(self, timeout: float) -> bool:
        """Block until the database changes or ``timeout`` seconds pass; return whether it did."""
        deadline = time.monotonic() + timeout
        while not self.changed():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_interval, remaining))
        return True

    async def wait_async(self, timeout: float) -> bool:  # noqa: ASYNC109 -- mirrors wait()
        """:meth:`wait` for an event loop: sleeps between checks without blocking the loop."""
        deadline = time.monotonic() + timeout
        while not self.changed():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self.poll_interval, remaining))
        return True

    def close(self) -> None:
        """Release the watcher's own connection."""
        self._source.close()


class _SqliteDataVersion:
    """``PRAGMA data_version`` on a connection of its own (commits of others change it)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None
        self._version: int | None = None

    def changed(self) -> bool:
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(self._path, check_same_thread=False)
            version = int(self._connection.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            log.debug("reading data_version of %s failed: %s", self._path, exc)
            self.close()
            raise _UnavailableError from exc
        changed, self._version = version != self._version, version
        return changed

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._version = None


class _PostgresNotifications:
    """``LISTEN airlock_changes`` on a connection of its own; reconnects after a failure."""

    def __init__(self, url: URL) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def changed(self) -> bool:
        import psycopg  # noqa: PLC0415 -- only PostgreSQL deployments install the driver

        try:
            if self._connection is None:
                self._connection = psycopg.connect(self._conninfo, autocommit=True)
                self._connection.execute(f"LISTEN {CHANNEL}")
                return True  # what happened before listening is unknown: look
            pgconn = self._connection.pgconn
            pgconn.consume_input()
            found = False
            while pgconn.notifies() is not None:
                found = True
        except psycopg.Error as exc:
            log.debug("reading notifications failed: %s", exc)
            self.close()
            raise _UnavailableError from exc
        return found

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def __del__(self) -> None:
        self.close()  # an app dropped without shutting down must not leak its listener
