"""The task runner: the process that runs one task instance's user code.

The supervisor starts it (``python -m airlock.execution.runner``) with the request socket on
fd 0, stdout and stderr on pipes of their own, and the log channel on the fd named by
``AIRLOCK_LOG_FD``. The runner moves the socket off fd 0 (so task code that reads stdin cannot
steal protocol frames), reads ``StartupDetails``, loads the DAG file, runs the task and reports
how it ended. It never holds a token and imports nothing of the server side.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from airlock.definitions.context import set_current_context
from airlock.exceptions import (
    AirlockError,
    AirlockFailException,
    AirlockSkipException,
    AirlockTaskTerminated,
    AirlockTaskTimeout,
    ProtocolError,
)
from airlock.execution import callbacks, comms, log_channel
from airlock.execution.comms import SupervisorChannel
from airlock.execution.context import RuntimeTaskInstance, build_context
from airlock.execution.lazy_sequence import LazyXComSequence
from airlock.execution.protocol import (
    PARENT_PID_ENV,
    PROTOCOL_VERSION,
    OKResponse,
    RetryTask,
    StartupDetails,
    SucceedTask,
    TaskState,
    TerminalMessage,
)
from airlock.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.context import Context

log = logging.getLogger("airlock.runner")

MAX_REASON_LENGTH = 1000


def main() -> int:
    """Run the task instance the supervisor sends, report its outcome, return the exit code."""
    settings = Settings.from_env()
    channel = SupervisorChannel(_take_request_socket(), max_frame_bytes=settings.max_frame_bytes)
    _setup_output()
    startup = channel.read_startup()
    if startup.protocol_version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"supervisor speaks protocol {startup.protocol_version}, this runner speaks "
            f"{PROTOCOL_VERSION}: install the same airlock version on both"
        )
    comms.install_channel(channel)
    run_task_instance(startup, channel, settings)
    return 0


def run_task_instance(
    startup: StartupDetails, channel: SupervisorChannel, settings: Settings
) -> TerminalMessage:
    """Load the task, run it, report how it ended, then run its state callbacks.

    Returns the message that reported the outcome.
    """
    should_retry = startup.run_context.should_retry
    try:
        task, context = _prepare(startup, channel, settings)
    except Exception as exc:  # a DAG file that no longer loads fails this try like any error
        log.exception("could not load task %s", startup.ti.task_id)
        outcome = _failure(exc, should_retry=should_retry)
        channel.call(outcome, OKResponse)
        return outcome
    with set_current_context(context):
        outcome, error = _execute(
            task,
            context,
            should_retry=should_retry,
            prepare=lambda: callbacks.prepare_to_execute(
                task, context, channel, settings.max_templated_field_length
            ),
        )
        channel.call(outcome, OKResponse)
        callbacks.run_state_callbacks(task, context, outcome, error)
    return outcome


def _prepare(
    startup: StartupDetails, channel: SupervisorChannel, settings: Settings
) -> tuple[BaseOperator, Context]:
    from airlock.compat import install_from_env  # noqa: PLC0415 -- after the socket is set up
    from airlock.definitions.loader import load_dag  # noqa: PLC0415 -- after the socket is set up

    install_from_env()  # --compat airflow: the Airflow import shim, before the DAG file runs
    dag = load_dag(startup.dag_file, startup.ti.dag_id)
    task = dag.get_task(startup.ti.task_id)
    ti = RuntimeTaskInstance(
        startup.ti,
        startup.run_context,
        task=task,
        channel=channel,
        xcom_max_bytes=settings.xcom_max_bytes,
    )
    context = build_context(ti, task, dag)
    if task.is_mapped:
        task = _unmapped(task, context)
        ti.task = task
        context["task"] = task
    return task, context


def _unmapped(task: BaseOperator, context: Context) -> BaseOperator:
    """Return the plain operator a mapped task instance runs, built with its own item."""
    from airlock.definitions.mapped import MappedOperator  # noqa: PLC0415 -- mapped tasks only

    if not isinstance(task, MappedOperator):  # pragma: no cover -- is_mapped says it is one
        return task
    return task.unmap(context)


def _execute(
    task: BaseOperator,
    context: Context,
    *,
    should_retry: bool,
    prepare: Callable[[], None] = lambda: None,
) -> tuple[TerminalMessage, BaseException | None]:
    """Prepare (render templates, on_execute), execute, push the result; say how it ended."""
    try:
        prepare()
        result = _call_execute(task, context)
        _push_result(task, context, result)
    except AirlockSkipException as exc:
        log.info("task skipped: %s", str(exc) or "AirlockSkipException raised")
        return TaskState(state="skipped", reason=_reason(exc)), None
    except AirlockFailException as exc:
        log.error("task failed without retry: %s", exc)  # noqa: TRY400 -- the reason, no trace
        return TaskState(state="failed", reason=_reason(exc)), exc
    except (Exception, AirlockTaskTimeout, AirlockTaskTerminated, SystemExit) as exc:
        log.exception("task failed")
        return _failure(exc, should_retry=should_retry), exc
    return SucceedTask(), None


def _call_execute(task: BaseOperator, context: Context) -> Any:
    timeout = task.execution_timeout
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    if timeout is not None:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout.total_seconds())
    try:
        task.pre_execute(context)
        result = task.execute(context)
        task.post_execute(context, result)
    except (AirlockTaskTimeout, AirlockTaskTerminated):
        task.on_kill()
        raise
    finally:
        if timeout is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGTERM, previous)
    return result


def _on_alarm(_signum: int, _frame: FrameType | None) -> NoReturn:
    raise AirlockTaskTimeout("the task ran past its execution_timeout")


def _on_sigterm(_signum: int, _frame: FrameType | None) -> NoReturn:
    raise AirlockTaskTerminated("the task was stopped by its supervisor (SIGTERM)")


def _push_result(task: BaseOperator, context: Context, result: Any) -> None:
    if task.downstream_task_ids and not task.needs_expansion:
        _check_mappable_result(task, result)
    if result is None or not task.do_xcom_push:
        return
    if isinstance(result, LazyXComSequence):
        result = result.values()  # a reduce task handing its input on: store the plain values
    ti = context["ti"]
    if task.multiple_outputs:
        if not isinstance(result, dict) or not all(isinstance(k, str) for k in result):
            raise TypeError(
                f"task {task.task_id!r} has multiple_outputs=True, so it must return a dict "
                f"with str keys; it returned {type(result).__name__}"
            )
        for key, value in result.items():
            ti.xcom_push(key, value)
    ti.xcom_push("return_value", result)


def _check_mappable_result(task: BaseOperator, result: Any) -> None:
    """Fail clearly when a task that mapped tasks expand over returned nothing to map over.

    Raises:
        TypeError: the result is not a list, tuple or dict (or was not stored).
    """
    from airlock.definitions.mapped import mapped_consumers  # noqa: PLC0415 -- mapped DAGs only

    consumers = mapped_consumers(task)
    if not consumers:
        return
    names = ", ".join(map(repr, consumers))
    if result is None or not task.do_xcom_push:
        raise TypeError(
            f"task {task.task_id!r} stored no return value, but {names} expand over it: "
            "return a list or dict (and keep do_xcom_push=True)"
        )
    if not isinstance(result, list | tuple | dict):
        raise TypeError(
            f"task {task.task_id!r} returned a value of type {type(result).__name__}, but "
            f"{names} expand over it: return a list, tuple or dict"
        )


def _failure(exc: BaseException, *, should_retry: bool) -> TerminalMessage:
    if should_retry:
        return RetryTask(reason=_reason(exc))
    return TaskState(state="failed", reason=_reason(exc))


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_REASON_LENGTH]


def _take_request_socket() -> socket.socket:
    """Move the request socket from fd 0 to a private fd and put /dev/null on fd 0."""
    private_fd = os.dup(0)  # os.dup makes the new fd non-inheritable
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return socket.socket(fileno=private_fd)


def _setup_output() -> None:
    log_fd = int(os.environ.pop(log_channel.LOG_FD_ENV))
    os.set_inheritable(log_fd, False)  # noqa: FBT003 -- os API
    log_channel.install(log_fd)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[union-attr]


def run_and_exit() -> NoReturn:
    """Run ``main`` and exit the process with its code, skipping interpreter teardown."""
    _die_with_parent()
    try:
        code = main()
    except (AirlockError, OSError) as exc:
        print(f"airlock runner: {exc}", file=sys.stderr)  # noqa: T201 -- last-resort report
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: the task is done and reported


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this runner if its parent (supervisor or fork server) dies.

    A parent that died before the request was made is caught by comparing the parent pid with
    the one the parent wrote into ``AIRLOCK_PARENT_PID``: the runner then exits at once.
    """
    expected = os.environ.pop(PARENT_PID_ENV, None)
    try:
        import ctypes  # noqa: PLC0415 -- Linux only, and cheap once the fork server loaded it

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the socket's EOF still ends the runner
        return
    if expected is not None and os.getppid() != int(expected):
        os._exit(1)  # orphaned before the kernel could be asked to watch: nobody supervises us


_PR_SET_PDEATHSIG = 1


if __name__ == "__main__":
    run_and_exit()
