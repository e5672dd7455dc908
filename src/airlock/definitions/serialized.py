"""A DAG as the scheduler sees it: its structure and task settings, no user code.

A DAG file is imported in a separate process (the parser); what crosses back into the trusted
scheduler is this plain data, never the user's objects.
"""

from __future__ import annotations

from datetime import datetime  # noqa: TC003 -- msgspec resolves annotations at runtime
from typing import Any, Literal

import msgspec


class MapSource(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """Where one mapped argument's items come from, enough to count them without user code.

    ``kind`` is ``literal`` (``length`` items given in the DAG file), ``xcom`` (the XCom ``key``
    of task ``task_id``: its items, or one item per mapped task instance when that task is
    mapped), or a transform of ``args``: ``map`` (same length), ``zip`` (the shortest, or the
    longest when ``fill``), ``concat`` (the sum).
    """

    kind: Literal["literal", "xcom", "map", "zip", "concat"]
    length: int | None = None
    task_id: str | None = None
    key: str = "return_value"
    args: tuple[MapSource, ...] = ()
    fill: bool = False


class ExpandSpec(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """How a mapped task is expanded, as plain data the scheduler counts from.

    ``product``: one task instance per combination of the mapped arguments' items
    (``expand(**kwargs)``); ``list``: one per dict of a list of kwargs (``expand_kwargs``).
    """

    kind: Literal["product", "list"]
    sources: tuple[MapSource, ...]


class SerializedParam(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A param's declaration: its default (``has_default`` tells None from absent) and schema."""

    default: Any = None
    has_default: bool = True
    description: str | None = None
    schema: dict[str, Any] = msgspec.field(default_factory=dict)


class SerializedTask(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One task's scheduling-relevant settings. Durations are in seconds.

    ``expand`` is set for a task that runs as mapped task instances (a mapped operator, or a
    task of a mapped task group, whose id is ``mapped_group_id``).
    """

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
    params: dict[str, SerializedParam] = msgspec.field(default_factory=dict)
    """The params the task declares beyond (or differently from) its DAG's."""
    task_group_id: str | None = None
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False
    expand: ExpandSpec | None = None
    mapped_group_id: str | None = None
    map_index_template: str | None = None
    run_as_user: str | None = None
    """The Unix user the task's runner runs as (the supervisor switches to it)."""
    memory_limit: int | None = None
    """Bytes the task's runner may use, from ``executor_config={"memory_limit": ...}``."""


class SerializedDag(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One DAG's structure. ``tasks`` is in topological order (upstream before downstream)."""

    dag_id: str
    fileloc: str
    tasks: tuple[SerializedTask, ...]
    description: str | None = None
    tags: tuple[str, ...] = ()
    params: dict[str, SerializedParam] = msgspec.field(default_factory=dict)
    """The DAG's params, validated (with the run's conf) when a run is created."""
    has_on_success_callback: bool = False
    has_on_failure_callback: bool = False
    max_active_tasks: int = 16
    max_active_runs: int = 16
    schedule: str | float | None = None
    """A cron string or preset (``@daily``, ``@once``...), seconds of a timedelta, or None."""
    start_date: datetime | None = None
    end_date: datetime | None = None
    catchup: bool = False
    is_paused_upon_creation: bool | None = None

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
