"""The local worker (``airlock worker --executor local``): claims queued tries and supervises them.

One process, one event loop, one :class:`~airlock.execution.supervisor.Supervisor` for every
try it runs (each try still gets its own runner process). The worker claims queued tries from
the Execution API with its worker credential (``POST /workloads/claim``): the API picks them
``FOR UPDATE SKIP LOCKED``, so several workers never claim the same try, starts them for this
process in the same transaction and mints their execution tokens, so the signing key never
reaches a worker host and a try costs no separate ``/run`` request. An idle worker holds
``GET /workloads/wait`` open until work is queued.

Stopping (SIGTERM or SIGINT): the worker claims nothing more and lets its running tries finish
for up to ``worker_shutdown_grace`` seconds. Tries still running then are handed back
(``POST /workloads/release``): the API schedules them again under a new id, and their
supervisors, refused at their next heartbeat, stop their runners. Nothing is left running.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import msgspec

from airlock.api.client import ExecutionApiClient
from airlock.api.workloads import (
    MAX_CLAIM,
    MAX_WAIT,
    WorkloadClaimRequest,
    WorkloadClaimResponse,
    WorkloadReleaseRequest,
    WorkloadReleaseResponse,
)
from airlock.exceptions import ApiError, ConfigError
from airlock.execution.supervisor import Supervisor

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from airlock.execution.supervisor import TaskOutcome
    from airlock.execution.workload import ExecuteTask
    from airlock.settings import Settings

log = logging.getLogger("airlock.worker")

_FATAL_STATUSES = frozenset({401, 403})
_encoder = msgspec.json.Encoder()


@dataclass
class WorkerReport:
    """What a worker did before it stopped."""

    outcomes: list[TaskOutcome] = field(default_factory=list)
    released: list[str] = field(default_factory=list)


def read_credential(settings: Settings) -> str:
    """Return the worker credential from ``worker_token_file`` (default ``<home>/worker_token``).

    Raises:
        ConfigError: there is no credential file.
    """
    path = settings.worker_token_file or settings.home / "worker_token"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(
            f"no worker credential at {path}: on a host with the signing key run "
            f"`airlock worker-token --output {path}`, copy the file here (mode 0600), "
            "or set AIRLOCK_WORKER_TOKEN_FILE"
        ) from None


class LocalWorker:
    """Claims queued tries of some queues and runs up to ``parallelism`` of them at once.

    Args:
        settings: heartbeats, timeouts, poll interval and shutdown grace.
        credential: the worker credential.
        queues: the queues served.
        parallelism: tries run at once.
        api_url: the Execution API's root URL; default ``settings.api_url``.
        transport: an httpx transport (tests use ``httpx.ASGITransport``); default real HTTP.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        credential: str,
        queues: list[str],
        parallelism: int,
        api_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.queues = queues
        self.parallelism = parallelism
        self.hostname = socket.gethostname()
        self.unixname = getpass.getuser()
        self._credential = credential
        self._api_url = api_url or settings.api_url
        self._transport = transport
        self._running: dict[asyncio.Task[TaskOutcome], ExecuteTask] = {}
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self.report = WorkerReport()

    def __repr__(self) -> str:
        return f"LocalWorker(queues={self.queues}, parallelism={self.parallelism})"

    def stop(self) -> None:
        """Ask the worker to stop: no new claims; running tries get the grace period."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> WorkerReport:
        """Claim and run tries until :meth:`stop` is called; return what was done."""
        self._wake = asyncio.Event()
        client = ExecutionApiClient(
            self._api_url,
            transport=self._transport,
            timeout=self.settings.api_timeout,
            retries=self.settings.api_retries,
        )
        supervisor = Supervisor(client, self.settings)
        try:
            await self._serve(client, supervisor)
            await self._drain(client)
        finally:
            await supervisor.aclose()
            await client.aclose()
        return self.report

    def install_signal_handlers(self) -> None:
        """Stop on SIGTERM and SIGINT (call from inside the running event loop)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)

    async def _serve(self, client: ExecutionApiClient, supervisor: Supervisor) -> None:
        assert self._wake is not None  # noqa: S101 -- set by run()
        while not self._stopping:
            self._wake.clear()
            free = self.parallelism - len(self._running)
            claimed = await self._claim(client, min(free, MAX_CLAIM)) if free > 0 else []
            for workload in claimed:
                self._start(supervisor, workload)
            if claimed and len(self._running) < self.parallelism:
                continue  # there may be more waiting: claim again at once
            if free > 0 and not claimed:
                await self._until_woken(self._wait_for_work(client))
            else:
                await self._until_woken(asyncio.sleep(self.settings.worker_poll_interval))

    async def _until_woken(self, waiting: Coroutine[Any, Any, object]) -> None:
        """Run ``waiting`` until it ends or the worker is woken (a try ended, or stop)."""
        assert self._wake is not None  # noqa: S101 -- set by run()
        tasks = {asyncio.ensure_future(waiting), asyncio.ensure_future(self._wake.wait())}
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _wait_for_work(self, client: ExecutionApiClient) -> None:
        """Hold ``GET /workloads/wait`` open until tries are queued (or its time is up)."""
        timeout = min(self.settings.worker_poll_interval, MAX_WAIT, self.settings.api_timeout / 2)
        query = "&".join(f"queue={quote(queue, safe='')}" for queue in self.queues)
        try:
            await client.send(
                "GET", f"/workloads/wait?{query}&timeout={timeout:g}", token=self._credential
            )
        except ApiError as exc:
            if exc.status_code in _FATAL_STATUSES:
                raise
            log.warning("waiting for work failed: %s", exc)
            await asyncio.sleep(timeout)
        except httpx.HTTPError as exc:
            log.warning("the Execution API at %s is unreachable: %s", self._api_url, exc)
            await asyncio.sleep(timeout)

    async def _claim(self, client: ExecutionApiClient, slots: int) -> list[ExecuteTask]:
        body = WorkloadClaimRequest(
            hostname=self.hostname,
            queues=self.queues,
            slots=slots,
            start=True,  # started for this process at once: no /run request per try
            pid=os.getpid(),
            unixname=self.unixname,
        )
        try:
            response = await client.send(
                "POST", "/workloads/claim", token=self._credential, content=_encoder.encode(body)
            )
        except ApiError as exc:
            if exc.status_code in _FATAL_STATUSES:
                raise
            log.warning("claiming tries failed: %s", exc)
            return []
        except httpx.HTTPError as exc:
            log.warning("the Execution API at %s is unreachable: %s", self._api_url, exc)
            return []
        return msgspec.json.decode(response.content, type=WorkloadClaimResponse).workloads

    def _start(self, supervisor: Supervisor, workload: ExecuteTask) -> None:
        task = asyncio.create_task(supervisor.run(workload), name=repr(workload))
        self._running[task] = workload
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[TaskOutcome]) -> None:
        self._running.pop(task, None)
        if self._wake is not None:
            self._wake.set()
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            log.error("supervising a try failed: %r", error)
            return
        self.report.outcomes.append(task.result())

    async def _drain(self, client: ExecutionApiClient) -> None:
        if not self._running:
            return
        log.info(
            "stopping: waiting up to %gs for %d running tries",
            self.settings.worker_shutdown_grace,
            len(self._running),
        )
        await asyncio.wait(set(self._running), timeout=self.settings.worker_shutdown_grace)
        if not self._running:
            return
        await self._release(client, [w.ti.id for w in self._running.values()])
        settle = self.settings.heartbeat_interval + self.settings.kill_grace_period + 10
        await asyncio.wait(set(self._running), timeout=settle)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _release(self, client: ExecutionApiClient, ti_ids: list[str]) -> None:
        body = WorkloadReleaseRequest(hostname=self.hostname, ti_ids=ti_ids)
        try:
            response = await client.send(
                "POST", "/workloads/release", token=self._credential, content=_encoder.encode(body)
            )
        except (ApiError, httpx.HTTPError) as exc:
            log.error(  # noqa: TRY400 -- the cause is in the message; no traceback needed
                "handing back %d tries failed (the heartbeat timeout will): %s", len(ti_ids), exc
            )
            return
        released = msgspec.json.decode(response.content, type=WorkloadReleaseResponse).released
        self.report.released += released
        log.info("handed back %d running tries", len(released))
