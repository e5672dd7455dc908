"""Turning a DAG into plain data (:class:`~airlock.definitions.serialized.SerializedDag`).

What leaves the parser for the scheduler is JSON-safe data only, never the user's objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from airlock.definitions.serialized import SerializedDag, SerializedTask
from airlock.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from datetime import timedelta

    from airlock.definitions.baseoperator import BaseOperator
    from airlock.definitions.dag import DAG

_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()


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
        params={name: _json_param(dag.dag_id, name, value) for name, value in dag.params.items()},
        max_active_tasks=dag.max_active_tasks,
        max_active_runs=dag.max_active_runs,
    )


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
    )


def _seconds(duration: timedelta | None) -> float | None:
    """Return a duration in seconds, or None."""
    return None if duration is None else duration.total_seconds()


def _json_param(dag_id: str, name: str, value: Any) -> Any:
    """Return a param value as plain JSON data (dicts, lists, str, numbers, bool, None).

    Raises:
        DagDefinitionError: the value has no JSON form.
    """
    try:
        return _json_decoder.decode(_json_encoder.encode(value))
    except (TypeError, msgspec.EncodeError) as error:
        raise DagDefinitionError(
            f"param {name!r} of DAG {dag_id!r} cannot be stored as JSON "
            f"({type(value).__name__}: {error}); use str, numbers, bool, None, lists and dicts"
        ) from error
