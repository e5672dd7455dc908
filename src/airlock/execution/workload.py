"""The workload: what an executor hands a supervisor to run one try of a task instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import msgspec

from airlock.api.models import (  # noqa: TC001 -- msgspec resolves them at runtime
    TaskInstanceKey,
    TIRunContext,
)

if TYPE_CHECKING:
    from airlock.definitions.serialized import SerializedDag


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


class RunnerFields(TypedDict):
    """The fields of an ``ExecuteTask`` that say how its runner process is confined."""

    run_as_user: str | None
    memory_limit: int | None


def runner_fields(dag: SerializedDag, task_id: str) -> RunnerFields:
    """The ``run_as_user`` and ``memory_limit`` task ``task_id`` of ``dag`` asks for.

    A task the DAG no longer has asks for nothing: the worker's defaults apply.
    """
    try:
        task = dag.task(task_id)
    except KeyError:
        return RunnerFields(run_as_user=None, memory_limit=None)
    return RunnerFields(run_as_user=task.run_as_user, memory_limit=task.memory_limit)
