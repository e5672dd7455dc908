"""Waiting inside the API server for the database to change (long-polling workers).

One :class:`ChangeFeed` per app shares one :class:`~airlock.db.changes.ChangeWatcher` among
every request waiting for work. It polls the watcher on the event loop only while a request
listens, and counts the changes it sees. A request starts listening *before* it looks at the
tables and then waits for the count to move, so a change committed between its look and its
wait is never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airlock.db.changes import ChangeWatcher


class Listener:
    """One request's view of the feed: waits for changes it has not seen yet."""

    def __init__(self, feed: ChangeFeed) -> None:
        self._feed = feed
        self._seen = feed.version

    async def next_change(self, timeout: float) -> bool:  # noqa: ASYNC109 -- a bound, not a deadline
        """Wait for a change after the last one seen; return whether one came in time."""
        if self._feed.version == self._seen:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._feed.moved().wait(), timeout)
        changed = self._feed.version != self._seen
        self._seen = self._feed.version
        return changed


class ChangeFeed:
    """Counts database changes for the requests listening.

    Args:
        watcher: the database's change watcher (polled every ``watcher.poll_interval``).
    """

    def __init__(self, watcher: ChangeWatcher) -> None:
        self._watcher = watcher
        self.version = 0
        """Changes seen since the feed was made."""
        self._listeners = 0
        self._moved: asyncio.Event | None = None
        self._poller: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"ChangeFeed(version={self.version}, listeners={self._listeners})"

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[Listener]:
        """Keep the feed polling while the block runs; yield a listener starting now."""
        self._listeners += 1
        if self._poller is None or self._poller.done():
            self._watcher.changed()  # what came before the first listener is not news
            self._poller = asyncio.create_task(self._poll(), name="airlock-change-feed")
        try:
            yield Listener(self)
        finally:
            self._listeners -= 1

    def moved(self) -> asyncio.Event:
        """The event set when :attr:`version` next moves."""
        if self._moved is None:
            self._moved = asyncio.Event()
        return self._moved

    def close(self) -> None:
        """Stop polling and release the watcher."""
        if self._poller is not None:
            self._poller.cancel()
        self._watcher.close()

    async def _poll(self) -> None:
        while self._listeners:
            if self._watcher.changed():
                self.version += 1
                moved, self._moved = self.moved(), None
                moved.set()
            await asyncio.sleep(self._watcher.poll_interval)
