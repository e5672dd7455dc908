"""The workload: what an executor hands a supervisor to run one try of a task instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from airlock.api.models import (  # noqa: TC001 -- msgspec resolves them at runtime
    TaskInstanceKey,
    TIRunContext,
)
from airlock.execution.log_sink import log_relative_path

if TYPE_CHECKING:
    from airlock.definitions.serialized import SerializedDag, SerializedTask


class ExecuteTask(msgspec.Struct, frozen=True, kw_only=True):
    """Run one try: who it is, the DAG file that defines it, and the token to act with.

    ``token`` is a workload-scoped token, good only for starting this try; the supervisor
    exchanges it for an execution token on ``/run``. It never reaches the runner. A local
    worker that claims with ``start`` gets tries already started for it instead: then
    ``run_context`` is set, ``token`` is an execution token, and there is no ``/run`` to call.
    ``run_as_user`` and ``memory_limit`` (bytes) are the task's own; when unset, the worker's
    ``default_run_as_user`` and ``runner_memory_limit`` settings apply.
    """

    ti: TaskInstanceKey
    dag_file: str
    token: str
    log_path: str
    execution_timeout: float | None = None
    run_as_user: str | None = None
    memory_limit: int | None = None
    run_context: TIRunContext | None = None

    def __repr__(self) -> str:
        ti = self.ti
        return f"ExecuteTask({ti.dag_id}.{ti.task_id} run={ti.run_id} try={ti.try_number})"


def workload_for(key: TaskInstanceKey, dag: SerializedDag, token: str) -> ExecuteTask:
    """The workload of try ``key`` of a task of ``dag``, acting with ``token``.

    The task's ``execution_timeout``, ``run_as_user`` and ``memory_limit`` come from the DAG; a
    task the DAG no longer has asks for none of them (the worker's defaults apply).
    """
    try:
        task: SerializedTask | None = dag.task(key.task_id)
    except KeyError:
        task = None
    return ExecuteTask(
        ti=key,
        dag_file=dag.fileloc,
        token=token,
        log_path=log_relative_path(
            key.dag_id, key.run_id, key.task_id, key.map_index, key.try_number
        ),
        execution_timeout=task.execution_timeout if task else None,
        run_as_user=task.run_as_user if task else None,
        memory_limit=task.memory_limit if task else None,
    )
