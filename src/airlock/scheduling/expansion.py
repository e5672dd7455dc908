"""Expanding a mapped task into its mapped task instances: counting the items, making the rows.

A mapped task starts as one placeholder task instance (map index -1). Once its input can be
counted, the placeholder becomes map index 0 and indexes ``1..n-1`` are added (all waiting,
each then judged by its trigger rule), or, for an empty input, the placeholder is skipped.

Counting reads plain data only, never user code or XCom values: literal lengths come from the
serialized DAG; an upstream's output counts through the ``length`` the API recorded when the
value was stored (a mapped upstream counts its stored values instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import func, select
from sqlalchemy.orm import load_only

from airlock.db.models import TaskInstance, XCom
from airlock.scheduling.dagruns import new_ti_id
from airlock.states import FINISHED_TI_STATES
from airlock.states import TaskInstanceState as TIState

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from airlock.definitions.serialized import ExpandSpec, MapSource, SerializedTask

DEFAULT_MAX_MAP_LENGTH: Final = 1024
"""The most task instances a mapped task may expand into, unless configured otherwise."""


class CannotExpand(Exception):  # noqa: N818 -- a signal inside this module, never raised to users
    """The input can never be counted; the message says why (it becomes the failure reason)."""


@dataclass(frozen=True)
class RunTaskInstances:
    """Every task instance of one DAG run, by task id, in map index order."""

    by_task: dict[str, list[TaskInstance]]

    def of(self, task_id: str) -> list[TaskInstance]:
        """Return the task instances of ``task_id`` (one, unless mapped)."""
        return self.by_task.get(task_id, [])

    def all(self) -> list[TaskInstance]:
        """Return every task instance of the run."""
        return [ti for tis in self.by_task.values() for ti in tis]


_PASS_COLUMNS: Final = (
    TaskInstance.id,
    TaskInstance.dag_id,
    TaskInstance.run_id,
    TaskInstance.task_id,
    TaskInstance.map_index,
    TaskInstance.state,
    TaskInstance.try_number,
    TaskInstance.max_tries,
    TaskInstance.end_date,
    TaskInstance.operator,
    TaskInstance.queue,
    TaskInstance.pool,
    TaskInstance.pool_slots,
    TaskInstance.priority_weight,
)
"""The columns a scheduling pass reads. The others (timestamps, hostname, pid, ...) are only
written by a pass, which needs no load: skipping them halves the cost of reading a large run."""


def load_task_instances(session: Session, dag_id: str, run_id: str) -> RunTaskInstances:
    """Read the run's task instances, grouped by task and sorted by map index."""
    query = (
        select(TaskInstance)
        .options(load_only(*_PASS_COLUMNS))
        .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        .order_by(TaskInstance.task_id, TaskInstance.map_index)
    )
    by_task: dict[str, list[TaskInstance]] = {}
    for ti in session.scalars(query):
        by_task.setdefault(ti.task_id, []).append(ti)
    return RunTaskInstances(by_task)


@dataclass(frozen=True)
class Counter:
    """Counts a mapped input's items in one DAG run.

    Attributes:
        session: the scheduling pass's session.
        tasks: the DAG's serialized tasks, by id.
        tis: the run's task instances.
    """

    session: Session
    tasks: dict[str, SerializedTask]
    tis: RunTaskInstances

    def count(self, spec: ExpandSpec) -> int | None:
        """Return how many task instances ``spec`` expands into, or None while unknown.

        Raises:
            CannotExpand: an upstream ended without a value to map over, or stored one that is
                not a list or dict.
        """
        lengths = [self._length(source) for source in spec.sources]
        if any(length is None for length in lengths):
            return None
        return math.prod(length for length in lengths if length is not None)

    def _length(self, source: MapSource) -> int | None:
        match source.kind:
            case "literal":
                return source.length
            case "xcom":
                return self._xcom_length(source)
            case "map":
                return self._length(source.args[0])
        lengths = [self._length(arg) for arg in source.args]
        if any(length is None for length in lengths):
            return None
        known = [length for length in lengths if length is not None]
        if source.kind == "concat":
            return sum(known)
        return max(known) if source.fill else min(known)

    def _xcom_length(self, source: MapSource) -> int | None:
        task_id = str(source.task_id)
        upstream = self.tis.of(task_id)
        if not upstream or any(ti.state not in FINISHED_TI_STATES for ti in upstream):
            return None
        if self.tasks[task_id].expand is not None:
            return self._stored_values(upstream[0], source.key)
        if upstream[0].state != TIState.SUCCESS:
            state = upstream[0].state
            raise CannotExpand(f"upstream task {task_id!r} ended {state}: nothing to map over")
        return self._stored_length(upstream[0], source.key)

    def _stored_values(self, ti: TaskInstance, key: str) -> int:
        query = select(func.count()).where(*_xcom_of(ti, key), XCom.map_index >= 0)
        return int(self.session.scalar(query) or 0)

    def _stored_length(self, ti: TaskInstance, key: str) -> int:
        row = self.session.execute(
            select(XCom.length).where(*_xcom_of(ti, key), XCom.map_index == ti.map_index)
        ).first()
        if row is None:
            raise CannotExpand(
                f"upstream task {ti.task_id!r} stored no XCom {key!r} to map over: it must "
                "return a list or dict"
            )
        if row.length is None:
            raise CannotExpand(
                f"upstream task {ti.task_id!r} stored an XCom {key!r} that is not a list, tuple "
                "or dict, so it cannot be mapped over"
            )
        return int(row.length)


def _xcom_of(ti: TaskInstance, key: str) -> tuple[ColumnElement[bool], ...]:
    return (
        XCom.dag_id == ti.dag_id,
        XCom.run_id == ti.run_id,
        XCom.task_id == ti.task_id,
        XCom.key == key,
    )


def expand(
    session: Session, placeholder: TaskInstance, count: int, now: datetime
) -> list[TaskInstance]:
    """Turn the placeholder into map index 0 and add indexes ``1..count-1``; return them all."""
    placeholder.map_index = 0
    placeholder.updated_at = now
    session.flush()  # the placeholder's new index first, then the new rows (unique key)
    added = [_copy(placeholder, index, now) for index in range(1, count)]
    session.add_all(added)
    session.flush()
    return [placeholder, *added]


def _copy(template: TaskInstance, map_index: int, now: datetime) -> TaskInstance:
    return TaskInstance(
        id=new_ti_id(),
        dag_id=template.dag_id,
        run_id=template.run_id,
        task_id=template.task_id,
        map_index=map_index,
        try_number=0,
        max_tries=template.max_tries,
        state=None,
        operator=template.operator,
        queue=template.queue,
        pool=template.pool,
        pool_slots=template.pool_slots,
        priority_weight=template.priority_weight,
        updated_at=now,
    )


def too_long_reason(task_id: str, count: int, limit: int) -> str:
    """The failure reason of a mapped task whose input is over ``max_map_length``."""
    return (
        f"task {task_id!r} would expand into {count} task instances, more than "
        f"max_map_length={limit}; split the input, or raise AIRLOCK_MAX_MAP_LENGTH"
    )
