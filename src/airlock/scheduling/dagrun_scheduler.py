"""One scheduling pass over a DAG run: settle what can be settled, queue what is ready.

A pass walks the DAG's tasks in topological order, so a skip or an upstream failure flows all
the way down in one pass. It applies each waiting task's trigger rule, brings up_for_retry task
instances back once their retry delay has passed, queues the ready ones (their next try begins:
``try_number`` goes up by one), and finishes the run when every task instance is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from airlock.api.models import TaskInstanceKey
from airlock.db.models import DagRun, TaskInstance
from airlock.scheduling.trigger_rules import Decision, UpstreamStates, decide
from airlock.states import (
    FAILED_TI_STATES,
    FINISHED_RUN_STATES,
    FINISHED_TI_STATES,
    DagRunState,
)
from airlock.states import TaskInstanceState as TIState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airlock.definitions.serialized import SerializedDag, SerializedTask


@dataclass(frozen=True)
class QueuedTry:
    """A task instance try the pass queued: hand it to an executor."""

    key: TaskInstanceKey
    execution_timeout: float | None
    queue: str


@dataclass
class SchedulingPass:
    """What one pass did and what it found."""

    run_state: str
    queued: list[QueuedTry] = field(default_factory=list)
    next_retry_at: datetime | None = None
    """When the earliest up_for_retry task instance becomes due, if any."""


def retry_delay(task: SerializedTask, try_number: int) -> timedelta:
    """How long to wait after try ``try_number`` failed before the next one starts."""
    seconds = task.retry_delay
    if task.retry_exponential_backoff:
        seconds *= 2 ** max(0, try_number - 1)
    if task.max_retry_delay is not None:
        seconds = min(seconds, task.max_retry_delay)
    return timedelta(seconds=seconds)


def schedule_dag_run(
    session: Session, dag: SerializedDag, run_id: str, *, now: datetime, limit: int | None = None
) -> SchedulingPass:
    """Run one scheduling pass over the run ``run_id`` of ``dag``; queue at most ``limit``."""
    run = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id).with_for_update()
    ).one()
    if run.state in FINISHED_RUN_STATES:
        return SchedulingPass(run_state=run.state)
    tis = _task_instances(session, dag.dag_id, run_id)
    result = SchedulingPass(run_state=run.state)
    for task in dag.tasks:
        _advance(task, tis, now, result)
    result.queued = _queue_ready(session, dag, tis, now, limit)
    _update_run_state(run, dag, tis, now)
    result.run_state = run.state
    return result


def _task_instances(session: Session, dag_id: str, run_id: str) -> dict[str, TaskInstance]:
    query = select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    return {ti.task_id: ti for ti in session.scalars(query)}


def _advance(
    task: SerializedTask, tis: dict[str, TaskInstance], now: datetime, result: SchedulingPass
) -> None:
    ti = tis[task.task_id]
    if ti.state is None:
        upstream = UpstreamStates.count([tis[up].state for up in task.upstream_task_ids])
        _apply(ti, decide(task.trigger_rule, upstream), now)
    elif ti.state == TIState.UP_FOR_RETRY:
        due = (ti.end_date or now) + retry_delay(task, ti.try_number)
        if due <= now:
            _set_state(ti, TIState.SCHEDULED, now)
        elif result.next_retry_at is None or due < result.next_retry_at:
            result.next_retry_at = due


def _apply(ti: TaskInstance, decision: Decision, now: datetime) -> None:
    if decision is Decision.RUN:
        _set_state(ti, TIState.SCHEDULED, now)
    elif decision is Decision.SKIP:
        _set_state(ti, TIState.SKIPPED, now)
        ti.end_date = now
    elif decision is Decision.UPSTREAM_FAILED:
        _set_state(ti, TIState.UPSTREAM_FAILED, now)
        ti.end_date = now


def _set_state(ti: TaskInstance, state: TIState, now: datetime) -> None:
    ti.state = state
    ti.updated_at = now


def _queue_ready(
    session: Session,
    dag: SerializedDag,
    tis: dict[str, TaskInstance],
    now: datetime,
    limit: int | None,
) -> list[QueuedTry]:
    room = dag.max_active_tasks - _active_count(session, dag.dag_id)
    if limit is not None:
        room = min(room, limit)
    queued: list[QueuedTry] = []
    for task in dag.tasks:
        ti = tis[task.task_id]
        if len(queued) >= room:
            break
        if ti.state == TIState.SCHEDULED:
            queued.append(_queue(ti, task, now))
    return queued


def _active_count(session: Session, dag_id: str) -> int:
    query = select(func.count()).where(
        TaskInstance.dag_id == dag_id, TaskInstance.state.in_([TIState.QUEUED, TIState.RUNNING])
    )
    return int(session.scalar(query) or 0)


def _queue(ti: TaskInstance, task: SerializedTask, now: datetime) -> QueuedTry:
    _set_state(ti, TIState.QUEUED, now)
    ti.try_number += 1
    ti.queued_at = now
    ti.end_date = None
    key = TaskInstanceKey(
        id=ti.id,
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        try_number=ti.try_number,
    )
    return QueuedTry(key=key, execution_timeout=task.execution_timeout, queue=task.queue)


def _update_run_state(
    run: DagRun, dag: SerializedDag, tis: dict[str, TaskInstance], now: datetime
) -> None:
    if run.state == DagRunState.QUEUED and any(ti.state is not None for ti in tis.values()):
        run.state = DagRunState.RUNNING
        run.start_date = run.start_date or now
    if not all(ti.state in FINISHED_TI_STATES for ti in tis.values()):
        return
    downstream = {up for task in dag.tasks for up in task.upstream_task_ids}
    leaves = [tis[task.task_id] for task in dag.tasks if task.task_id not in downstream]
    failed = any(ti.state in FAILED_TI_STATES for ti in leaves)
    run.state = DagRunState.FAILED if failed else DagRunState.SUCCESS
    run.end_date = now
