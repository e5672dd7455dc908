"""The workload: what an executor hands a supervisor to run one try of a task instance."""

from __future__ import annotations

import msgspec

from airlock.api.models import TaskInstanceKey  # noqa: TC001 -- msgspec resolves it at runtime


class ExecuteTask(msgspec.Struct, frozen=True, kw_only=True):
    """Run one try: who it is, the DAG file that defines it, and the token to act with.

    ``token`` is a workload-scoped token, good only for starting this try; the supervisor
    exchanges it for an execution token on ``/run``. It never reaches the runner.
    """

    ti: TaskInstanceKey
    dag_file: str
    token: str
    log_path: str
    execution_timeout: float | None = None

    def __repr__(self) -> str:
        ti = self.ti
        return f"ExecuteTask({ti.dag_id}.{ti.task_id} run={ti.run_id} try={ti.try_number})"
