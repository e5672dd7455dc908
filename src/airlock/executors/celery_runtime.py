"""One supervisor per Celery worker process, shared by every task the process runs.

A ``WorkerRuntime`` is an asyncio event loop in a thread of its own, one Execution API client
(one HTTP connection pool) and one ``Supervisor`` (with its fork server). Celery tasks, on
whichever pool thread, hand their workload to that loop and wait for the try to end, so the
loop, the connections and the fork server are reused across tasks, and many tries are
supervised at once. The loop's thread lives as long as the runtime: the fork server and runners
are started from it, and a process is told of the end of the thread that started it
(``PR_SET_PDEATHSIG``).

``RuntimeHolder`` makes the runtime on first use in the process that runs tasks, so a prefork
pool gets one per pool process, made after the fork.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, Any, Final, TypeVar

from airlock.api.client import ExecutionApiClient
from airlock.execution import event_loop
from airlock.execution.supervisor import Supervisor

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    import httpx

    from airlock.execution.supervisor import TaskOutcome
    from airlock.execution.workload import ExecuteTask
    from airlock.settings import Settings

T = TypeVar("T")

_CLOSE_TIMEOUT: Final = 30.0


class WorkerRuntime:
    """One event loop, Execution API client and supervisor, shared by a process's tasks.

    Args:
        settings: heartbeats, timeouts, limits and how runners start.
        api_url: the Execution API's root URL, e.g. ``http://127.0.0.1:8080``.
        transport: the httpx transport; ``None`` means real HTTP.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        api_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._loop = event_loop.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="airlock-supervisor", daemon=True
        )
        self._thread.start()
        self.supervisor = self._call(self._build(api_url, transport))

    async def _build(self, api_url: str, transport: httpx.AsyncBaseTransport | None) -> Supervisor:
        client = ExecutionApiClient(
            api_url,
            transport=transport,
            timeout=self.settings.api_timeout,
            retries=self.settings.api_retries,
        )
        return Supervisor(client, self.settings)

    def _call(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def run(self, workload: ExecuteTask) -> TaskOutcome:
        """Supervise one try to its end (from any thread) and return how it ended."""
        return self._call(self.supervisor.run(workload))

    def close(self) -> None:
        """Stop the fork server, close the API client, and end the loop's thread."""
        if self._loop.is_closed():
            return
        try:
            self._call(self._aclose(), _CLOSE_TIMEOUT)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_CLOSE_TIMEOUT)
            self._loop.close()

    async def _aclose(self) -> None:
        try:
            await self.supervisor.aclose()
        finally:
            await self.supervisor.client.aclose()


class RuntimeHolder:
    """Makes the runtime of the current process on first use, and closes it at shutdown.

    Args:
        factory: builds a runtime; called at most once per process.
    """

    def __init__(self, factory: Callable[[], WorkerRuntime]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._runtime: WorkerRuntime | None = None
        self._pid = 0

    def get(self) -> WorkerRuntime:
        """The runtime of this process (a forked pool process makes its own)."""
        with self._lock:
            if self._runtime is None or self._pid != os.getpid():
                self._runtime = self._factory()
                self._pid = os.getpid()
            return self._runtime

    def close(self) -> None:
        """Close this process's runtime, if it made one."""
        with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None and self._pid == os.getpid():
            runtime.close()
