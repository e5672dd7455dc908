"""Creating the DAG runs that schedules ask for.

For each active, unpaused DAG with a schedule, the latest scheduled run (by logical date) is
where its timetable continues from. Runs are created while they are due (``run_after <= now``)
and the DAG has fewer than ``max_active_runs`` queued or running runs; the next due run is
written to the DAG's row (``next_dagrun_*``) for listings. The DAG's row is locked with
``SKIP LOCKED`` while this happens, so two schedulers never create the same run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from airlock.db.models import DagModel, DagRun
from airlock.scheduling.dag_store import load_dag
from airlock.scheduling.dagruns import create_dag_run
from airlock.scheduling.timetables import Bounds, RunInfo, Timetable, timetable_for
from airlock.states import DagRunState

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session, sessionmaker

    from airlock.definitions.serialized import SerializedDag

SCHEDULED = "scheduled"
"""The ``run_type`` of runs the scheduler creates from a schedule."""

ACTIVE_RUN_STATES = (DagRunState.QUEUED, DagRunState.RUNNING)


@dataclass(frozen=True)
class CreatedRun:
    """A run the scheduler created."""

    dag_id: str
    run_id: str
    logical_date: datetime


def scheduled_run_id(logical_date: datetime) -> str:
    """The run id of a scheduled run: ``scheduled__<logical date>``."""
    return f"scheduled__{logical_date.isoformat()}"


def timetable_of(dag: SerializedDag) -> Timetable | None:
    """The timetable of a stored DAG, in its ``start_date``'s time zone."""
    zone: tzinfo = dag.start_date.tzinfo if dag.start_date and dag.start_date.tzinfo else UTC
    return timetable_for(dag.schedule, timezone=zone)


def create_scheduled_runs(sessions: sessionmaker[Session], now: datetime) -> list[CreatedRun]:
    """Create the due runs of every scheduled DAG; return them."""
    with sessions() as session:
        dag_ids = session.scalars(
            select(DagModel.dag_id).where(
                DagModel.is_active.is_(True),
                DagModel.is_paused.is_(False),
                DagModel.schedule.is_not(None),
            )
        ).all()
    created: list[CreatedRun] = []
    for dag_id in dag_ids:
        with sessions.begin() as session:
            created += _create_for(session, dag_id, now)
    return created


def _create_for(session: Session, dag_id: str, now: datetime) -> list[CreatedRun]:
    row = session.scalars(
        select(DagModel).where(DagModel.dag_id == dag_id).with_for_update(skip_locked=True)
    ).one_or_none()
    dag = load_dag(session, dag_id) if row is not None else None
    if row is None or dag is None or (timetable := timetable_of(dag)) is None:
        return []
    bounds = Bounds(earliest=dag.start_date, latest=dag.end_date, catchup=dag.catchup)
    last = _last_scheduled(session, dag_id)
    room = dag.max_active_runs - _active_runs(session, dag_id)
    created: list[CreatedRun] = []
    info = timetable.next_run(last, bounds, now)
    while info is not None and info.run_after <= now and room > 0:
        created.append(_create(session, dag, info))
        room -= 1
        info = timetable.next_run(info, bounds, now)
    _remember_next(row, info)
    return created


def _create(session: Session, dag: SerializedDag, info: RunInfo) -> CreatedRun:
    run = create_dag_run(
        session,
        dag,
        logical_date=info.logical_date,
        run_id=scheduled_run_id(info.logical_date),
        run_type=SCHEDULED,
        data_interval=(info.data_interval_start, info.data_interval_end),
    )
    return CreatedRun(dag.dag_id, run.run_id, info.logical_date)


def _last_scheduled(session: Session, dag_id: str) -> RunInfo | None:
    run = session.scalars(
        select(DagRun)
        .where(DagRun.dag_id == dag_id, DagRun.run_type == SCHEDULED)
        .order_by(DagRun.logical_date.desc())
        .limit(1)
    ).one_or_none()
    if run is None or run.logical_date is None:
        return None
    start = run.data_interval_start or run.logical_date
    end = run.data_interval_end or run.logical_date
    return RunInfo(run.logical_date, start, end, end)


def _active_runs(session: Session, dag_id: str) -> int:
    query = select(func.count()).where(DagRun.dag_id == dag_id, DagRun.state.in_(ACTIVE_RUN_STATES))
    return int(session.scalar(query) or 0)


def _remember_next(row: DagModel, info: RunInfo | None) -> None:
    row.next_dagrun_logical_date = info.logical_date if info else None
    row.next_dagrun_data_interval_start = info.data_interval_start if info else None
    row.next_dagrun_data_interval_end = info.data_interval_end if info else None
    row.next_dagrun_create_after = info.run_after if info else None
