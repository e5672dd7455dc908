"""The task instance state machine, as the Execution API drives it.

Every change is a conditional ``UPDATE ... WHERE id = :id AND state = :expected`` inside the
request's transaction, never a read followed by a write, so two racing requests cannot both
win. When the update matches no row, the answer says why:

* the id belongs to an archived try (in ``task_instance_history``): 410 ``task_instance_archived``;
* no task instance has the id: 404 ``task_instance_not_found``;
* otherwise the task instance is in another state: 409 ``invalid_state``.

The moves made here::

    queued  --/run-->  running  --/state-->  success | failed | skipped | up_for_retry

A try that ends up_for_retry is copied to ``task_instance_history`` under its id, and the live
row takes a new id for the next try, so the tokens of the old try stop working.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import exists, func, insert, select, update

from airlock.api.models import (
    DagRunInfo,
    HeartbeatRequest,
    TIFailed,
    TIRetry,
    TIRunContext,
    TIRunRequest,
    TISkipped,
    TIStateUpdate,
    TISuccess,
)
from airlock.db.models import DagRun, TaskInstance, TaskInstanceHistory
from airlock.server.errors import HTTPProblem
from airlock.states import DagRunState, TaskInstanceState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_COPIED_COLUMNS = [column.name for column in TaskInstance.__table__.columns]


def start(session: Session, ti_id: str, request: TIRunRequest) -> TIRunContext:
    """Move a queued try to running for the process in ``request``; return its run context.

    Repeating the request from the same host, user and pid while the try runs is answered
    again, so a supervisor may retry a ``/run`` whose answer it lost.

    Raises:
        HTTPProblem: 404, 409 or 410 as described in the module docstring.
    """
    now = datetime.now(UTC)
    moved = _move(
        session,
        ti_id,
        TaskInstanceState.QUEUED,
        state=TaskInstanceState.RUNNING,
        hostname=request.hostname,
        unixname=request.unixname,
        pid=request.pid,
        start_date=now,
        last_heartbeat_at=now,
        end_date=None,
        updated_at=now,
    )
    if not moved and not _is_same_process(session, ti_id, request):
        raise _refusal(session, ti_id, TaskInstanceState.QUEUED, TaskInstanceState.RUNNING)
    return _run_context(session, ti_id, now)


def finish(session: Session, ti_id: str, outcome: TIStateUpdate) -> None:
    """End a running try with ``outcome``; archive it and renew the id when it will retry.

    Raises:
        HTTPProblem: 404, 409 or 410 as described in the module docstring; a second report for
            the same try is a 409 and leaves the first outcome in place.
    """
    target, reason = _target_of(outcome)
    now = datetime.now(UTC)
    moved = _move(
        session,
        ti_id,
        TaskInstanceState.RUNNING,
        state=target,
        end_date=now,
        failure_reason=reason,
        next_retry_at=None,
        updated_at=now,
    )
    if not moved:
        raise _refusal(session, ti_id, TaskInstanceState.RUNNING, target)
    if target == TaskInstanceState.UP_FOR_RETRY:
        _archive_and_renew(session, ti_id)


def heartbeat(session: Session, ti_id: str, beat: HeartbeatRequest) -> None:
    """Record that the running try is alive in the process named by ``beat``.

    Raises:
        HTTPProblem: 404 or 410; 409 ``not_running`` when the try is not running, 409
            ``running_elsewhere`` when another host or pid started it.
    """
    result = session.connection().execute(
        update(TaskInstance)
        .where(
            TaskInstance.id == ti_id,
            TaskInstance.state == TaskInstanceState.RUNNING,
            TaskInstance.hostname == beat.hostname,
            TaskInstance.pid == beat.pid,
        )
        .values(last_heartbeat_at=datetime.now(UTC))
    )
    if result.rowcount != 1:
        raise _heartbeat_refusal(session, ti_id, beat)


def is_archived(session: Session, ti_id: str) -> bool:
    """Whether ``ti_id`` is an earlier try, archived to ``task_instance_history``."""
    return bool(session.scalar(select(exists().where(TaskInstanceHistory.id == ti_id))))


def archived_problem(ti_id: str) -> HTTPProblem:
    """The 410 answer for a request that acts for an archived try."""
    return HTTPProblem(
        HTTPStatus.GONE,
        "task_instance_archived",
        f"task instance {ti_id} is an earlier try, archived when it ended up_for_retry; "
        "it can do nothing more",
    )


def _refusal(
    session: Session, ti_id: str, expected: TaskInstanceState, target: TaskInstanceState
) -> HTTPProblem:
    """Explain why moving ``ti_id`` from ``expected`` to ``target`` matched no row."""
    current = _current(session, ti_id)
    if current is None:
        return _missing(session, ti_id)
    return HTTPProblem(
        HTTPStatus.CONFLICT,
        "invalid_state",
        f"task instance {ti_id} is {current.state or 'without a state'}, so it cannot move "
        f"to {target}: only a {expected} task instance can",
    )


def _move(session: Session, ti_id: str, expected: TaskInstanceState, **values: Any) -> bool:
    result = session.connection().execute(
        update(TaskInstance)
        .where(TaskInstance.id == ti_id, TaskInstance.state == expected)
        .values(**values)
    )
    return result.rowcount == 1


class _Current(NamedTuple):
    """What a task instance is doing now, and in which process."""

    state: str | None
    hostname: str | None
    unixname: str | None
    pid: int | None


def _current(session: Session, ti_id: str) -> _Current | None:
    query = select(
        TaskInstance.state, TaskInstance.hostname, TaskInstance.unixname, TaskInstance.pid
    ).where(TaskInstance.id == ti_id)
    row = session.execute(query).one_or_none()
    return None if row is None else _Current(*row)


def _missing(session: Session, ti_id: str) -> HTTPProblem:
    if is_archived(session, ti_id):
        return archived_problem(ti_id)
    return HTTPProblem(
        HTTPStatus.NOT_FOUND,
        "task_instance_not_found",
        f"no task instance has id {ti_id}",
    )


def _is_same_process(session: Session, ti_id: str, request: TIRunRequest) -> bool:
    current = _current(session, ti_id)
    return current == _Current(
        TaskInstanceState.RUNNING, request.hostname, request.unixname, request.pid
    )


def _run_context(session: Session, ti_id: str, now: datetime) -> TIRunContext:
    ti = session.get_one(TaskInstance, ti_id)
    session.connection().execute(
        update(DagRun)
        .where(
            DagRun.dag_id == ti.dag_id,
            DagRun.run_id == ti.run_id,
            DagRun.state == DagRunState.QUEUED,
        )
        .values(state=DagRunState.RUNNING, start_date=func.coalesce(DagRun.start_date, now))
    )
    run = session.scalars(
        select(DagRun).where(DagRun.dag_id == ti.dag_id, DagRun.run_id == ti.run_id)
    ).one()
    return TIRunContext(dag_run=dag_run_info(run), try_number=ti.try_number, max_tries=ti.max_tries)


def dag_run_info(run: DagRun) -> DagRunInfo:
    """The DAG run as a task (or a DAG callback) sees it."""
    return DagRunInfo(
        dag_id=run.dag_id,
        run_id=run.run_id,
        run_type=run.run_type,
        logical_date=run.logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        start_date=run.start_date,
        conf=run.conf,
    )


def _target_of(outcome: TIStateUpdate) -> tuple[TaskInstanceState, str | None]:
    match outcome:
        case TISuccess():
            return TaskInstanceState.SUCCESS, None
        case TIFailed(reason=reason):
            return TaskInstanceState.FAILED, reason
        case TISkipped(reason=reason):
            return TaskInstanceState.SKIPPED, reason
        case TIRetry(reason=reason):
            return TaskInstanceState.UP_FOR_RETRY, reason


def _archive_and_renew(session: Session, ti_id: str) -> str:
    live = TaskInstance.__table__
    copy = insert(TaskInstanceHistory).from_select(
        _COPIED_COLUMNS,
        select(*(live.c[name] for name in _COPIED_COLUMNS)).where(live.c.id == ti_id),
    )
    new_id = str(uuid.uuid4())
    session.connection().execute(copy)
    session.connection().execute(
        update(TaskInstance).where(TaskInstance.id == ti_id).values(id=new_id)
    )
    return new_id


def _heartbeat_refusal(session: Session, ti_id: str, beat: HeartbeatRequest) -> HTTPProblem:
    current = _current(session, ti_id)
    if current is None:
        return _missing(session, ti_id)
    if current.state != TaskInstanceState.RUNNING:
        return HTTPProblem(
            HTTPStatus.CONFLICT,
            "not_running",
            f"task instance {ti_id} is {current.state or 'without a state'}, not running",
        )
    return HTTPProblem(
        HTTPStatus.CONFLICT,
        "running_elsewhere",
        f"task instance {ti_id} runs as pid {current.pid} on {current.hostname!r}, "
        f"not as pid {beat.pid} on {beat.hostname!r}",
    )
