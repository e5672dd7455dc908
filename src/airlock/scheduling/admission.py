"""Which scheduled task instances may be queued now: pools and concurrency limits.

A try occupies its slots from the moment it is queued until it finishes. Four limits apply:

* the caller's ``limit`` (free executor slots, when the caller knows them);
* ``max_active_tasks`` of the DAG: queued + running task instances of all its runs;
* ``max_active_tis_per_dag`` of a task: queued + running instances of that task in all runs
  (every mapped index counts);
* the task's **pool**: the sum of ``pool_slots`` of its queued + running task instances, across
  every DAG, may not exceed the pool's ``slots``. A pool that has no row (for example in the
  throw-away database of ``airlock dags test``) does not limit anything.

Two schedulers must not both spend the last slot: admission locks the DAG's row and the pools'
rows (``SELECT ... FOR UPDATE``, always in the order DAG, then pools by name) before counting, so
a second scheduler waits until the first has committed and then counts its queued tries. On
SQLite, the write transaction (``BEGIN IMMEDIATE``) already serialises schedulers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from airlock.db.models import DagModel, Pool, TaskInstance
from airlock.states import TaskInstanceState as TIState

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.orm import Session

    from airlock.definitions.serialized import SerializedDag

ACTIVE_STATES = (TIState.QUEUED, TIState.RUNNING)
"""States in which a try holds its slots."""


@dataclass
class _Room:
    """What is left under each limit while admitting, updated as tries are admitted."""

    dag: int
    per_task: dict[str, int]
    pools: dict[str, int]
    total: int | None

    def fits(self, ti: TaskInstance) -> bool:
        if self.dag <= 0 or (self.total is not None and self.total <= 0):
            return False
        if self.per_task.get(ti.task_id, 1) <= 0:
            return False
        return self.pools.get(ti.pool, ti.pool_slots) >= ti.pool_slots

    def take(self, ti: TaskInstance) -> None:
        self.dag -= 1
        if self.total is not None:
            self.total -= 1
        if ti.task_id in self.per_task:
            self.per_task[ti.task_id] -= 1
        if ti.pool in self.pools:
            self.pools[ti.pool] -= ti.pool_slots


def admit(
    session: Session,
    dag: SerializedDag,
    candidates: Sequence[TaskInstance],
    *,
    limit: int | None = None,
) -> list[TaskInstance]:
    """Return the candidates that may be queued now, highest ``priority_weight`` first.

    Args:
        session: the scheduling pass's session (its transaction holds the locks taken here).
        dag: the DAG the candidates belong to.
        candidates: scheduled task instances of ``dag``, in the DAG's order.
        limit: at most this many, when the caller has fewer free executor slots.
    """
    if not candidates or (limit is not None and limit <= 0):
        return []
    _lock_dag(session, dag.dag_id)
    room = _Room(
        dag=dag.max_active_tasks - _active_count(session, dag.dag_id),
        per_task=_task_room(session, dag, candidates),
        pools=_pool_room(session, {ti.pool for ti in candidates}),
        total=limit,
    )
    admitted: list[TaskInstance] = []
    for ti in sorted(candidates, key=lambda ti: -ti.priority_weight):  # stable: DAG order kept
        if room.fits(ti):
            room.take(ti)
            admitted.append(ti)
    return admitted


def _lock_dag(session: Session, dag_id: str) -> None:
    session.execute(select(DagModel.dag_id).where(DagModel.dag_id == dag_id).with_for_update())


def _active_count(session: Session, dag_id: str) -> int:
    query = select(func.count()).where(
        TaskInstance.dag_id == dag_id, TaskInstance.state.in_(ACTIVE_STATES)
    )
    return int(session.scalar(query) or 0)


def _task_room(
    session: Session, dag: SerializedDag, candidates: Iterable[TaskInstance]
) -> dict[str, int]:
    limits = {
        ti.task_id: limit
        for ti in candidates
        if (limit := dag.task(ti.task_id).max_active_tis_per_dag) is not None
    }
    if not limits:
        return {}
    query = (
        select(TaskInstance.task_id, func.count())
        .where(
            TaskInstance.dag_id == dag.dag_id,
            TaskInstance.task_id.in_(limits),
            TaskInstance.state.in_(ACTIVE_STATES),
        )
        .group_by(TaskInstance.task_id)
    )
    active: Counter[str] = Counter(dict(session.execute(query).all()))
    return {task_id: limit - active[task_id] for task_id, limit in limits.items()}


def _pool_room(session: Session, names: set[str]) -> dict[str, int]:
    """Free slots of each existing pool among ``names``, with the pools' rows locked."""
    pools = session.execute(
        select(Pool.name, Pool.slots)
        .where(Pool.name.in_(sorted(names)))
        .order_by(Pool.name)
        .with_for_update()
    )
    slots: dict[str, int] = {row[0]: row[1] for row in pools}
    if not slots:
        return {}
    return {name: total - used_slots(session, name) for name, total in slots.items()}


def used_slots(session: Session, pool: str) -> int:
    """Slots of ``pool`` held by queued and running task instances."""
    query = select(func.coalesce(func.sum(TaskInstance.pool_slots), 0)).where(
        TaskInstance.pool == pool, TaskInstance.state.in_(ACTIVE_STATES)
    )
    return int(session.scalar(query) or 0)
