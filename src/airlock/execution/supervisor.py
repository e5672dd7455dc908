"""The supervisor: runs task instances, each in its own runner process, from one event loop.

For each try it starts a runner, moves the task instance to running through the API, sends the
runner its ``StartupDetails``, then serves the runner's requests, heartbeats, enforces the
execution timeout and writes the try's log, until the runner exits. If the runner did not report
how the try ended, the supervisor reports it (failed, or up_for_retry while tries remain) with
the cause: exit code, signal, or timeout. Only the supervisor holds the task instance's token.

An API that is away for a while (restarting, or its database restarting) stops nothing: the
runner's requests wait for it (up to ``heartbeat_max_misses`` x ``heartbeat_interval``), and so
does the try's final report (until ``heartbeat_timeout`` after the last heartbeat the API took,
when the scheduler takes the try back anyway). Only ``heartbeat_max_misses`` heartbeats failing
in a row stop the runner: cut off from the API for that long, it must not run on unsupervised.

The parts live in their own modules: process lifecycle (``process``), request dispatch
(``dispatch``), the log file (``log_sink``); this module ties them together per try.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

import httpx
import msgspec

from airlock.api.models import HeartbeatRequest, TIFailed, TIRetry, TIRunRequest, TIStateUpdate
from airlock.api.patience import call_patiently
from airlock.exceptions import ApiConflictError, ApiError, ProtocolError
from airlock.execution.confinement import Confinement
from airlock.execution.dispatch import RequestDispatcher
from airlock.execution.forkserver_client import ForkServerLauncher
from airlock.execution.frames import (
    FrameError,
    decode_request,
)
from airlock.execution.log_sink import TaskLogSink
from airlock.execution.masking import SecretsMasker, environment_secrets
from airlock.execution.memory_protection import protect_memory
from airlock.execution.output_pumps import OutputPumps
from airlock.execution.process import ExecLauncher, RunnerLauncher, RunnerProcess, describe_exit
from airlock.execution.protocol import ErrorKind, ErrorResponse, ResponseFrame, StartupDetails
from airlock.execution.runner_channel import RunnerChannel

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from airlock.api.client import ExecutionApiClient, TaskApi
    from airlock.api.models import TaskInstanceKey, TIRunContext
    from airlock.execution.workload import ExecuteTask
    from airlock.settings import Settings

_SERVER_GONE_STATUSES: Final = frozenset({404, 409, 410})
_DRAIN_TIMEOUT: Final = 2.0
_MAX_OUTAGE_PAUSE: Final = 1.0
"""The longest pause between two calls that wait for the API to come back."""

ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class TaskEvent:
    """A change in a supervised try: ``running``, ``reported`` or ``finished``.

    ``reported`` means the API holds the try's final state while the runner may still be
    exiting; ``finished`` means the runner is gone.
    """

    kind: str
    ti: TaskInstanceKey
    state: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TaskOutcome:
    """How a supervised try ended, as far as the supervisor knows.

    ``state`` is the terminal state the API accepted (``None`` if the try never started or the
    server refused every report); ``reason`` says why it failed, when it did.
    """

    ti: TaskInstanceKey
    state: str | None
    reason: str | None
    exit_code: int | None
    duration: float


def update_state(update: TIStateUpdate) -> str:
    """The state name a state update moves to."""
    return str(type(update).__struct_config__.tag)


class Supervisor:
    """Supervises any number of concurrent tries, each in its own runner process.

    Args:
        client: the Execution API client (one connection pool for all tries).
        settings: heartbeat interval, grace periods, limits, how runners start.
        on_event: called when a try starts running and when it finishes.
        launcher: how runners start; by default as ``settings.runner_start`` says.
    """

    def __init__(
        self,
        client: ExecutionApiClient,
        settings: Settings,
        *,
        on_event: Callable[[TaskEvent], None] | None = None,
        launcher: RunnerLauncher | None = None,
    ) -> None:
        protect_memory()  # before the first token arrives
        self.client = client
        self.settings = settings
        self.launcher = launcher or default_launcher(settings)
        self.hostname = socket.gethostname()
        self.unixname = getpass.getuser()
        self._on_event = on_event or (lambda _event: None)

    def emit(self, event: TaskEvent) -> None:
        """Tell the progress listener about ``event``."""
        self._on_event(event)

    async def run(self, workload: ExecuteTask) -> TaskOutcome:
        """Run one try to its end and return how it ended."""
        return await _SupervisedTry(self, workload).run()

    async def aclose(self) -> None:
        """Stop the runner launcher (the fork server, if one was started)."""
        await self.launcher.aclose()


def default_launcher(settings: Settings) -> RunnerLauncher:
    """The launcher ``settings.runner_start`` names: ``fork`` (the default) or ``exec``."""
    if settings.runner_start == "exec":
        return ExecLauncher()
    return ForkServerLauncher(
        preload_dag_files=settings.preload_dag_files, preload_timeout=settings.parsing_timeout
    )


class _SupervisedTry:
    """One try under supervision: its runner, token, log, heartbeat and timeout."""

    def __init__(self, supervisor: Supervisor, workload: ExecuteTask) -> None:
        self.sup = supervisor
        self.settings = supervisor.settings
        self.workload = workload
        self.ti = workload.ti
        self.masker = SecretsMasker()
        self.masker.add_all(environment_secrets(os.environ))
        self.sink = TaskLogSink(
            self.settings.logs_folder / workload.log_path,
            self.masker,
            max_task_bytes=self.settings.max_log_bytes_per_try,
        )
        self.confinement = Confinement()
        self.api: TaskApi = supervisor.client.for_task(workload.ti.id, workload.token)
        self.stop_reason: str | None = None
        self.server_refused: str | None = None
        self.started_at = time.monotonic()
        self.last_heartbeat = self.started_at
        """When the API last recorded this try as alive (its start, or a heartbeat)."""
        self.api_away = False
        self.started_pid: int | None = None
        """The pid the API recorded at the start: the runner's, or this process's when the
        worker's claim started the try."""

    async def run(self) -> TaskOutcome:
        try:
            proc = await self._launch()
        except Exception as exc:  # noqa: BLE001 -- any launch failure fails the try, with why
            try:
                return await self._fail_unstarted(f"the runner could not be started: {exc}")
            finally:
                self.sink.close()
        pumps = OutputPumps(asyncio.get_running_loop(), proc, self.sink)
        try:
            return await self._supervise(proc, pumps)
        finally:
            pumps.close()
            proc.close()
            self.sink.close()

    async def _launch(self) -> RunnerProcess:
        """Start the runner confined as the try asks (user, memory limit)."""
        self.confinement = Confinement.for_workload(self.workload, self.settings)
        launcher = self.sup.launcher
        proc = await launcher.launch(self.workload.dag_file, self.confinement.launch_options())
        try:
            self.confinement.apply(proc.pid)
        except OSError:
            await proc.stop(grace=0)
            proc.close()
            raise
        return proc

    async def _fail_unstarted(self, reason: str) -> TaskOutcome:
        """End a try whose runner never started: start it through the API, then fail it."""
        self.sink.supervisor("error", reason)
        request = TIRunRequest(
            hostname=self.sup.hostname, pid=os.getpid(), unixname=self.sup.unixname
        )
        try:
            context = await self._patiently(
                lambda: self.api.start(request), self._outage_deadline()
            )
            update: TIStateUpdate = (
                TIRetry(reason=reason) if context.should_retry else TIFailed(reason=reason)
            )
            await self._patiently(lambda: self.api.finish(update), self._report_deadline())
        except (ApiError, httpx.HTTPError) as exc:
            self.sink.supervisor("error", f"could not report the try's end: {exc}")
            return self._outcome(None, reason, None)
        return self._outcome(update_state(update), reason, None)

    async def _supervise(self, proc: RunnerProcess, pumps: OutputPumps) -> TaskOutcome:
        context = await self._start(proc)
        if context is None:
            await proc.stop(grace=0)
            return self._outcome(None, self.stop_reason, proc.returncode)
        self.sup.emit(TaskEvent("running", self.ti))
        dispatcher = RequestDispatcher(
            self.api,
            self.ti,
            self.masker,
            xcom_max_bytes=self.settings.xcom_max_bytes,
            on_reported=self._reported,
            explain_reason=self.confinement.explain,
            patience=self.settings.heartbeat_outage_tolerance,
            pause=self._outage_pause,
            on_outage=self._note_outage,
        )
        status = await self._watch(proc, context, dispatcher)
        await pumps.drain(_DRAIN_TIMEOUT)
        state, reason = await self._settle(status, context, dispatcher)
        self.sink.supervisor("info", "try finished", state=state, reason=reason, exit_code=status)
        return self._outcome(state, reason, status)

    def _reported(self, update: TIStateUpdate) -> None:
        """The API holds the try's final state: listeners may move on before the runner exits."""
        self.sup.emit(TaskEvent("reported", self.ti, update_state(update)))

    async def _start(self, proc: RunnerProcess) -> TIRunContext | None:
        context = self.workload.run_context
        if context is not None:  # the claim started the try for this supervisor's process
            self.started_pid = os.getpid()
        else:
            context = await self._start_through_api(proc)
            if context is None:
                return None
        self.last_heartbeat = time.monotonic()
        self.sink.supervisor(
            "info",
            "runner started",
            pid=proc.pid,
            how=proc.startup_note,
            try_number=context.try_number,
            **self.confinement.describe(),
        )
        return context

    async def _start_through_api(self, proc: RunnerProcess) -> TIRunContext | None:
        request = TIRunRequest(hostname=self.sup.hostname, pid=proc.pid, unixname=self.sup.unixname)
        try:
            context = await self._patiently(
                lambda: self.api.start(request), self._outage_deadline()
            )
        except (ApiError, httpx.HTTPError) as exc:
            self.stop_reason = f"the API refused to start the try: {exc}"
            self.sink.supervisor("error", self.stop_reason)
            return None
        self.started_pid = proc.pid
        return context

    async def _watch(
        self, proc: RunnerProcess, context: TIRunContext, dispatcher: RequestDispatcher
    ) -> int:
        startup = StartupDetails(ti=self.ti, dag_file=self.workload.dag_file, run_context=context)
        loop = asyncio.get_running_loop()
        serving = asyncio.create_task(self._serve(proc, dispatcher, startup))
        beating = asyncio.create_task(self._heartbeat(proc))
        timer = self._arm_timeout(loop, proc)
        try:
            return await proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
            beating.cancel()
            serving.cancel()
            await asyncio.gather(serving, beating, return_exceptions=True)

    def _arm_timeout(
        self, loop: asyncio.AbstractEventLoop, proc: RunnerProcess
    ) -> asyncio.TimerHandle | None:
        timeout = self.workload.execution_timeout
        if timeout is None:
            return None
        reason = f"the task ran past its execution_timeout of {timeout:g}s and was stopped"
        delay = timeout + self.settings.kill_grace_period
        return loop.call_later(delay, lambda: self._stop_soon(proc, reason))

    def _stop_soon(self, proc: RunnerProcess, reason: str) -> None:
        if proc.has_exited or self.stop_reason is not None:
            return
        self.stop_reason = reason
        self.sink.supervisor("error", f"stopping runner: {reason}")
        task = asyncio.get_running_loop().create_task(proc.stop(self.settings.kill_grace_period))
        task.add_done_callback(lambda _t: None)

    async def _serve(
        self, proc: RunnerProcess, dispatcher: RequestDispatcher, startup: StartupDetails
    ) -> None:
        channel = RunnerChannel(proc.requests, self.settings.max_frame_bytes)
        try:
            await channel.send(ResponseFrame(0, startup))
            while (body := await channel.receive()) is not None:
                await self._answer(channel, body, dispatcher)
        except ProtocolError as exc:
            self._stop_soon(proc, f"protocol error: {exc}")
        except OSError:  # the runner went away mid-frame; its exit status tells the story
            return

    async def _answer(
        self, channel: RunnerChannel, body: bytearray, dispatcher: RequestDispatcher
    ) -> None:
        try:
            frame = decode_request(body)
        except FrameError as exc:
            if exc.frame_id is None:
                raise
            self.sink.supervisor("error", f"unreadable request: {exc}")
            error = ErrorResponse(error=ErrorKind.PROTOCOL_ERROR, detail=str(exc))
            await channel.send(ResponseFrame(exc.frame_id, error))
            return
        response = await dispatcher.handle(frame.body)
        if isinstance(response, ErrorResponse):
            self.sink.supervisor(
                "warning", f"{type(frame.body).__name__} refused: {response.detail}"
            )
        await channel.send(ResponseFrame(frame.id, response))

    async def _heartbeat(self, proc: RunnerProcess) -> None:
        """Heartbeat until the API ends the try or ``heartbeat_max_misses`` fail in a row."""
        request = HeartbeatRequest(hostname=self.sup.hostname, pid=self.started_pid or proc.pid)
        limit = self.settings.heartbeat_max_misses
        misses = 0
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            failure = await self._beat(request)
            if self.server_refused is not None:
                self._stop_soon(proc, self.server_refused)
                return
            if failure is None:
                misses = 0
                continue
            misses += 1
            self.sink.supervisor("warning", f"heartbeat failed ({misses} of {limit}): {failure}")
            if misses >= limit:
                self._stop_soon(proc, f"{misses} heartbeats in a row failed (last: {failure})")
                return

    async def _beat(self, request: HeartbeatRequest) -> Exception | None:
        """Send one heartbeat; return why it failed, or ``None``.

        An answer saying the try is over (404, 409, 410) sets ``server_refused``.
        """
        try:
            await self.api.heartbeat(request)
        except ApiError as exc:
            if exc.status_code in _SERVER_GONE_STATUSES:
                self.server_refused = f"the API ended this try: {exc}"
            return exc
        except httpx.HTTPError as exc:
            return exc
        self.last_heartbeat = time.monotonic()
        self._api_back()
        return None

    @property
    def _outage_pause(self) -> float:
        return min(self.settings.heartbeat_interval, _MAX_OUTAGE_PAUSE)

    def _outage_deadline(self) -> float:
        """How long a request may wait for the API: as long as heartbeats may fail."""
        return time.monotonic() + self.settings.heartbeat_outage_tolerance

    def _report_deadline(self) -> float:
        """How long a final report may wait: until the scheduler takes the try back anyway."""
        return self.last_heartbeat + self.settings.heartbeat_timeout

    async def _patiently(self, call: Callable[[], Awaitable[ResultT]], deadline: float) -> ResultT:
        """``call()``, repeated while the API is away, until ``deadline``."""
        result = await call_patiently(
            call, deadline=deadline, pause=self._outage_pause, on_outage=self._note_outage
        )
        self._api_back()
        return result

    def _note_outage(self, exc: Exception) -> None:
        if not self.api_away:
            self.sink.supervisor("warning", f"the Execution API is away; waiting for it: {exc}")
        self.api_away = True

    def _api_back(self) -> None:
        if self.api_away:
            self.sink.supervisor("info", "the Execution API answers again")
        self.api_away = False

    async def _settle(
        self, status: int, context: TIRunContext, dispatcher: RequestDispatcher
    ) -> tuple[str | None, str | None]:
        if dispatcher.reported is not None:
            return update_state(dispatcher.reported), getattr(dispatcher.reported, "reason", None)
        if self.server_refused is not None:
            return None, self.server_refused
        update = self._with_stop_reason(dispatcher.attempted) or self._failure(status, context)
        try:
            await self._patiently(lambda: self.api.finish(update), self._report_deadline())
        except ApiConflictError as exc:
            self.sink.supervisor("warning", f"the API kept its own state: {exc}")
            return None, str(exc)
        except (ApiError, httpx.HTTPError) as exc:
            self.sink.supervisor("error", f"could not report the try's end: {exc}")
            return None, str(exc)
        return update_state(update), getattr(update, "reason", None)

    def _with_stop_reason(self, update: TIStateUpdate | None) -> TIStateUpdate | None:
        """A failure the runner reported after its supervisor stopped it, saying why it was."""
        if self.stop_reason is None or not isinstance(update, TIRetry | TIFailed):
            return update
        said = f" ({update.reason})" if update.reason else ""
        return msgspec.structs.replace(update, reason=self.stop_reason + said)

    def _failure(self, status: int, context: TIRunContext) -> TIStateUpdate:
        reason = self.stop_reason or describe_exit(status)
        if self.stop_reason is None and status == 0:
            reason += " without reporting how the task ended"
        self.sink.supervisor("error", reason)
        return TIRetry(reason=reason) if context.should_retry else TIFailed(reason=reason)

    def _outcome(self, state: str | None, reason: str | None, status: int | None) -> TaskOutcome:
        outcome = TaskOutcome(self.ti, state, reason, status, time.monotonic() - self.started_at)
        self.sup.emit(TaskEvent("finished", self.ti, state, reason))
        return outcome
