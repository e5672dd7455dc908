"""Every request runs to its end; on SQLite, writing requests run one at a time.

**Finish what was started.** FastAPI runs a request's sync dependencies, its route and its
session's commit as separate calls into a thread pool. If the caller gives up midway — an
in-process client cancelled (``httpx.ASGITransport``), a task cancelled as its runner exits —
the request's coroutine is cancelled between those calls: the session is closed while its
thread still uses it, and its connection goes back to the pool inside a transaction (on
PostgreSQL the next checkout fails; on SQLite the write lock is never released). So each
request runs as its own task, shielded from its caller's cancellation, to commit or rollback.

**One writer at a time on SQLite.** A writing request holds SQLite's write lock from its first
statement to its commit, across those thread-pool calls; if every pool thread is taken by
requests waiting for that lock, the holder cannot get a thread to commit, and nothing moves.
SQLite admits one writer at a time anyway, so queueing writing requests on the event loop —
where waiting costs no thread — loses nothing and rules that deadlock out. Reads (GET, HEAD)
take no lock and run concurrently. PostgreSQL, with its row locks, does not need the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import ASGIApp, Receive, Scope, Send

_READING_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestGuardMiddleware:
    """Shield each HTTP request from its caller's cancellation; optionally, queue writers.

    Args:
        app: the application.
        serialize_writes: let one non-reading request at a time through (for SQLite).
    """

    def __init__(self, app: ASGIApp, *, serialize_writes: bool = False) -> None:
        self.app = app
        self._serialize_writes = serialize_writes
        self._lock: asyncio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request to its end, queued behind other writers when it writes."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self._turn(scope["method"]):
            request = asyncio.ensure_future(self.app(scope, receive, send))
            try:
                await asyncio.shield(request)
            finally:
                if not request.done():  # the caller gave up: the request still finishes
                    await asyncio.wait([request])

    @contextlib.asynccontextmanager
    async def _turn(self, method: str) -> AsyncIterator[None]:
        if not self._serialize_writes or method in _READING_METHODS:
            yield
            return
        if self._lock is None:
            self._lock = asyncio.Lock()  # created on the loop that serves requests
        async with self._lock:
            yield
