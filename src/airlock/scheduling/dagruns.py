"""Creating a DAG run and its task instances."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from airlock.db.models import DagRun, TaskInstance
from airlock.exceptions import AirlockError
from airlock.scheduling.run_params import check_run_params
from airlock.states import DagRunState

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from airlock.definitions.serialized import SerializedDag


class DagRunExistsError(AirlockError):
    """A DAG run with this run id already exists."""


def new_ti_id() -> str:
    """A fresh task instance (try) id."""
    return str(uuid.uuid4())


def manual_run_id(logical_date: datetime) -> str:
    """The run id of a manually started run: ``manual__<logical date>``."""
    return f"manual__{logical_date.isoformat()}"


def create_dag_run(
    session: Session,
    dag: SerializedDag,
    *,
    logical_date: datetime,
    run_id: str | None = None,
    run_type: str = "manual",
    conf: dict[str, Any] | None = None,
    data_interval: tuple[datetime, datetime] | None = None,
) -> DagRun:
    """Create a queued DAG run of ``dag`` and one task instance per task.

    ``data_interval`` defaults to the empty interval at ``logical_date``.

    Raises:
        DagRunExistsError: the DAG already has a run with this run id.
        ParamValidationError: the params, with ``conf`` over their defaults, are not valid.
    """
    check_run_params(dag, conf or {})
    run_id = run_id or manual_run_id(logical_date)
    exists = select(DagRun.id).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id)
    if session.scalar(exists) is not None:
        raise DagRunExistsError(f"DAG {dag.dag_id!r} already has a run {run_id!r}")
    now = datetime.now(UTC)
    run = DagRun(
        dag_id=dag.dag_id,
        run_id=run_id,
        run_type=run_type,
        state=DagRunState.QUEUED,
        logical_date=logical_date,
        data_interval_start=data_interval[0] if data_interval else logical_date,
        data_interval_end=data_interval[1] if data_interval else logical_date,
        conf=conf or {},
        created_at=now,
    )
    session.add(run)
    session.flush()
    session.add_all(_task_instances(dag, run_id, now))
    return run


def _task_instances(dag: SerializedDag, run_id: str, now: datetime) -> list[TaskInstance]:
    return [
        TaskInstance(
            id=new_ti_id(),
            dag_id=dag.dag_id,
            run_id=run_id,
            task_id=task.task_id,
            map_index=-1,
            try_number=0,
            max_tries=task.retries,
            state=None,
            operator=task.operator,
            queue=task.queue,
            pool=task.pool,
            pool_slots=task.pool_slots,
            priority_weight=task.priority_weight,
            updated_at=now,
        )
        for task in dag.tasks
    ]
