"""Operator actions on the database: trigger a DAG, pause it, clear task instances.

The control-plane commands (``airlock dags trigger``, ``airlock tasks clear``...) call these
directly on the database; the scheduler picks up what they did on its next loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update

from airlock.db.models import DagModel, DagRun, TaskInstance, XCom
from airlock.exceptions import AirlockError
from airlock.scheduling.dag_store import load_dag
from airlock.scheduling.dagruns import create_dag_run, manual_run_id
from airlock.scheduling.run_creation import timetable_of
from airlock.scheduling.tries import archive, renew
from airlock.states import DagRunState
from airlock.states import TaskInstanceState as TIState

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.orm import Session

    from airlock.definitions.serialized import SerializedDag


class NotFoundError(AirlockError):
    """The DAG, run or task named does not exist."""


@dataclass(frozen=True)
class ClearedTry:
    """A task instance made to run again."""

    task_id: str
    map_index: int
    previous_state: str | None
    try_number: int


def known_dag(session: Session, dag_id: str) -> SerializedDag:
    """Return the stored DAG ``dag_id``.

    Raises:
        NotFoundError: the scheduler has not stored such a DAG.
    """
    dag = load_dag(session, dag_id)
    if dag is None:
        known = session.scalars(select(DagModel.dag_id).order_by(DagModel.dag_id)).all()
        raise NotFoundError(
            f"no DAG {dag_id!r} is known (known: {', '.join(known) or 'none'}); the scheduler "
            "stores the DAGs of its DAGs folder when it parses them"
        )
    return dag


def trigger_dag(
    session: Session,
    dag_id: str,
    *,
    conf: dict[str, Any] | None = None,
    run_id: str | None = None,
    logical_date: datetime | None = None,
) -> DagRun:
    """Create a manual run of ``dag_id``; the scheduler runs it like any other.

    Raises:
        NotFoundError: the DAG is not known.
        DagRunExistsError: the run id is taken.
    """
    dag = known_dag(session, dag_id)
    when = logical_date or datetime.now(UTC)
    timetable = timetable_of(dag)
    interval = timetable.manual_interval(when) if timetable is not None else (when, when)
    return create_dag_run(
        session,
        dag,
        logical_date=when,
        run_id=run_id or manual_run_id(when),
        conf=conf,
        data_interval=interval,
    )


def set_paused(session: Session, dag_id: str, *, paused: bool) -> None:
    """Pause or unpause ``dag_id``.

    Raises:
        NotFoundError: the DAG is not known.
    """
    result = session.execute(
        update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        known_dag(session, dag_id)


def clear_task_instances(
    session: Session,
    dag_id: str,
    run_id: str,
    *,
    task_ids: Iterable[str] | None = None,
    downstream: bool = False,
) -> list[ClearedTry]:
    """Make task instances of one run run again; the run goes back to queued.

    Each chosen task instance that has run is archived to the history and reset under a new
    id (a running one is thereby stopped: its supervisor is refused at the next heartbeat);
    its XComs are deleted and it gets its retries again. Unknown task ids are an error.

    Raises:
        NotFoundError: the DAG, the run or a task id does not exist.
    """
    dag = known_dag(session, dag_id)
    run = session.scalars(
        select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id).with_for_update()
    ).one_or_none()
    if run is None:
        raise NotFoundError(f"DAG {dag_id!r} has no run {run_id!r}")
    chosen = _chosen_tasks(dag, task_ids, downstream=downstream)
    tis = session.scalars(
        select(TaskInstance).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id.in_(chosen),
        )
    ).all()
    cleared = [_clear(session, dag, ti) for ti in tis]
    run.state = DagRunState.QUEUED
    run.end_date = None
    return cleared


def _chosen_tasks(
    dag: SerializedDag, task_ids: Iterable[str] | None, *, downstream: bool
) -> set[str]:
    known = {task.task_id for task in dag.tasks}
    chosen = set(task_ids) if task_ids else set(known)
    if unknown := chosen - known:
        raise NotFoundError(f"DAG {dag.dag_id!r} has no task {', '.join(sorted(unknown))}")
    while downstream:
        more = {t.task_id for t in dag.tasks if chosen & set(t.upstream_task_ids)} - chosen
        if not more:
            break
        chosen |= more
    return chosen


def _clear(session: Session, dag: SerializedDag, ti: TaskInstance) -> ClearedTry:
    done = ClearedTry(ti.task_id, ti.map_index, ti.state, ti.try_number)
    session.expunge(ti)  # the row changes under the ORM: forget the stale object
    now = datetime.now(UTC)
    if done.previous_state is not None and done.try_number > 0:
        overrides: dict[str, Any] = {}
        if done.previous_state in (TIState.RUNNING, TIState.QUEUED):
            overrides = {"state": TIState.FAILED, "failure_reason": "cleared while it was active"}
        archive(session, ti.id, **overrides)
    session.execute(
        delete(XCom).where(
            XCom.dag_id == ti.dag_id,
            XCom.run_id == ti.run_id,
            XCom.task_id == ti.task_id,
            XCom.map_index == ti.map_index,
        )
    )
    renew(
        session,
        ti.id,
        state=None,
        max_tries=done.try_number + dag.task(ti.task_id).retries,
        start_date=None,
        end_date=None,
        queued_at=None,
        hostname=None,
        pid=None,
        last_heartbeat_at=None,
        failure_reason=None,
        claimed_by=None,
        claimed_at=None,
        updated_at=now,
    )
    return done
