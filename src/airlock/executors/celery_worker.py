"""The worker side of the Celery executor: ``airlock celery worker`` and the task it runs.

Each delivered workload is run through the worker process's supervisor (``celery_runtime``).
The workload token stays in this process's memory: runners are started fresh (forked from a
fork server that never saw a token, or exec'd) and get their ``StartupDetails`` over their
socket. A workload whose try is no longer queued (a redelivery after a worker died, a duplicate)
is refused by ``/run``; the supervisor stops the runner it had started, and the Celery task
ends quietly: logged, acknowledged, never retried. What becomes of a try whose worker died is
for the scheduler's heartbeat timeout to decide, never for Celery.
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import httpx
import msgspec
from celery import signals
from celery.utils.nodenames import host_format

from airlock.api.models import API_PREFIX
from airlock.executors.celery_app import DEFAULT_QUEUE, TASK_NAME, create_celery_app
from airlock.executors.celery_executor import decode_workload
from airlock.executors.celery_runtime import RuntimeHolder, WorkerRuntime

if TYPE_CHECKING:
    from celery import Celery, Task

    from airlock.execution.supervisor import TaskOutcome
    from airlock.execution.workload import ExecuteTask
    from airlock.settings import Settings

log = logging.getLogger("airlock.celery")


def run_workload(runtime: WorkerRuntime, payload: str, *, worker: str, redelivered: bool) -> Any:
    """Run the workload in ``payload`` and report; never raises, so Celery never retries.

    Args:
        runtime: this process's supervisor.
        payload: the message's argument: the workload as JSON.
        worker: this worker's name, for the log.
        redelivered: whether the broker delivered this message before.

    Returns:
        A plain dict for diagnostics: the try, the state the API recorded, and why.
    """
    try:
        workload = decode_workload(payload)
    except msgspec.DecodeError as exc:
        # The payload may hold a token: log why it is unreadable, never the payload itself.
        log.error("dropping a message that is not an airlock workload: %s", exc)  # noqa: TRY400
        return {"error": f"not an airlock workload: {exc}"}
    try:
        outcome = runtime.run(workload)
    except Exception as exc:  # a bug must not make Celery retry, nor log the payload
        log.exception("worker %s could not supervise %r", worker, workload)
        return {"ti_id": workload.ti.id, "error": f"{type(exc).__name__}: {exc}"}
    _log_outcome(workload, outcome, worker=worker, redelivered=redelivered)
    return {
        "ti_id": workload.ti.id,
        "try_number": workload.ti.try_number,
        "state": outcome.state,
        "reason": outcome.reason,
    }


def _log_outcome(
    workload: ExecuteTask, outcome: TaskOutcome, *, worker: str, redelivered: bool
) -> None:
    again = " (redelivered)" if redelivered else ""
    if outcome.state is not None:
        log.info("worker %s ran %r%s: %s", worker, workload, again, outcome.state)
        return
    log.warning(
        "worker %s: %r%s ended with no state recorded: %s. The message is acknowledged and "
        "Celery will not retry it: the scheduler's timeouts decide what becomes of the try",
        worker,
        workload,
        again,
        outcome.reason,
    )


def register_workload_task(app: Celery, holder: RuntimeHolder) -> None:
    """Register the task that runs workloads on ``app``, using ``holder``'s runtime."""

    def execute_workload(task: Task[Any, Any], payload: str) -> Any:
        delivery = task.request.delivery_info or {}
        return run_workload(
            holder.get(),
            payload,
            worker=str(task.request.hostname),
            redelivered=bool(delivery.get("redelivered")),
        )

    app.task(
        name=TASK_NAME,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        typing=False,
    )(execute_workload)


@dataclass(frozen=True, kw_only=True)
class CeleryWorkerOptions:
    """How ``airlock celery worker`` runs.

    Attributes:
        queues: the Celery queues to consume (operators' ``queue=``).
        concurrency: tries run at once by this worker.
        pool: Celery's pool: ``threads`` (one process, one supervisor for all its tries),
            ``prefork`` (a supervisor per pool process) or ``solo`` (one try at a time).
        name: the worker's node name (``name`` or ``name@host``); default ``airlock-<pid>@<host>``.
        loglevel: the log level of the worker's own log.
        logfile: where the worker logs; default stderr.
        api_url: the Execution API's root URL; default ``settings.api_url``.
    """

    queues: tuple[str, ...] = (DEFAULT_QUEUE,)
    concurrency: int
    pool: str = "threads"
    name: str | None = None
    loglevel: str = "INFO"
    logfile: str | None = None
    api_url: str | None = None


def start_worker(settings: Settings, options: CeleryWorkerOptions) -> int:
    """Run a Celery worker supervising the workloads of ``options.queues`` until it stops.

    Returns:
        The worker's exit code (0 after a warm shutdown).
    """
    keep_memory_private()
    app = create_celery_app(settings)
    api_url = options.api_url or settings.api_url
    holder = RuntimeHolder(lambda: WorkerRuntime(settings, api_url=api_url))
    register_workload_task(app, holder)
    signals.worker_process_shutdown.connect(lambda **_: holder.close(), weak=False)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per API call
    _warn_if_unreachable(api_url)
    worker = app.Worker(
        hostname=node_name(options.name),
        queues=list(options.queues),
        concurrency=options.concurrency,
        pool_cls=options.pool,
        loglevel=options.loglevel,
        logfile=options.logfile,
        without_mingle=True,
        without_gossip=True,
    )
    try:
        worker.start()
    finally:
        holder.close()
    return int(worker.exitcode or 0)


def keep_memory_private() -> bool:
    """Make this process non-dumpable, so task code cannot read its tokens from ``/proc``.

    Runners run as the worker's user. Without this, a task could read the worker's
    ``/proc/<pid>/environ`` (the broker URL and its password) and, where ptrace rules allow,
    ``/proc/<pid>/mem`` (the tokens of every try the worker supervises). A non-dumpable process's
    ``/proc`` entries belong to root, and no core dump is written. It does not hold against
    root, and is inherited by forks, not across ``exec``: the fork server and runners are exec'd.

    Returns:
        Whether the kernel accepted (Linux only).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):  # not Linux
        return False


_PR_SET_DUMPABLE: Final = 4


def node_name(name: str | None) -> str:
    """The worker's Celery node name: ``name@<host>`` (``%h`` is this host's name)."""
    name = name or f"airlock-{os.getpid()}"
    return host_format(name if "@" in name else f"{name}@%h")


def _warn_if_unreachable(api_url: str) -> None:
    try:
        httpx.get(f"{api_url}{API_PREFIX}/health", timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning(
            "the Execution API at %s does not answer (%s): tries delivered to this worker fail "
            "to start until it does; check AIRLOCK_API_BASE_URL or --api-url",
            api_url,
            exc,
        )
