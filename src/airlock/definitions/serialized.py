"""A DAG as the scheduler sees it: its structure and task settings, no user code.

A DAG file is imported in a separate process (the parser); what crosses back into the trusted
scheduler is this plain data, never the user's objects.
"""

from __future__ import annotations

from typing import Any

import msgspec


class SerializedTask(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One task's scheduling-relevant settings. Durations are in seconds."""

    task_id: str
    operator: str
    upstream_task_ids: tuple[str, ...] = ()
    trigger_rule: str = "all_success"
    retries: int = 0
    retry_delay: float = 300.0
    retry_exponential_backoff: bool = False
    max_retry_delay: float | None = None
    execution_timeout: float | None = None
    queue: str = "default"
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    max_active_tis_per_dag: int | None = None


class SerializedDag(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One DAG's structure. ``tasks`` is in topological order (upstream before downstream)."""

    dag_id: str
    fileloc: str
    tasks: tuple[SerializedTask, ...]
    description: str | None = None
    tags: tuple[str, ...] = ()
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    max_active_tasks: int = 16
    max_active_runs: int = 16

    def task(self, task_id: str) -> SerializedTask:
        """Return the task with ``task_id``.

        Raises:
            KeyError: the DAG has no such task.
        """
        for task in self.tasks:
            if task.task_id == task_id:
                return task
        raise KeyError(f"DAG {self.dag_id!r} has no task {task_id!r}")


class ParseError(msgspec.Struct, kw_only=True, frozen=True):
    """Why a DAG file could not be parsed: its path, the line (when known), and the message."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ParseResult(msgspec.Struct, kw_only=True, frozen=True):
    """What parsing one DAG file produced: its DAGs, or the error that stopped it."""

    path: str
    dags: tuple[SerializedDag, ...] = ()
    error: ParseError | None = None
    duration: float = 0.0
