"""Handing a finished DAG run's callbacks to a process of their own (the trusted side's half).

:func:`run_dag_callbacks` starts ``airlock.execution.dag_callback_runner`` in its own process
group, with the runner's filtered environment (no token, no database URL, no control-plane
setting), sends it the request on stdin, waits at most ``timeout`` seconds, and writes what it
printed to ``<logs>/dag_id=<dag>/run_id=<run>/dag_callbacks.log``. Whatever the callbacks do,
the run's state is already final: a failing or hanging callback is logged, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

import msgspec

from airlock.execution.dag_callback_runner import DagCallbackRequest
from airlock.execution.process import runner_environment

if TYPE_CHECKING:
    from pathlib import Path

    from airlock.api.models import DagRunInfo

DEFAULT_TIMEOUT = 300.0
"""Seconds a DAG's callbacks may take before their process is killed."""

_MODULE = "airlock.execution.dag_callback_runner"


def callback_log_path(logs_folder: Path, dag_id: str, run_id: str) -> Path:
    """Where the output of a run's DAG callbacks is written."""
    return logs_folder / f"dag_id={dag_id}" / f"run_id={run_id}" / "dag_callbacks.log"


async def run_dag_callbacks(
    *,
    dag_file: str,
    run: DagRunInfo,
    failed: bool,
    logs_folder: Path,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 -- the child's limit, enforced by communicate()
) -> int | None:
    """Run the DAG's success (or failure) callbacks in a child process; return its exit status.

    Returns None when the process ran past ``timeout`` and was killed.
    """
    request = DagCallbackRequest(
        dag_file=dag_file,
        dag_id=run.dag_id,
        run=run,
        is_failure=failed,
        reason="task_failure" if failed else "success",
    )
    path = callback_log_path(logs_folder, run.dag_id, run.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    return await asyncio.to_thread(_run, msgspec.json.encode(request), path, timeout)


def _run(payload: bytes, log_path: Path, timeout: float) -> int | None:
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", _MODULE],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=runner_environment(os.environ),
            start_new_session=True,
        )
        try:
            proc.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            log.write(f"the DAG callbacks ran past {timeout:g}s and were stopped\n".encode())
            return None
    return proc.returncode
