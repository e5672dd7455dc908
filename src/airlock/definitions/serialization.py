"""Turning a DAG into plain data (:class:`~airlock.definitions.serialized.SerializedDag`).

What leaves the parser for the scheduler is JSON-safe data only, never the user's objects.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airlock.definitions import params
from airlock.definitions.serialized import SerializedDag, SerializedTask
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from datetime import timedelta

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.dag import DAG


def serialize_dag(dag: DAG) -> SerializedDag:
    """Return the scheduling-relevant structure of ``dag`` as plain data.

    Tasks come in topological order; durations are in seconds.

    Raises:
        CycleError: the DAG's dependencies form a cycle.
        DagDefinitionError: a param's value cannot be represented as JSON.
    """
    return SerializedDag(
        dag_id=dag.dag_id,
        fileloc=dag.fileloc,
        tasks=tuple(serialize_task(task) for task in dag.topological_sort()),
        description=dag.description,
        tags=tuple(sorted(dag.tags)),
        params=params.dag_param_specs(dag),
        has_on_success_callback=bool(dag.on_success_callback),
        has_on_failure_callback=bool(dag.on_failure_callback),
        max_active_tasks=dag.max_active_tasks,
        max_active_runs=dag.max_active_runs,
        **_schedule_fields(dag),
    )


def _schedule_fields(dag: DAG) -> dict[str, Any]:
    """Return the fields that say when the scheduler creates runs of ``dag``.

    Raises:
        DagDefinitionError: the schedule is neither a string, a timedelta, nor None.
    """
    return {
        "schedule": _schedule(dag.dag_id, dag.schedule),
        "start_date": _utc(dag.start_date),
        "end_date": _utc(dag.end_date),
        "catchup": bool(dag.catchup),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
    }


def _schedule(dag_id: str, schedule: Any) -> str | float | None:
    if schedule is None or isinstance(schedule, str):
        return schedule
    if isinstance(schedule, dt.timedelta):
        if schedule.total_seconds() <= 0:
            raise DagDefinitionError(f"DAG {dag_id!r}: a timedelta schedule must be positive")
        return schedule.total_seconds()
    raise DagDefinitionError(
        f"DAG {dag_id!r}: schedule {schedule!r} is not supported; use a cron string, a preset "
        "such as '@daily', a datetime.timedelta, or None"
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """Return ``value`` as an aware datetime; a naive one is read as UTC, as Airflow does.

    A datetime subclass (pendulum's, in DAG files written for Airflow) becomes a plain one.
    """
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if type(aware) is not dt.datetime:
        aware = dt.datetime.fromisoformat(aware.isoformat())
    return aware


def serialize_task(task: BaseOperator) -> SerializedTask:
    """Return the scheduling-relevant settings of one task as plain data."""
    return SerializedTask(
        task_id=task.task_id,
        operator=task.task_type,
        upstream_task_ids=tuple(sorted(task.upstream_task_ids)),
        trigger_rule=str(task.trigger_rule),
        retries=task.retries,
        retry_delay=task.retry_delay.total_seconds(),
        retry_exponential_backoff=task.retry_exponential_backoff,
        max_retry_delay=_seconds(task.max_retry_delay),
        execution_timeout=_seconds(task.execution_timeout),
        queue=task.queue,
        pool=task.pool,
        pool_slots=task.pool_slots,
        priority_weight=task.priority_weight,
        max_active_tis_per_dag=task.max_active_tis_per_dag,
        **_structure_fields(task),
        params=params.task_param_specs(task),
        run_as_user=task.run_as_user,
        memory_limit=_memory_limit(task),
    )


def _memory_limit(task: BaseOperator) -> int | None:
    """Return ``executor_config["memory_limit"]`` (bytes), checked.

    Raises:
        DagDefinitionError: the limit is not a positive whole number of bytes.
    """
    limit = task.executor_config.get("memory_limit")
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise DagDefinitionError(
            f"task {task.task_id!r}: executor_config['memory_limit'] must be a positive number "
            f"of bytes (e.g. 512 * 1024**2), not {limit!r}"
        )
    return limit


def _structure_fields(task: BaseOperator) -> dict[str, Any]:
    """Return the task's group, setup/teardown role and mapping, as plain data."""
    from airlock.definitions.mapped import expand_input_of  # noqa: PLC0415 -- import cycle

    expand_input = expand_input_of(task)
    mapped_group = task.get_closest_mapped_task_group()
    return {
        "task_group_id": task.task_group.group_id if task.task_group is not None else None,
        "is_setup": task.is_setup,
        "is_teardown": task.is_teardown,
        "on_failure_fail_dagrun": task.on_failure_fail_dagrun,
        "expand": expand_input.spec() if expand_input is not None else None,
        "mapped_group_id": mapped_group.group_id if mapped_group is not None else None,
        "map_index_template": task.map_index_template,
    }


def _seconds(duration: timedelta | None) -> float | None:
    """Return a duration in seconds, or None."""
    return None if duration is None else duration.total_seconds()
